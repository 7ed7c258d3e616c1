#include "analyze/result_facts.h"

#include <fmt/format.h>

namespace mitmscope {

ForgingFacts forging_facts(const ForgingAnalysis& analysis) {
  ForgingFacts facts;
  facts.not_before_shift_hours = analysis.not_before_shift_hours;
  facts.not_after_shift_hours = analysis.not_after_shift_hours;
  facts.serial_leading_bits_kept = analysis.serial_leading_bits_kept;
  facts.serial_trailing_bits_differing = analysis.serial_trailing_bits_differing;
  facts.serial_length_changed = analysis.serial_length_changed;
  facts.key_type = analysis.presented_key.type;
  facts.key_bits = analysis.presented_key.bits;
  facts.key_exponent = analysis.presented_key.rsa_exponent;
  for (const auto& extension : analysis.extensions_dropped) facts.extensions_dropped.push_back(extension.name);
  return facts;
}

ResultFacts scan_result_facts(const ScanResult& result, const AsnInfo* asn) {
  ResultFacts facts;
  facts.outcome = scan_outcome(result.verdict);
  facts.source = std::string(scan_source_name(ScanSource::kScan));
  if (asn && asn->asn != 0) facts.networks.push_back(fmt::format("AS{}", asn->asn));
  if (result.host) facts.networks.insert(facts.networks.end(), result.host->tags.begin(), result.host->tags.end());
  if (result.assessment) {
    const auto& assessment = *result.assessment;
    if (assessment.verdict.known_interceptor) facts.interceptor = assessment.verdict.known_interceptor->id;
    if (!assessment.chain.empty()) facts.issuer = assessment.chain.front().issuer();
    facts.ja3s = assessment.fingerprints.ja3s;
    facts.ja4s = assessment.fingerprints.ja4s;
    if (!assessment.fingerprints.ja4x.empty()) facts.ja4x = assessment.fingerprints.ja4x.front();
  }
  if (result.forging) facts.forging = forging_facts(*result.forging);
  return facts;
}

}  // namespace mitmscope
