#include "ooni/measurement.h"

#include "ooni/measurement_walker.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <chrono>

#include <fmt/format.h>

namespace mitmscope::ooni {
namespace {

// Fast path for OONI's "YYYY-MM-DD HH:MM:SS"; anything else goes through parse_utc.
std::optional<UtcSeconds> parse_start_time(std::string_view text) {
  auto digits = [&](size_t at, size_t count, int& out) {
    out = 0;
    for (size_t i = at; i < at + count; ++i) {
      if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int year, month, day, hour, minute, second;
  if (text.size() == 19 && text[4] == '-' && text[7] == '-' && (text[10] == ' ' || text[10] == 'T') && text[13] == ':' &&
      text[16] == ':' && digits(0, 4, year) && digits(5, 2, month) && digits(8, 2, day) && digits(11, 2, hour) &&
      digits(14, 2, minute) && digits(17, 2, second)) {
    const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                           std::chrono::day{static_cast<unsigned>(day)}};
    if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    return std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
           std::chrono::seconds{second};
  }
  auto parsed = parse_utc(text);
  if (!parsed) return std::nullopt;
  return *parsed;
}

}  // namespace

std::string_view data_source_name(DataSource source) {
  switch (source) {
    case DataSource::kOoni: return "ooni";
    case DataSource::kHyperquackV1: return "hyperquack-v1";
    case DataSource::kHyperquackV2: return "hyperquack-v2";
    case DataSource::kSatellite: return "satellite";
    case DataSource::kAtlas: return "atlas-sslcert";
    case DataSource::kZgrab2: return "zgrab2";
  }
  return "unknown";
}

void MeasurementFacts::clear() {
  source = DataSource::kOoni;
  vantage = network_address = {};
  measurement_start_time = probe_cc = probe_network_name = input = test_name = test_version = report_id =
      measurement_uid = dns_consistency = {};
  start = {};
  probe_asn = 0;
  handshakes.clear();
  certificates.clear();
  dns_answers.clear();
  has_control = false;
  control_addresses.clear();
  control_tls.clear();
  control_http_ok.reset();
  middlebox.clear();
}

std::string url_host(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') {
    url = url.substr(1, url.find(']') == std::string_view::npos ? url.size() : url.find(']') - 1);
  } else if (auto colon = url.find(':'); colon != std::string_view::npos) {
    url = url.substr(0, colon);
  }
  std::string host(url);
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

uint32_t parse_asn(std::string_view text) {
  if (text.size() > 2 && (text[0] == 'A' || text[0] == 'a') && (text[1] == 'S' || text[1] == 's')) text.remove_prefix(2);
  if (text.empty() || text.size() > 10) return 0;
  uint64_t value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return 0;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value > UINT32_MAX ? 0 : static_cast<uint32_t>(value);
}

MeasurementReader::MeasurementReader()
    : walker_(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("pclmul")
                  ? haswell::make_walker()
                  : generic::make_walker()) {}
MeasurementReader::~MeasurementReader() = default;

Result<void> MeasurementReader::read(const char* json, size_t length, size_t capacity, MeasurementFacts& facts) {
  facts.clear();
  if (auto walked = walker_->read(json, length, capacity, facts); !walked) return walked;
  if (facts.measurement_start_time.empty()) return make_error(ErrorCode::kParseError, "field measurement_start_time: missing");
  auto start = parse_start_time(facts.measurement_start_time);
  if (!start) {
    return make_error(ErrorCode::kParseError,
                      fmt::format("field measurement_start_time: not a time: \"{}\"", printable(facts.measurement_start_time)));
  }
  facts.start = *start;
  return {};
}

UtcSeconds handshake_time(UtcSeconds start, double offset) {
  constexpr double kLongestMeasurement = 24 * 3600;
  const bool usable = std::isfinite(offset) && offset >= 0 && offset <= kLongestMeasurement;
  return start + std::chrono::seconds(usable ? static_cast<int64_t>(offset) : 0);
}

}  // namespace mitmscope::ooni
