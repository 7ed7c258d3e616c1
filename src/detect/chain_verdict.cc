#include "detect/chain_verdict.h"

#include <fmt/format.h>

#include "tls/fingerprint_parts.h"
#include "tls/server_hello.h"
#include "x509/shape.h"

namespace mitmscope {

ChainAssessment assess_chain(Chain chain, const std::optional<std::string>& hostname, const AssessmentContext& context,
                             UtcSeconds default_time) {
  ChainAssessment assessment;
  assessment.chain = std::move(chain);
  assessment.validation = context.trust_store.validate(
      assessment.chain, ValidationOptions{.hostname = hostname, .at = context.at.value_or(default_time)});
  assessment.attribution = context.registry.attribute(assessment.chain);
  if (context.foxio) {
    for (const auto& certificate : assessment.chain) assessment.fingerprints.ja4x.push_back(ja4x(certificate));
  }
  Verdict& verdict = assessment.verdict;
  if (assessment.chain.empty()) {
    verdict.kind = VerdictKind::kError;
    verdict.reasons.push_back("no certificate to judge");
    return assessment;
  }
  if (const auto& attribution = assessment.attribution) {
    const auto& entry = *attribution.entry;
    verdict.kind = VerdictKind::kIntercepted;
    verdict.known_interceptor = KnownInterceptor{
        .id = entry.id,
        .name = entry.name,
        .country = entry.country,
        .root_sha256 = entry.certificate ? entry.certificate->sha256_hex() : std::string(),
        .method = std::string(attribution_method_name(attribution.method)),
        .chain_position = attribution.chain_position,
    };
    verdict.reasons = attribution.reasons;
    if (assessment.validation.browser_trusted) {
      verdict.reasons.push_back("the chain is nevertheless browser-trusted by the chosen trust store");
    }
    return assessment;
  }
  if (assessment.validation.browser_trusted) {
    verdict.kind = VerdictKind::kClean;
    verdict.reasons.push_back(fmt::format("browser-trusted by {}{}", context.trust_store.description(),
                                          hostname ? fmt::format(" for {}", *hostname) : std::string()));
  } else {
    verdict.kind = VerdictKind::kUntrusted;
    for (const auto& issue : assessment.validation.issues) {
      verdict.reasons.push_back(fmt::format("{} at depth {}: {}", issue.name, issue.depth, issue.message));
    }
  }
  verdict.reasons.insert(verdict.reasons.end(), assessment.attribution.reasons.begin(),
                         assessment.attribution.reasons.end());
  return assessment;
}

ChainAssessment assess_observation(const Observation& observation, const AssessmentContext& context) {
  Chain chain;
  std::vector<std::string> parse_errors;
  for (size_t i = 0; i < observation.chain_der.size(); ++i) {
    auto certificate = Certificate::from_der_cached(observation.chain_der[i]);
    if (certificate) {
      chain.push_back(std::move(*certificate));
    } else {
      parse_errors.push_back(fmt::format("certificate {}: {}", i, certificate.error().message));
    }
  }
  std::optional<std::string> hostname;
  if (!observation.sni.empty()) hostname = observation.sni;
  ChainAssessment assessment = assess_chain(std::move(chain), hostname, context, observation.time);
  assessment.parse_errors = std::move(parse_errors);
  if (observation.server_hello) {
    auto& fingerprints = assessment.fingerprints;
    fingerprints.ja3s_string = ja3s_string(*observation.server_hello);
    fingerprints.ja3s = md5_hex(fingerprints.ja3s_string);
    if (context.foxio) fingerprints.ja4s = ja4s(*observation.server_hello);
  }
  if (observation.chain_der.empty()) {
    assessment.verdict.kind = VerdictKind::kError;
    assessment.verdict.reasons = {observation.error
                                      ? fmt::format("{}: {}", error_code_name(observation.error->code),
                                                    observation.error->message)
                                      : std::string("the server presented no certificate")};
  }
  for (const auto& error : assessment.parse_errors) assessment.verdict.reasons.push_back("unparseable " + error);
  return assessment;
}

}  // namespace mitmscope
