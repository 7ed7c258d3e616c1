// The verdict on one presented chain, without a template: is it a known
// interceptor's, is it browser-trusted for the name, and if neither, why not.
// The template comparison of `scan` (a changed chain vs the host's control answer)
// builds on this.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "core/observation.h"
#include "core/verdict.h"
#include "x509/registry.h"
#include "x509/trust_store.h"

namespace mitmscope {

// What the server's answer looks like, computed once when it is judged: JA3S (BSD licence), and with the FoxIO
// fingerprints asked for (--ja4: FoxIO License 1.1, non-commercial use) JA4S and each parsed certificate's JA4X.
struct Fingerprints {
  std::string ja3s, ja3s_string;    // empty without a ServerHello
  std::string ja4s;                 // empty without a ServerHello or without foxio
  std::vector<std::string> ja4x;    // per certificate of `chain`, in order; empty without foxio
};

struct ChainAssessment {
  Chain chain;                      // the parsed presented chain
  std::vector<std::string> parse_errors;  // certificates of the chain that did not parse
  ValidationResult validation;
  Attribution attribution;
  Verdict verdict;
  Fingerprints fingerprints;
};

struct AssessmentContext {
  const TrustStore& trust_store;
  const InterceptorRegistry& registry;
  std::optional<UtcSeconds> at;     // validation time; default: the observation's time
  bool foxio = false;               // also JA4S and JA4X (FoxIO License 1.1)
};

ChainAssessment assess_chain(Chain chain, const std::optional<std::string>& hostname, const AssessmentContext& context,
                             UtcSeconds default_time);
ChainAssessment assess_observation(const Observation& observation, const AssessmentContext& context);

}  // namespace mitmscope
