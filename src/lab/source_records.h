// One TLS observation written as each public data source writes it (the shapes of the real samples in
// tests/data/source-samples): RIPE Atlas sslcert, Censored Planet Hyperquack v1 and v2, Satellite page fetches,
// ZGrab2, and an OONI web_connectivity measurement of it. The lab's corpus (lab/ooni_corpus) writes the kz-2021
// campaign's records in these formats beside OONI's; the unit tests and tests/ooni/source_corpus make campaigns
// with ground truth in every format from them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"

namespace mitmscope::lab {

enum class RecordFormat { kAtlas, kHyperquackV1, kHyperquackV2, kSatellite, kZgrab2 };
inline constexpr RecordFormat kEveryRecordFormat[] = {RecordFormat::kAtlas, RecordFormat::kHyperquackV1,
                                                      RecordFormat::kHyperquackV2, RecordFormat::kSatellite,
                                                      RecordFormat::kZgrab2};

// The name `ooni` reports the source by (and the corpus's directory): "atlas-sslcert", "hyperquack-v1", ...
std::string_view record_format_name(RecordFormat format);

struct SourceRecord {
  UtcSeconds time{};
  std::string vantage_ip;            // Atlas: the probe's address; Censored Planet and ZGrab2: the host measured
  std::string country;               // Hyperquack v2's location
  std::string server_ip;             // Atlas: the address connected to (the others connect to vantage_ip)
  std::string sni;
  std::vector<std::string> chain;    // base64 DER, leaf first (Hyperquack keeps the leaf only)
  bool matches_template = false;     // Censored Planet: the answer equals the answer to the control names
  bool controls_failed = false;
  int probe = 1000;                  // Atlas probe id
};

std::string pem_of(const std::string& base64);
// Go's time.String in a -04:00 zone, as Satellite writes it.
std::string go_time(UtcSeconds time);
// RFC 3339 in a -05:00 zone with nanoseconds, as Hyperquack writes it.
std::string offset_time(UtcSeconds time);

nlohmann::json atlas_json(const SourceRecord& record);
nlohmann::json hyperquack_v1_json(const SourceRecord& record);
nlohmann::json hyperquack_v2_json(const SourceRecord& record);
nlohmann::json satellite_json(const SourceRecord& record);
nlohmann::json zgrab2_json(const SourceRecord& record);
// An OONI web_connectivity measurement of the same handshake as a probe archives it when verification fails: the
// leaf alone, `ssl_unknown_authority`, DNS consistent with the control, the control's own handshake successful.
nlohmann::json ooni_json(const SourceRecord& record);
nlohmann::json record_json(RecordFormat format, const SourceRecord& record);

}  // namespace mitmscope::lab
