// The public measurement data sets besides OONI, read into the facts of an OONI measurement (ooni/measurement.h)
// so that one analysis judges them all with the same rules, trust store and registry, each at its own time:
//  - Censored Planet Hyperquack HTTPS, v1 (`Server`, `Keyword`, `Results[].Received.tls.cert`) and v2 (`vp`,
//    `test_url`, `response[].response.Certificate`, `matches_template`, `controls_failed`): the leaf only. The
//    remote vantage point is the server itself, so the address is the vantage point's and the network is its AS.
//    Control responses are not handshakes of their own; they make the template each answer is compared with.
//  - Censored Planet Satellite v2 page fetches (blockpages.json: `ip`, `keyword`, `https.Certificate[]`, the
//    chain since 2022-06): the address came from a DNS answer that did not match the control resolvers'.
//  - RIPE Atlas `sslcert` results (`cert[]` PEM chain, `dst_addr`, `dst_name`, `prb_id`, `from`, `alert`, `err`,
//    `timestamp`), one per line or a JSON array of them: the whole chain as the probe saw it, no control.
//  - OONI's tlsmiddlebox measurements (`test_keys.iterative_trace`: a control and a target name's TTL-limited
//    handshakes and a TCP traceroute), whose traces trace/locate judges as `trace`'s own.
//  - ZGrab2 output of any module that carries a TLS log (`data.<module>.result...handshake_log` with
//    `server_hello` and `server_certificates.{certificate,chain}`): the whole chain, no control.
// A record's source is recognised by its fields, not by the file's name. Views in the facts point into the parser
// and into the reader's scratch strings: valid until the next read.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "core/error.h"
#include "ooni/measurement.h"

namespace simdjson::dom {
class element;
class parser;
}  // namespace simdjson::dom

namespace mitmscope::ooni {

// "2022-06-26 12:37:45.45643359 -0400 EDT m=+45402.04" (Go's time.String, Satellite) -> UTC; RFC 3339 is accepted
// too.
std::optional<UtcSeconds> parse_go_time(std::string_view text);

// A PEM certificate's base64 body without armour and line breaks ("" when there is none).
std::string pem_body(std::string_view pem);
void pem_body_into(std::string_view pem, std::string& out);

class SourceReader {
 public:
  SourceReader();
  ~SourceReader();
  SourceReader(const SourceReader&) = delete;
  SourceReader& operator=(const SourceReader&) = delete;

  // Called once per record: the facts (valid during the call), or why the record was skipped (the field named).
  // `element` counts the records of a top-level array from 1 (0: the document is the record).
  using RecordCallback = std::function<void(size_t element, Result<MeasurementFacts*> record)>;

  // The source of the first record of `json` (a line or a document; `capacity` bytes readable, at least
  // MeasurementReader::kPadding past `length`); an error when it is not JSON or none of the known sources.
  Result<DataSource> detect(const char* json, size_t length, size_t capacity);

  // Every record of `json`: the document itself, or each element of a top-level array. OONI measurements met
  // here (an array of them) are handed to `ooni_record` as minified JSON instead. A document that is not JSON is
  // one error.
  Result<void> read(const char* json, size_t length, size_t capacity, const RecordCallback& record,
                    const std::function<void(size_t element, std::string_view ooni_json)>& ooni_record);

 private:
  Result<void> read_record(simdjson::dom::element record, DataSource source);
  Result<void> read_atlas(simdjson::dom::element record);
  Result<void> read_hyperquack_v1(simdjson::dom::element record);
  Result<void> read_hyperquack_v2(simdjson::dom::element record);
  Result<void> read_satellite(simdjson::dom::element record);
  Result<void> read_zgrab2(simdjson::dom::element record);
  Result<void> read_tlsmiddlebox(simdjson::dom::element record);   // OONI's, whose traces the On Demand walk skips
  // Into the scratch strings, reused record after record (a deque: what was kept does not move).
  std::string& next_scratch();
  simdjson::dom::parser& parser();
  std::string_view keep(std::string_view text);
  std::string_view keep_pem(std::string_view pem);  // the base64 body

  std::unique_ptr<simdjson::dom::parser> parser_;
  MeasurementFacts facts_;
  std::deque<std::string> scratch_;
  size_t scratch_used_ = 0;
};

}  // namespace mitmscope::ooni
