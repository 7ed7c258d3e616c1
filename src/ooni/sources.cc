#include "ooni/sources.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "engine/endpoint.h"
#include "tls/server_hello.h"

namespace mitmscope::ooni {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr size_t kMaxZgrabDepth = 8;   // how deep a module's result is searched for a TLS log

// A string field, or empty when it is absent, null or not a string.
std::string_view text_of(element record, std::string_view key) {
  std::string_view out;
  if (record[key].get_string().get(out)) return {};
  return out;
}

std::optional<int64_t> integer_of(element record, std::string_view key) {
  int64_t out = 0;
  if (!record[key].get_int64().get(out)) return out;
  double real = 0;
  constexpr double kBeyondInt64 = 0x1p63;   // a double outside [-2^63, 2^63) has no int64 (the cast would be undefined)
  if (!record[key].get_double().get(real) && real >= -kBeyondInt64 && real < kBeyondInt64) return static_cast<int64_t>(real);
  return std::nullopt;
}

std::optional<bool> bool_of(element record, std::string_view key) {
  bool out = false;
  if (record[key].get_bool().get(out)) return std::nullopt;
  return out;
}

bool has(element record, std::string_view key) { return !record[key].error(); }

Error missing(std::string_view source, std::string_view field) {
  return {ErrorCode::kParseError, fmt::format("{}: field {} missing or of the wrong type", source, field)};
}

std::string host_port(std::string_view ip, std::string_view port) {
  return ip.find(':') != std::string_view::npos ? fmt::format("[{}]:{}", ip, port) : fmt::format("{}:{}", ip, port);
}

// Censored Planet's control names: "control-<hex>.com" (v2) and "example<digits>.com" (v1).
bool is_control_name(std::string_view name) {
  if (name.starts_with("control-")) return true;
  if (!name.starts_with("example") || !name.ends_with(".com")) return false;
  const std::string_view digits = name.substr(7, name.size() - 11);
  return !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::optional<DataSource> source_of(element record) {
  if (record.type() != simdjson::dom::element_type::OBJECT) return std::nullopt;
  if (has(record, "test_keys") && has(record, "measurement_start_time")) return DataSource::kOoni;
  if (text_of(record, "type") == "sslcert" || (has(record, "prb_id") && has(record, "cert"))) return DataSource::kAtlas;
  if (has(record, "Server") && has(record, "Keyword") && has(record, "Results")) return DataSource::kHyperquackV1;
  if (has(record, "vp") && has(record, "test_url") && has(record, "response")) return DataSource::kHyperquackV2;
  if (has(record, "keyword") && has(record, "ip") && has(record, "https")) return DataSource::kSatellite;
  if (has(record, "data") && (has(record, "ip") || has(record, "domain"))) return DataSource::kZgrab2;
  return std::nullopt;
}

// The certificates of a handshake: a base64 string, or an array of them (leaf first), or PEM texts.
void add_certificates(MeasurementFacts& facts, HandshakeFacts& handshake, element value,
                      const std::function<std::string_view(std::string_view)>& certificate_text) {
  handshake.first_certificate = facts.certificates.size();
  auto one = [&](element item) {
    std::string_view text;
    if (item.get_string().get(text) || text.empty()) return;
    facts.certificates.push_back(certificate_text(text));
  };
  array items;
  if (!value.get_array().get(items)) {
    for (element item : items) one(item);
  } else {
    one(value);
  }
  handshake.certificate_count = facts.certificates.size() - handshake.first_certificate;
}

// Seconds of `time` after the measurement's start (handshake.t).
double seconds_after(UtcSeconds start, std::optional<UtcSeconds> time) {
  return time ? static_cast<double>(std::max<int64_t>(0, (*time - start).count())) : 0.0;
}

}  // namespace

std::optional<UtcSeconds> parse_go_time(std::string_view text) {
  // "DATE TIME[.frac] -0400 EDT m=+..." -> "DATETTIME[.frac]-04:00"
  const size_t first = text.find(' ');
  const size_t second = first == std::string_view::npos ? first : text.find(' ', first + 1);
  if (second == std::string_view::npos) {
    auto parsed = parse_utc(text);
    return parsed ? std::optional(*parsed) : std::nullopt;
  }
  const std::string_view date = text.substr(0, first), time = text.substr(first + 1, second - first - 1);
  std::string_view zone = text.substr(second + 1);
  zone = zone.substr(0, zone.find(' '));
  if (zone.size() != 5 || (zone[0] != '+' && zone[0] != '-')) return std::nullopt;
  auto parsed = parse_utc(fmt::format("{}T{}{}:{}", date, time, zone.substr(0, 3), zone.substr(3)));
  return parsed ? std::optional(*parsed) : std::nullopt;
}

void pem_body_into(std::string_view pem, std::string& out) {
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----", kEnd = "-----END CERTIFICATE-----";
  out.clear();
  const size_t begin = pem.find(kBegin);
  if (begin == std::string_view::npos) return;
  pem.remove_prefix(begin + kBegin.size());
  pem = pem.substr(0, pem.find(kEnd));
  out.resize(pem.size());
  // Base64 lines (64 characters) copied whole, each trimmed of the spaces and carriage return around it.
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  size_t used = 0;
  for (const char *at = pem.data(), *end = pem.data() + pem.size(); at < end;) {
    const char* line_end = static_cast<const char*>(std::memchr(at, '\n', static_cast<size_t>(end - at)));
    const char* next = line_end ? line_end + 1 : end;
    if (!line_end) line_end = end;
    while (at < line_end && blank(*at)) ++at;
    while (line_end > at && blank(line_end[-1])) --line_end;
    std::memcpy(out.data() + used, at, static_cast<size_t>(line_end - at));
    used += static_cast<size_t>(line_end - at);
    at = next;
  }
  out.resize(used);
}

std::string pem_body(std::string_view pem) {
  std::string out;
  pem_body_into(pem, out);
  return out;
}

SourceReader::SourceReader() = default;

// Made at the first record of another source: an analysis of OONI files alone never needs it.
simdjson::dom::parser& SourceReader::parser() {
  if (!parser_) parser_ = std::make_unique<simdjson::dom::parser>();
  return *parser_;
}
SourceReader::~SourceReader() = default;

std::string& SourceReader::next_scratch() {
  if (scratch_used_ == scratch_.size()) scratch_.emplace_back();
  return scratch_[scratch_used_++];
}

std::string_view SourceReader::keep(std::string_view text) { return next_scratch().assign(text); }

std::string_view SourceReader::keep_pem(std::string_view pem) {
  std::string& slot = next_scratch();
  pem_body_into(pem, slot);
  return slot;
}

Result<DataSource> SourceReader::detect(const char* json, size_t length, size_t capacity) {
  element document;
  if (capacity < length + simdjson::SIMDJSON_PADDING) return make_error(ErrorCode::kParseError, "input not padded");
  if (auto code = parser().parse(json, length, false).get(document)) {
    return make_error(ErrorCode::kParseError, fmt::format("not JSON: {}", simdjson::error_message(code)));
  }
  element first = document;
  array elements;
  if (!document.get_array().get(elements)) {
    auto begin = elements.begin();
    if (begin == elements.end()) return make_error(ErrorCode::kParseError, "an empty array");
    first = *begin;
  }
  if (auto source = source_of(first)) return *source;
  return make_error(ErrorCode::kParseError,
                    "not a measurement of a known source (OONI, Censored Planet Hyperquack or Satellite, RIPE Atlas "
                    "sslcert, ZGrab2)");
}

Result<void> SourceReader::read(const char* json, size_t length, size_t capacity, const RecordCallback& record_done,
                                const std::function<void(size_t, std::string_view)>& ooni_record) {
  element document;
  if (capacity < length + simdjson::SIMDJSON_PADDING) return make_error(ErrorCode::kParseError, "input not padded");
  if (auto code = parser().parse(json, length, false).get(document)) {
    return make_error(ErrorCode::kParseError, fmt::format("not JSON: {}", simdjson::error_message(code)));
  }
  auto one = [&](element record, size_t index) {
    const auto source = source_of(record);
    if (source == DataSource::kOoni && text_of(record, "test_name") != "tlsmiddlebox") {
      ooni_record(index, simdjson::minify(record));
      return;
    }
    if (!source) {
      record_done(index, make_error(ErrorCode::kParseError, "not a measurement of a known source"));
      return;
    }
    if (auto read = read_record(record, *source); !read) {
      record_done(index, std::unexpected(read.error()));
      return;
    }
    record_done(index, &facts_);
  };
  array elements;
  if (document.get_array().get(elements)) {
    one(document, 0);
    return {};
  }
  size_t index = 0;
  for (element record : elements) one(record, ++index);
  return {};
}

Result<void> SourceReader::read_record(element record, DataSource source) {
  facts_.clear();
  scratch_used_ = 0;
  facts_.source = source;
  switch (source) {
    case DataSource::kAtlas: return read_atlas(record);
    case DataSource::kHyperquackV1: return read_hyperquack_v1(record);
    case DataSource::kHyperquackV2: return read_hyperquack_v2(record);
    case DataSource::kSatellite: return read_satellite(record);
    case DataSource::kZgrab2: return read_zgrab2(record);
    case DataSource::kOoni: return read_tlsmiddlebox(record);   // the other OONI tests: ooni/measurement
  }
  return make_error(ErrorCode::kParseError, "unknown source");
}

namespace {

// A RIPE Atlas result's fields, found in one pass over its object (a lookup per field would scan the keys each time).
struct AtlasFields {
  std::optional<int64_t> timestamp, probe, measurement;
  std::string_view address, from, source, name, port, version, cipher, error;
  std::optional<element> certificates, alert;
};

AtlasFields atlas_fields(element record) {
  AtlasFields fields;
  object members;
  if (record.get_object().get(members)) return fields;
  for (auto [key, value] : members) {
    std::string_view text;
    const bool is_text = !value.get_string().get(text);
    int64_t number = 0;
    const bool is_number = !value.get_int64().get(number);
    if (key == "timestamp" && is_number) fields.timestamp = number;
    else if (key == "prb_id" && is_number) fields.probe = number;
    else if (key == "msm_id" && is_number) fields.measurement = number;
    else if (key == "dst_addr" && is_text) fields.address = text;
    else if (key == "from" && is_text) fields.from = text;
    else if (key == "src_addr" && is_text) fields.source = text;
    else if (key == "dst_name" && is_text) fields.name = text;
    else if (key == "dst_port" && is_text) fields.port = text;
    else if (key == "ver" && is_text) fields.version = text;
    else if (key == "server_cipher" && is_text) fields.cipher = text;
    else if ((key == "err" || (key == "error" && fields.error.empty())) && is_text) fields.error = text;
    else if (key == "cert") fields.certificates = value;
    else if (key == "alert") fields.alert = value;
  }
  return fields;
}

}  // namespace

// RIPE Atlas sslcert: https://atlas.ripe.net/docs/apis/result-format/ (sslcert).
Result<void> SourceReader::read_atlas(element record) {
  const AtlasFields fields = atlas_fields(record);
  if (!fields.timestamp) return std::unexpected(missing("RIPE Atlas sslcert", "timestamp"));
  if (fields.address.empty()) return std::unexpected(missing("RIPE Atlas sslcert", "dst_addr"));
  facts_.start = UtcSeconds{std::chrono::seconds{*fields.timestamp}};   // the analysis reads `start`; no text is made
  facts_.vantage = keep(fmt::format("atlas probe {}", fields.probe.value_or(0)));
  facts_.network_address = fields.from.empty() ? fields.source : fields.from;
  facts_.test_name = "sslcert";
  facts_.report_id = keep(fmt::format("atlas msm {}", fields.measurement.value_or(0)));
  facts_.input = fields.name.empty() ? fields.address : fields.name;
  HandshakeFacts handshake;
  handshake.address = keep(host_port(fields.address, fields.port.empty() ? "443" : fields.port));
  // RIPE Atlas's dst_name is the address itself when no name was measured (no SNI was sent).
  handshake.server_name = is_ip_literal(fields.name) ? std::string_view() : fields.name;
  if (!fields.version.empty()) handshake.tls_version = keep(fmt::format("TLSv{}", fields.version));
  handshake.cipher_suite = fields.cipher;
  if (fields.certificates) {
    add_certificates(facts_, handshake, *fields.certificates, [&](std::string_view pem) { return keep_pem(pem); });
  }
  if (fields.alert) {
    handshake.failure = keep(fmt::format("tls_alert_{}", integer_of(*fields.alert, "description").value_or(-1)));
  } else if (!fields.error.empty()) {
    handshake.failure = fields.error;
  } else if (handshake.certificate_count == 0) {
    handshake.failure = "no_certificate";
  }
  facts_.handshakes.push_back(handshake);
  return {};
}

// The TLS fields of a Censored Planet HTTPS response (v2 `response`, v1 `Received.tls`), with its certificate(s).
void censored_planet_tls(MeasurementFacts& facts, HandshakeFacts& handshake, element tls, std::string_view version_key,
                         std::string_view cipher_key, std::string_view certificate_key,
                         const std::function<std::string_view(std::string_view)>& keep) {
  if (auto version = integer_of(tls, version_key)) handshake.tls_version = keep(tls_version_name(static_cast<uint16_t>(*version)));
  if (auto cipher = integer_of(tls, cipher_key)) handshake.cipher_suite = keep(fmt::format("0x{:04X}", *cipher));
  if (auto certificates = tls[certificate_key]; !certificates.error()) {
    add_certificates(facts, handshake, certificates.value_unsafe(), [](std::string_view base64) { return base64; });
  }
}

// Hyperquack v1 (2018 to 2021-05): https://github.com/censoredplanet/censoredplanet/blob/master/docs/hyperquackv1.rst
Result<void> SourceReader::read_hyperquack_v1(element record) {
  const std::string_view server = text_of(record, "Server"), keyword = text_of(record, "Keyword");
  array results;
  if (server.empty()) return std::unexpected(missing("Hyperquack v1", "Server"));
  if (record["Results"].get_array().get(results)) return std::unexpected(missing("Hyperquack v1", "Results"));
  const auto retries = integer_of(record, "Retries").value_or(INT64_MAX);
  facts_.vantage = server;
  facts_.network_address = server;
  facts_.input = keyword;
  facts_.test_name = "hyperquack-https";
  facts_.dns_consistency = "consistent";  // no DNS: the vantage point is addressed directly
  const std::string_view address = keep(host_port(server, "443"));
  facts_.control_tls.push_back({address, keyword, !bool_of(record, "FailSanity").value_or(false), {}});
  int64_t index = -1;
  for (element result : results) {
    ++index;
    const std::string_view sent = text_of(result, "Sent");
    if (index > retries || is_control_name(sent)) continue;
    const auto started = parse_utc(text_of(result, "StartTime"));
    if (facts_.handshakes.empty()) {
      if (!started) return std::unexpected(missing("Hyperquack v1", "Results[].StartTime"));
      facts_.start = *started;
      facts_.measurement_start_time = text_of(result, "StartTime");
    }
    HandshakeFacts handshake{.address = address, .server_name = sent.empty() || sent.find(' ') != std::string_view::npos ? keyword : sent};
    handshake.t = seconds_after(facts_.start, started ? std::optional(*started) : std::nullopt);
    handshake.matches_template = bool_of(result, "Success");
    if (auto tls = result["Received"]["tls"]; !tls.error()) {
      censored_planet_tls(facts_, handshake, tls.value_unsafe(), "version", "cipher_suite", "cert", [&](std::string_view text) { return keep(text); });
    }
    if (handshake.certificate_count == 0) handshake.failure = text_of(result, "Error").empty() ? "no_certificate" : text_of(result, "Error");
    facts_.handshakes.push_back(handshake);
  }
  if (facts_.handshakes.empty()) facts_.start = {};
  return {};
}

// Hyperquack v2 (2021-05 on): https://github.com/censoredplanet/censoredplanet/blob/master/docs/hyperquackv2.rst
Result<void> SourceReader::read_hyperquack_v2(element record) {
  const std::string_view vantage = text_of(record, "vp"), url = text_of(record, "test_url");
  array responses;
  if (vantage.empty()) return std::unexpected(missing("Hyperquack v2", "vp"));
  if (record["response"].get_array().get(responses)) return std::unexpected(missing("Hyperquack v2", "response"));
  facts_.vantage = vantage;
  facts_.network_address = vantage;
  if (auto location = record["location"]; !location.error()) facts_.probe_cc = text_of(location.value_unsafe(), "country_code");
  facts_.input = url;
  facts_.test_name = "hyperquack-https";
  facts_.report_id = text_of(record, "tag");
  facts_.dns_consistency = "consistent";
  const std::string_view address = keep(host_port(vantage, "443"));
  facts_.control_tls.push_back({address, url, !bool_of(record, "controls_failed").value_or(false), {}});
  for (element response : responses) {
    if (has(response, "control_url")) continue;
    const auto started = parse_utc(text_of(response, "start_time"));
    if (facts_.handshakes.empty()) {
      if (!started) return std::unexpected(missing("Hyperquack v2", "response[].start_time"));
      facts_.start = *started;
      facts_.measurement_start_time = text_of(response, "start_time");
    }
    HandshakeFacts handshake{.address = address, .server_name = url};
    handshake.t = seconds_after(facts_.start, started ? std::optional(*started) : std::nullopt);
    handshake.matches_template = bool_of(response, "matches_template");
    if (auto tls = response["response"]; !tls.error() && tls.value_unsafe().is_object()) {
      censored_planet_tls(facts_, handshake, tls.value_unsafe(), "TlsVersion", "CipherSuite", "Certificate", [&](std::string_view text) { return keep(text); });
    }
    if (handshake.certificate_count == 0) handshake.failure = text_of(response, "error").empty() ? "no_certificate" : text_of(response, "error");
    facts_.handshakes.push_back(handshake);
  }
  return {};
}

// Satellite v2 page fetches (blockpages.json): https://github.com/censoredplanet/censoredplanet/blob/master/docs/satellitev2.rst
Result<void> SourceReader::read_satellite(element record) {
  const std::string_view ip = text_of(record, "ip"), keyword = text_of(record, "keyword");
  if (ip.empty()) return std::unexpected(missing("Satellite", "ip"));
  const auto started = parse_go_time(text_of(record, "start_time"));
  if (!started) return std::unexpected(missing("Satellite", "start_time"));
  facts_.start = *started;
  facts_.measurement_start_time = text_of(record, "start_time");
  facts_.vantage = "satellite fetch";
  facts_.network_address = ip;
  facts_.input = keyword;
  facts_.test_name = "satellite-fetch";
  facts_.dns_consistency = "inconsistent";  // fetched because the resolver's answer did not match the controls'
  HandshakeFacts handshake{.address = keep(host_port(ip, "443")), .server_name = keyword};
  if (auto https = record["https"]; !https.error() && https.value_unsafe().is_object()) {
    censored_planet_tls(facts_, handshake, https.value_unsafe(), "TlsVersion", "CipherSuite", "Certificate", [&](std::string_view text) { return keep(text); });
  }
  if (handshake.certificate_count == 0) handshake.failure = "no_certificate";
  facts_.handshakes.push_back(handshake);
  return {};
}

namespace {

// The first TLS handshake log under a module's result, however deep the module nests it (http: response.request.tls_log).
std::optional<element> find_handshake_log(element value, size_t depth) {
  object fields;
  if (depth > kMaxZgrabDepth || value.get_object().get(fields)) return std::nullopt;
  for (auto field : fields) {
    if (field.key == "handshake_log" && field.value.is_object()) return field.value;
  }
  for (auto field : fields) {
    if (auto found = find_handshake_log(field.value, depth + 1)) return found;
  }
  return std::nullopt;
}

}  // namespace

// ZGrab2: https://github.com/zmap/zgrab2 (schemas/zcrypto.py: handshake_log, server_certificates).
Result<void> SourceReader::read_zgrab2(element record) {
  const std::string_view ip = text_of(record, "ip"), domain = text_of(record, "domain");
  object modules;
  if (record["data"].get_object().get(modules)) return std::unexpected(missing("ZGrab2", "data"));
  facts_.vantage = "zgrab2";
  facts_.network_address = ip;
  facts_.input = domain.empty() ? ip : domain;
  facts_.test_name = "zgrab2";
  const std::string_view address = keep(host_port(ip, "443"));
  for (auto module : modules) {
    const auto started = parse_utc(text_of(module.value, "timestamp"));
    if (facts_.handshakes.empty() && started) {
      facts_.start = *started;
      facts_.measurement_start_time = text_of(module.value, "timestamp");
    }
    auto log = find_handshake_log(module.value, 0);
    const std::string_view status = text_of(module.value, "status");
    if (!log && status == "success") continue;  // a module without TLS
    HandshakeFacts handshake{.address = address, .server_name = domain};
    handshake.t = seconds_after(facts_.start, started ? std::optional(*started) : std::nullopt);
    if (log) {
      if (auto hello = (*log)["server_hello"]; !hello.error()) {
        if (auto version = hello["version"]; !version.error()) {
          if (auto value = integer_of(version.value_unsafe(), "value")) handshake.tls_version = keep(tls_version_name(static_cast<uint16_t>(*value)));
        }
        if (auto cipher = hello["cipher_suite"]; !cipher.error()) handshake.cipher_suite = text_of(cipher.value_unsafe(), "name");
      }
      if (auto certificates = (*log)["server_certificates"]; !certificates.error()) {
        handshake.first_certificate = facts_.certificates.size();
        auto add = [&](element certificate) {
          if (std::string_view raw = text_of(certificate, "raw"); !raw.empty()) facts_.certificates.push_back(raw);
        };
        if (auto leaf = certificates["certificate"]; !leaf.error()) add(leaf.value_unsafe());
        array chain;
        if (!certificates["chain"].get_array().get(chain)) {
          for (element certificate : chain) add(certificate);
        }
        handshake.certificate_count = facts_.certificates.size() - handshake.first_certificate;
      }
    }
    if (status != "success" || handshake.certificate_count == 0) {
      const std::string_view error = text_of(module.value, "error");
      handshake.failure = !error.empty() ? error : !status.empty() && status != "success" ? status : "no_certificate";
    }
    facts_.handshakes.push_back(handshake);
  }
  if (!facts_.handshakes.empty() && facts_.measurement_start_time.empty()) return std::unexpected(missing("ZGrab2", "data.<module>.timestamp"));
  return {};
}

namespace {

// One TTL-limited handshake of a tlsmiddlebox trace; its certificates, when it got some, become a handshake of the
// measurement (judged as any other).
MiddleboxHop middlebox_hop(element iteration, std::string_view address, std::string_view server_name, MeasurementFacts& facts) {
  MiddleboxHop hop;
  hop.ttl = static_cast<int>(integer_of(iteration, "ttl").value_or(0));
  auto handshake = iteration["handshake"];
  if (handshake.error() || !handshake.value_unsafe().is_object()) {
    hop.failure = "no_handshake";
    return hop;
  }
  element value = handshake.value_unsafe();
  hop.failure = text_of(value, "failure");
  hop.so_error = text_of(value, "so_error");
  HandshakeFacts facts_of{.address = address, .server_name = server_name, .failure = hop.failure,
                          .tls_version = text_of(value, "tls_version"), .cipher_suite = text_of(value, "cipher_suite")};
  facts_of.t = static_cast<double>(integer_of(value, "t").value_or(0));
  facts_of.first_certificate = facts.certificates.size();
  array certificates;
  if (!value["peer_certificates"].get_array().get(certificates)) {
    for (element certificate : certificates) {
      if (std::string_view data = text_of(certificate, "data"); !data.empty()) facts.certificates.push_back(data);
    }
  }
  facts_of.certificate_count = facts.certificates.size() - facts_of.first_certificate;
  if (facts_of.certificate_count > 0) {
    hop.handshake = facts.handshakes.size();
    facts.handshakes.push_back(facts_of);
  }
  return hop;
}

std::vector<MiddleboxHop> middlebox_series(element trace, std::string_view address, std::string_view& server_name,
                                           MeasurementFacts& facts) {
  std::vector<MiddleboxHop> series;
  server_name = text_of(trace, "server_name");
  array iterations;
  if (trace["iterations"].get_array().get(iterations)) return series;
  for (element iteration : iterations) series.push_back(middlebox_hop(iteration, address, server_name, facts));
  return series;
}

std::vector<MiddleboxPathHop> middlebox_path(element traceroute) {
  std::vector<MiddleboxPathHop> path;
  array iterations;
  if (traceroute["iterations"].get_array().get(iterations)) return path;
  for (element iteration : iterations) {
    MiddleboxPathHop hop{.ttl = static_cast<int>(integer_of(iteration, "ttl").value_or(0))};
    if (auto icmp = iteration["icmp_error"]; !icmp.error() && icmp.value_unsafe().is_object()) {
      hop.icmp_type = static_cast<int>(integer_of(icmp.value_unsafe(), "type").value_or(-1));
      hop.router = text_of(icmp.value_unsafe(), "source_ip_prefix");
      hop.reached = !text_of(icmp.value_unsafe(), "connected").empty();
    }
    path.push_back(hop);
  }
  return path;
}

}  // namespace

// OONI's tlsmiddlebox test: https://github.com/ooni/spec/blob/master/nettests/ts-037-tlsmiddlebox.md
Result<void> SourceReader::read_tlsmiddlebox(element record) {
  const auto started = parse_utc(text_of(record, "measurement_start_time"));
  if (!started) return std::unexpected(missing("OONI tlsmiddlebox", "measurement_start_time"));
  facts_.start = *started;
  facts_.measurement_start_time = text_of(record, "measurement_start_time");
  facts_.probe_cc = text_of(record, "probe_cc");
  facts_.probe_asn = parse_asn(text_of(record, "probe_asn"));
  facts_.probe_network_name = text_of(record, "probe_network_name");
  facts_.input = text_of(record, "input");
  facts_.test_name = "tlsmiddlebox";
  facts_.report_id = text_of(record, "report_id");
  array traces;
  if (record["test_keys"]["iterative_trace"].get_array().get(traces)) {
    return std::unexpected(missing("OONI tlsmiddlebox", "test_keys.iterative_trace"));
  }
  for (element trace : traces) {
    MiddleboxTrace out{.address = text_of(trace, "address")};
    if (auto control = trace["control_trace"]; !control.error() && control.value_unsafe().is_object()) {
      out.control = middlebox_series(control.value_unsafe(), out.address, out.control_sni, facts_);
    }
    if (auto target = trace["target_trace"]; !target.error() && target.value_unsafe().is_object()) {
      out.target = middlebox_series(target.value_unsafe(), out.address, out.target_sni, facts_);
    }
    if (auto path = trace["tcp_traceroute"]; !path.error() && path.value_unsafe().is_object()) {
      out.path = middlebox_path(path.value_unsafe());
    }
    if (!out.target.empty() || !out.control.empty()) facts_.middlebox.push_back(std::move(out));
  }
  return {};
}

}  // namespace mitmscope::ooni
