#include "sentinel/visit.h"

#include <fmt/format.h>

#include "analyze/asn_map.h"
#include "core/error.h"
#include "core/time.h"

namespace mitmscope {
namespace {

using Json = nlohmann::ordered_json;

std::string_view method_words(std::string_view method) {
  if (method == "ja4") return "JA4";
  if (method == "ja3") return "JA3";
  if (method == "ja4_bc") return "cipher and extension sets (JA4's b and c)";
  return "extension set and signature algorithms (JA4's c)";
}

std::string client_name(const UserAgentJudgement& user_agent) {
  return user_agent.major > 0 ? fmt::format("{} {}", user_agent.browser, user_agent.major) : user_agent.browser;
}

// The ClientHello's library against the one the User-Agent's client is built on (tls/tls_library).
void hold_library_against_user_agent(const Visit& visit, VisitJudgement& judgement) {
  judgement.library = tls_library_of(visit.hello);
  if (!visit.user_agent) return;
  judgement.claimed_library = tls_library_of_user_agent(*visit.user_agent);
  if (!judgement.claimed_library) return;
  auto& user_agent = judgement.user_agent;
  if (user_agent.browser.empty()) user_agent.browser = judgement.claimed_library->client;
  if (judgement.library.library == TlsLibrary::kUnknown) return;
  user_agent.judged = true;
  if (judgement.library.library == judgement.claimed_library->library) return;
  user_agent.consistent = false;
  // First: another library's ClientHello says more than one missing feature.
  user_agent.reasons.insert(user_agent.reasons.begin(), fmt::format("is {}'s ({}), not {}'s, which {} is built on",
                                           tls_library_name(judgement.library.library), judgement.library.evidence.front(),
                                           tls_library_name(judgement.claimed_library->library),
                                           judgement.claimed_library->client));
}

std::string describe(const Visit& visit, const VisitJudgement& judgement) {
  switch (judgement.verdict) {
    case VisitVerdict::kKnownInterceptor:
      return fmt::format("{} arrived through {} (its ClientHello's {} is that device's)", visit.client_ip,
                         judgement.interceptor->entry->name, method_words(judgement.interceptor->method));
    case VisitVerdict::kInterceptorShape:
      return fmt::format("{} sent a ClientHello shaped like {}'s (record TLS 1.0, handshake TLS 1.2, {} cipher suites): "
                         "likely through that device",
                         visit.client_ip, judgement.interceptor->entry->name, judgement.interceptor->entry->shape->cipher_suites);
    case VisitVerdict::kInconsistent:
      return fmt::format("{} says it is {}, but its ClientHello {}: something else made this handshake", visit.client_ip,
                         client_name(judgement.user_agent), judgement.user_agent.reasons.front());
    case VisitVerdict::kConsistent:
      return fmt::format("{} is {}, and its ClientHello fits", visit.client_ip, client_name(judgement.user_agent));
    case VisitVerdict::kUnjudged:
      return fmt::format("{}: no known interceptor's ClientHello{}", visit.client_ip,
                         visit.user_agent ? "; no rule for its User-Agent" : "; no User-Agent to compare with");
  }
  return {};
}

// "YYYY-MM-DDTHH:MM:SS.mmmZ": captures are read at packet precision.
std::string timestamp(std::chrono::system_clock::time_point time) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  const auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(time - seconds).count();
  std::string text = format_utc(UtcSeconds(seconds));
  text.pop_back();
  return fmt::format("{}.{:03}Z", text, milliseconds);
}

// Names a client chose are quoted safely: JSON needs UTF-8, and a hostile client sends anything.
Json printable_list(const std::vector<std::string>& values) {
  Json list = Json::array();
  for (const auto& value : values) list.push_back(printable(value, 255));
  return list;
}

}  // namespace

std::string_view visit_verdict_name(VisitVerdict verdict) {
  switch (verdict) {
    case VisitVerdict::kKnownInterceptor: return "known_interceptor";
    case VisitVerdict::kInterceptorShape: return "interceptor_shape";
    case VisitVerdict::kInconsistent: return "inconsistent";
    case VisitVerdict::kConsistent: return "consistent";
    case VisitVerdict::kUnjudged: return "unjudged";
  }
  return "unjudged";
}

Outcome visit_outcome(VisitVerdict verdict) {
  switch (verdict) {
    case VisitVerdict::kKnownInterceptor:
    case VisitVerdict::kInterceptorShape: return Outcome::kIntercepted;
    case VisitVerdict::kInconsistent: return Outcome::kSuspicious;
    case VisitVerdict::kConsistent: return Outcome::kNotIntercepted;
    case VisitVerdict::kUnjudged: return Outcome::kInconclusive;
  }
  return Outcome::kInconclusive;
}

bool flagged(VisitVerdict verdict) {
  return verdict == VisitVerdict::kKnownInterceptor || verdict == VisitVerdict::kInterceptorShape ||
         verdict == VisitVerdict::kInconsistent;
}

VisitJudgement judge_visit(const Visit& visit, const ClientRegistry& registry, const AsnMap* networks) {
  VisitJudgement judgement;
  judgement.ja3 = ja3(visit.hello);
  judgement.ja4 = ja4(visit.hello);
  judgement.interceptor = registry.match(visit.hello, judgement.ja3, judgement.ja4);
  if (visit.user_agent) judgement.user_agent = registry.judge_user_agent(*visit.user_agent, visit.hello);
  hold_library_against_user_agent(visit, judgement);
  if (judgement.interceptor) {
    judgement.verdict = judgement.interceptor->method == "shape" ? VisitVerdict::kInterceptorShape : VisitVerdict::kKnownInterceptor;
  } else if (judgement.user_agent.judged) {
    judgement.verdict = judgement.user_agent.consistent ? VisitVerdict::kConsistent : VisitVerdict::kInconsistent;
  }
  if (networks) {
    if (auto info = networks->lookup(visit.client_ip)) {
      judgement.network = fmt::format("AS{}", info->asn);
      judgement.network_name = info->name;
    }
  }
  judgement.summary = describe(visit, judgement);
  return judgement;
}

Json visit_json(const Visit& visit, const VisitJudgement& judgement) {
  const ClientHello& hello = visit.hello;
  Json out;
  out["ts"] = timestamp(visit.time);
  out["source"] = visit.source;
  out["client"] = {{"ip", visit.client_ip}, {"port", visit.client_port}};
  if (!judgement.network.empty()) out["client"]["asn"] = judgement.network;
  if (!judgement.network_name.empty()) out["client"]["as_name"] = judgement.network_name;
  out["server"] = {{"ip", visit.server_ip}, {"port", visit.server_port}};
  if (visit.ttl) out["ttl"] = *visit.ttl;
  out["server_name"] = hello.server_name ? Json(printable(*hello.server_name, 255)) : Json();
  out["user_agent"] = visit.user_agent ? Json(printable(*visit.user_agent, 512)) : Json();
  out["http_version"] = visit.http_version.empty() ? Json() : Json(visit.http_version);
  out["verdict"] = visit_verdict_name(judgement.verdict);
  out["outcome"] = outcome_name(visit_outcome(judgement.verdict));
  out["flagged"] = flagged(judgement.verdict);
  out["summary"] = judgement.summary;
  if (judgement.interceptor) {
    const auto& entry = *judgement.interceptor->entry;
    out["interceptor"] = {{"id", entry.id}, {"name", entry.name}, {"method", judgement.interceptor->method},
                          {"provenance", entry.provenance}, {"origin", entry.origin}};
  } else {
    out["interceptor"] = nullptr;
  }
  if (visit.user_agent) {
    out["user_agent_check"] = {{"browser", judgement.user_agent.browser.empty() ? Json() : Json(judgement.user_agent.browser)},
                               {"major", judgement.user_agent.major},
                               {"judged", judgement.user_agent.judged},
                               {"consistent", judgement.user_agent.consistent},
                               {"reasons", judgement.user_agent.reasons}};
  }
  out["tls_library"] = {{"name", tls_library_name(judgement.library.library)}, {"evidence", judgement.library.evidence}};
  out["claimed_library"] = judgement.claimed_library
                               ? Json{{"client", judgement.claimed_library->client},
                                      {"name", tls_library_name(judgement.claimed_library->library)}}
                               : Json();
  out["ja3"] = judgement.ja3.hash;
  out["ja3_text"] = judgement.ja3.text;
  out["ja4"] = judgement.ja4.fingerprint;
  out["ja4_r"] = judgement.ja4.raw;
  out["ja4_o"] = judgement.ja4.original;
  out["ja4_ro"] = judgement.ja4.raw_original;
  // The lists themselves are in ja3_text (decimal, as sent) and ja4_ro (hex, as sent, without GREASE).
  out["client_hello"] = {{"record_version", fmt::format("0x{:04x}", hello.record_version)},
                         {"legacy_version", fmt::format("0x{:04x}", hello.legacy_version)},
                         {"highest_version", fmt::format("0x{:04x}", highest_offered_version(hello))},
                         {"cipher_suites", hello.cipher_suites.size()},
                         {"extensions", hello.extensions.size()},
                         {"grease", sends_grease(hello)},
                         {"alpn", printable_list(hello.alpn)},
                         {"complete", hello.complete}};
  if (!visit.tls_error.empty()) out["tls_error"] = visit.tls_error;
  return out;
}

}  // namespace mitmscope
