#include "core/observation.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace mitmscope {
namespace {

constexpr size_t kMaxLineCharacters = 200;
constexpr size_t kMaxHeaders = 16;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// "HTTP/1.1 409 Conflict" -> 409.
std::optional<int> http_status_of(std::string_view line) {
  if (!line.starts_with("HTTP/") || line.size() < 12 || line[8] != ' ') return std::nullopt;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return std::nullopt;
    status = status * 10 + (line[i] - '0');
  }
  return status;
}

}  // namespace

PlainAnswer parse_plain_answer(std::span<const uint8_t> bytes) {
  PlainAnswer answer;
  answer.first_bytes.assign(bytes.begin(), bytes.begin() + std::min(bytes.size(), PlainAnswer::kMaxBytes));
  const std::string_view text(reinterpret_cast<const char*>(answer.first_bytes.data()), answer.first_bytes.size());
  size_t end = text.find('\n');
  answer.first_line = printable(trim(text.substr(0, end)), kMaxLineCharacters);
  answer.http_status = http_status_of(answer.first_line);
  if (!answer.http_status) return answer;
  while (end != std::string_view::npos && answer.headers.size() < kMaxHeaders) {
    const size_t start = end + 1;
    end = text.find('\n', start);
    if (end == std::string_view::npos) break;  // a header cut by the byte limit is not read
    const std::string_view line = trim(text.substr(start, end - start));
    const size_t colon = line.find(':');
    if (line.empty() || colon == std::string_view::npos) break;
    answer.headers.emplace_back(printable(trim(line.substr(0, colon)), kMaxLineCharacters),
                                printable(trim(line.substr(colon + 1)), kMaxLineCharacters));
    if (equals_ignoring_case(answer.headers.back().first, "server")) answer.server = answer.headers.back().second;
  }
  return answer;
}

std::string PlainAnswer::summary() const {
  const std::string line = first_line.empty() ? fmt::format("{} bytes", first_bytes.size()) : first_line;
  return server.empty() ? line : fmt::format("{} (Server: {})", line, server);
}

std::string PlainAnswer::printable_bytes() const {
  return printable(std::string_view(reinterpret_cast<const char*>(first_bytes.data()), first_bytes.size()), kMaxBytes);
}

std::string tls_alert_name(uint8_t description) {
  switch (description) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return fmt::format("alert_{}", description);
  }
}

}  // namespace mitmscope

#include "core/verdict.h"

namespace mitmscope {

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kIntercepted: return "intercepted";
    case Outcome::kSuspicious: return "suspicious";
    case Outcome::kNotIntercepted: return "not_intercepted";
    case Outcome::kInconclusive: return "inconclusive";
    case Outcome::kError: return "error";
  }
  return "error";
}

std::optional<Outcome> outcome_from_name(std::string_view name) {
  for (Outcome outcome : {Outcome::kIntercepted, Outcome::kSuspicious, Outcome::kNotIntercepted, Outcome::kInconclusive,
                          Outcome::kError}) {
    if (outcome_name(outcome) == name) return outcome;
  }
  return std::nullopt;
}

Outcome outcome_of(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::kIntercepted: return Outcome::kIntercepted;
    case VerdictKind::kUntrusted: return Outcome::kSuspicious;
    case VerdictKind::kClean: return Outcome::kNotIntercepted;
    case VerdictKind::kError: return Outcome::kError;
  }
  return Outcome::kError;
}

std::string_view verdict_name(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::kIntercepted: return "intercepted";
    case VerdictKind::kUntrusted: return "untrusted";
    case VerdictKind::kClean: return "clean";
    case VerdictKind::kError: return "error";
  }
  return "unknown";
}

}  // namespace mitmscope
