// One OONI measurement, read with simdjson's on-demand parser into the few facts the
// interception analysis needs: who measured (time, country, network), what (input,
// test), every TLS handshake (address, SNI, failure, version, cipher, the peer
// certificates as the probe archived them: the whole chain on success, only the leaf
// when verification failed), the probe's DNS answers and the test helper's view
// (its DNS addresses, its own TLS handshake per address, its HTTP fetch).
//
// Fields are read in document order, whatever order the writer chose, and everything
// else (bodies, network events) is skipped without being decoded. The facts are views
// into the parser's buffers: valid until the parser reads the next line. Mapping a line
// allocates nothing once the vectors of a MeasurementReader have grown.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace mitmscope::ooni {

// Where a measurement comes from: OONI, or another public data set read into the same facts (ooni/sources.h).
enum class DataSource : uint8_t { kOoni, kHyperquackV1, kHyperquackV2, kSatellite, kAtlas, kZgrab2 };
inline constexpr DataSource kEveryDataSource[] = {DataSource::kOoni,      DataSource::kHyperquackV1, DataSource::kHyperquackV2,
                                                  DataSource::kSatellite, DataSource::kAtlas,        DataSource::kZgrab2};
// "ooni", "hyperquack-v1", "hyperquack-v2", "satellite", "atlas-sslcert", "zgrab2"
std::string_view data_source_name(DataSource source);

struct HandshakeFacts {
  std::string_view address;          // "ip:port"; empty when the test does not record it (signal)
  std::string_view server_name;
  std::string_view failure;          // empty: success
  std::string_view tls_version;
  std::string_view cipher_suite;
  bool no_tls_verify = false;
  double t = 0;                      // seconds since the measurement started
  size_t first_certificate = 0;      // [first, first + count) in MeasurementFacts::certificates
  size_t certificate_count = 0;
  // Censored Planet: whether this answer matched the host's answer to the control names (its template);
  // nullopt when the source has no template.
  std::optional<bool> matches_template;
};

// When a handshake happened: the measurement's start plus the handshake's offset `t`, in whole seconds. An offset no
// measurement has (not a number, negative, or over a day: broken or hostile input) counts as 0, the start.
UtcSeconds handshake_time(UtcSeconds start, double offset);

// OONI's tlsmiddlebox test: one address traced with TTL-limited ClientHellos for a control name and a target name,
// and a TCP traceroute of it.
struct MiddleboxHop {
  int ttl = 0;
  std::string_view failure, so_error;     // failure empty: the handshake completed
  std::optional<size_t> handshake;        // index in MeasurementFacts::handshakes when certificates were presented
};
struct MiddleboxPathHop {
  int ttl = 0;
  int icmp_type = -1;                     // 11: time exceeded
  std::string_view router;                // the ICMP sender (OONI keeps its /24 prefix)
  bool reached = false;                   // the TCP handshake reached the address
};
struct MiddleboxTrace {
  std::string_view address, target_sni, control_sni;
  std::vector<MiddleboxHop> target, control;
  std::vector<MiddleboxPathHop> path;
};

struct DnsAnswer {
  std::string_view hostname;
  std::string_view address;
};

struct ControlTls {
  std::string_view address;          // "ip:port"
  std::string_view server_name;
  bool status = false;
  std::string_view failure;
};

struct MeasurementFacts {
  DataSource source = DataSource::kOoni;
  std::string_view vantage;          // who measured, beside the network: a RIPE Atlas probe, a Censored Planet vantage point
  std::string_view network_address;  // an address whose AS is the measurement's network, when probe_asn is not given
  std::string_view measurement_start_time;
  UtcSeconds start{};
  std::string_view probe_cc;
  uint32_t probe_asn = 0;
  std::string_view probe_network_name;
  std::string_view input;            // the URL measured; empty for tests without one
  std::string_view test_name;
  std::string_view test_version;
  std::string_view report_id;
  std::string_view measurement_uid;  // absent in raw data; the API adds it
  std::string_view dns_consistency;  // test_keys.dns_consistency ("consistent", "inconsistent"), may be empty
  std::vector<HandshakeFacts> handshakes;
  std::vector<std::string_view> certificates;  // base64 DER, leaf first per handshake
  std::vector<DnsAnswer> dns_answers;          // A/AAAA answers of the probe's resolvers
  bool has_control = false;
  std::vector<std::string_view> control_addresses;  // control.dns.addrs
  std::vector<ControlTls> control_tls;               // control.tls_handshake
  std::optional<bool> control_http_ok;               // control.http_request.failure == null
  std::vector<MiddleboxTrace> middlebox;             // tlsmiddlebox: test_keys.iterative_trace

  void clear();
};

// The host of a URL ("https://www.example.com:8443/x" -> "www.example.com"), lower case.
std::string url_host(std::string_view url);

// "AS30722" -> 30722; 0 when malformed or absent.
uint32_t parse_asn(std::string_view text);

// Reads one measurement at a time; one reader per thread.
class MeasurementReader {
 public:
  MeasurementReader();
  ~MeasurementReader();
  MeasurementReader(const MeasurementReader&) = delete;
  MeasurementReader& operator=(const MeasurementReader&) = delete;

  // `json` must be followed by at least kPadding readable bytes (whatever they hold).
  // On error the message names the field that was wrong.
  Result<void> read(const char* json, size_t length, size_t capacity, MeasurementFacts& facts);
  static constexpr size_t kPadding = 64;

 private:
  std::unique_ptr<class MeasurementWalker> walker_;
};

}  // namespace mitmscope::ooni
