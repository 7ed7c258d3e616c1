// One client's visit as a server sees it, and the sentinel's judgement of it.
//
// A visit is a ClientHello (from a capture or from the sentinel's own listener), the
// addresses, and, when the listener terminated TLS, the HTTP User-Agent. The judgement
// is a pure function of the visit and the client registry:
//   known_interceptor  the ClientHello is a known interception device's (exact JA4 or JA3)
//   interceptor_shape  it matches a device's published description only (weaker)
//   inconsistent       a User-Agent over a ClientHello its client does not send: a browser rule's
//                      feature missing, or another TLS library's ClientHello (Chromium's
//                      User-Agent over OpenSSL's suites: a device re-made the handshake)
//   consistent         a known client's User-Agent, and the ClientHello fits it
//   unjudged           nothing to compare with (no User-Agent, or no rule for it)
// The first three are "flagged": the visit likely arrived through an interceptor (or, for
// inconsistent, from a client that lies about itself; the reasons say what is missing).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/verdict.h"
#include "sentinel/client_registry.h"
#include "tls/client_fingerprint.h"
#include "tls/client_hello.h"
#include "tls/tls_library.h"

namespace mitmscope {

class AsnMap;

struct Visit {
  std::chrono::system_clock::time_point time;
  std::string source;          // "listener", "pcap:FILE" or "interface:NAME"
  std::string client_ip;
  uint16_t client_port = 0;
  std::string server_ip;
  uint16_t server_port = 0;
  std::optional<int> ttl;      // IP TTL / hop limit of the ClientHello packet (captures only)
  ClientHello hello;
  std::optional<std::string> user_agent;
  std::string http_version;    // listener: "http/1.1" or "h2" (ALPN), empty for captures
  std::string tls_error;       // listener: why the handshake or the request failed, empty when it did not
};

enum class VisitVerdict { kKnownInterceptor, kInterceptorShape, kInconsistent, kConsistent, kUnjudged };
std::string_view visit_verdict_name(VisitVerdict verdict);
Outcome visit_outcome(VisitVerdict verdict);
bool flagged(VisitVerdict verdict);

struct VisitJudgement {
  Ja3 ja3;
  Ja4 ja4;
  std::optional<InterceptorMatch> interceptor;
  UserAgentJudgement user_agent;
  TlsLibraryGuess library;                       // who wrote the ClientHello (tls/tls_library)
  std::optional<UserAgentLibrary> claimed_library;   // who the User-Agent's client is built on
  VisitVerdict verdict = VisitVerdict::kUnjudged;
  std::string network;          // "AS9198" from --pfx2as, empty when unknown
  std::string network_name;
  std::string summary;          // one sentence in plain words
};

VisitJudgement judge_visit(const Visit& visit, const ClientRegistry& registry, const AsnMap* networks);

// One JSON object per visit (JSON Lines); field names documented in docs/CLI.md "sentinel".
nlohmann::ordered_json visit_json(const Visit& visit, const VisitJudgement& judgement);

}  // namespace mitmscope
