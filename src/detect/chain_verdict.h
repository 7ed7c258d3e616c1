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

struct ChainAssessment {
  Chain chain;                      // the parsed presented chain
  std::vector<std::string> parse_errors;  // certificates of the chain that did not parse
  ValidationResult validation;
  Attribution attribution;
  Verdict verdict;
};

struct AssessmentContext {
  const TrustStore& trust_store;
  const InterceptorRegistry& registry;
  std::optional<UtcSeconds> at;     // validation time; default: the observation's time
};

ChainAssessment assess_chain(Chain chain, const std::optional<std::string>& hostname, const AssessmentContext& context,
                             UtcSeconds default_time);
ChainAssessment assess_observation(const Observation& observation, const AssessmentContext& context);

}  // namespace mitmscope
