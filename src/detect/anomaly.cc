#include "detect/anomaly.h"

#include <fmt/format.h>

namespace mitmscope {

std::string describe_answer(const Observation& observation) {
  if (observation.plain_answer) return fmt::format("'{}'", observation.plain_answer->summary());
  if (observation.error) return observation.error->message;
  if (observation.chain_der.empty()) return "a handshake without a certificate";
  return "a certificate chain";
}

bool chain_trusted(const std::vector<std::vector<uint8_t>>& chain_der, const AssessmentContext& context, std::string* why) {
  Chain chain;
  for (const auto& der : chain_der) {
    if (auto certificate = Certificate::from_der_cached(der)) chain.push_back(*certificate);
  }
  const auto validation = context.trust_store.validate(chain, {.at = context.at});
  if (why) *why = validation.browser_error;
  return validation.browser_trusted;
}

namespace {

// The verdict on a changed chain that is certainly a chain: interception or variation.
void judge_changed_chain(ScanResult& result, const ChainAssessment& assessment, const AssessmentContext& context,
                         UtcSeconds time) {
  // Trusted as a chain, whatever the name: a changed but valid chain is CDN-style variation.
  const auto chain_validation = context.trust_store.validate(assessment.chain, {.at = context.at.value_or(time)});
  if (assessment.verdict.kind == VerdictKind::kIntercepted) {
    result.verdict = ScanVerdict::kIntercepted;
    result.reasons.insert(result.reasons.end(), assessment.verdict.reasons.begin(), assessment.verdict.reasons.end());
  } else if (!chain_validation.browser_trusted) {
    result.verdict = ScanVerdict::kIntercepted;
    result.reasons.push_back(fmt::format("the changed chain is not browser-trusted ({}); no known interceptor",
                                         chain_validation.browser_error));
  } else {
    result.verdict = ScanVerdict::kMismatch;
    result.reasons.push_back("the changed chain is browser-trusted: variation (CDN, load balancer), not interception");
  }
}

}  // namespace

ScanResult judge_anomaly(const Observation& changed, const HostTemplate& host_template, int attempts, TemplateSource source,
                         const AssessmentContext& context) {
  ScanResult result;
  result.reasons = host_template.differences(changed);
  result.reasons.push_back(fmt::format("all {} tries differ from the template; a {} re-test right after matched", attempts,
                                       source == TemplateSource::kTestNames ? "template name" : "control"));
  result.observation = changed;
  if (changed.error || changed.chain_der.empty()) {
    result.verdict = ScanVerdict::kError;
    return result;
  }
  auto assessment = assess_observation(changed, context);
  judge_changed_chain(result, assessment, context, changed.time);
  if (result.verdict == ScanVerdict::kIntercepted && !assessment.chain.empty()) {
    if (auto genuine = Certificate::from_der_cached(host_template.genuine_chain().front())) {
      result.forging = analyze_forging(assessment.chain.front(), *genuine);
    }
  }
  result.assessment = std::move(assessment);
  return result;
}

ScanResult judge_alone(Observation observation, const std::string& device_evidence, const AssessmentContext& context) {
  ScanResult result;
  result.assessment = assess_observation(observation, context);
  if (result.assessment->verdict.known_interceptor) {
    result.verdict = ScanVerdict::kIntercepted;
    result.reasons = {device_evidence};
    result.reasons.insert(result.reasons.end(), result.assessment->verdict.reasons.begin(),
                          result.assessment->verdict.reasons.end());
  } else if (!observation.chain_der.empty() && chain_trusted(observation.chain_der, context)) {
    result.verdict = ScanVerdict::kClean;
    result.reasons = {"a browser-trusted chain: the device that forges the controls let this name through"};
  } else {
    result.verdict = ScanVerdict::kError;
    result.reasons = {"the device forges the controls; this name got " + describe_answer(observation)};
  }
  result.observation = std::move(observation);
  return result;
}

}  // namespace mitmscope
