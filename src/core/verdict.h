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

// The one vocabulary every source's verdict is also given in (`outcome` in every output and store), so a scan
// row, an OONI handshake, a probe and a sentinel visit can be counted together. Each source keeps its own
// finer verdict beside it (a scan's `mismatch`, OONI's `category`, ...).
enum class Outcome {
  kIntercepted,     // interception shown: a known interceptor, or a changed chain under an untrusted root
  kSuspicious,      // an anomaly that could be interception and is not explained (untrusted, mismatching)
  kNotIntercepted,  // judged, and no interception
  kInconclusive,    // could not be judged (failing controls, stateful blocking, ineligible host, no control)
  kError,           // no answer to judge
};
std::string_view outcome_name(Outcome outcome);
std::optional<Outcome> outcome_from_name(std::string_view name);
Outcome outcome_of(VerdictKind kind);

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
