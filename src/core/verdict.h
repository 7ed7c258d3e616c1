// Verdict: the judgement of one Observation. A pure function of the observation and
// its context (trust store, known-interceptor registry, later the host's template)
// computes it, in src/detect/. Reasons are sentences a person can check.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mitmscope {

enum class VerdictKind {
  kIntercepted,   // the chain is, carries the key of, or was signed by a known interceptor
  kUntrusted,     // not browser-trusted, no known interceptor: interception or misconfiguration
  kClean,         // browser-trusted for the name asked
  kError,         // no certificate to judge (refused, timeout, not TLS, ...)
};

std::string_view verdict_name(VerdictKind kind);

struct KnownInterceptor {
  std::string id;
  std::string name;
  std::string country;
  std::string root_sha256;       // the registry certificate's SHA-256 (empty for SPKI-only entries)
  std::string method;            // identical_certificate | same_key | signature
  size_t chain_position = 0;
};

struct Verdict {
  VerdictKind kind = VerdictKind::kError;
  std::optional<KnownInterceptor> known_interceptor;
  std::vector<std::string> reasons;
};

}  // namespace mitmscope
