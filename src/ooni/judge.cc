#include "ooni/judge.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "x509/issuer_index.h"

namespace mitmscope::ooni {
namespace {

// The leaf's issuer: the archived next certificate when it signed the leaf, otherwise a CA certificate of the
// pool that the index proposes and whose key verifies the leaf. Each (certificate, issuer) signature is checked
// once, each leaf resolved once.
class IssuerResolver {
 public:
  explicit IssuerResolver(const std::vector<CertificateFacts>& certificates) : certificates_(certificates) {
    for (uint32_t id = 0; id < certificates.size(); ++id) {
      const auto& facts = certificates[id];
      if (facts.certificate && facts.is_ca) index_.add(id, *facts.certificate);
    }
  }

  // (issuer, found in the corpus rather than archived with this handshake)
  std::pair<std::optional<uint32_t>, bool> resolve(const std::vector<uint32_t>& chain) {
    const uint32_t leaf = chain.front();
    if (!certificates_[leaf].certificate) return {std::nullopt, false};
    if (chain.size() > 1 && signed_by(leaf, chain[1])) return {chain[1], false};
    auto [found, inserted] = resolved_.try_emplace(leaf);
    if (inserted) {
      found->second = find_issuer(index_, *certificates_[leaf].certificate,
                                  [&](uint32_t candidate) { return candidate != leaf && signed_by(leaf, candidate); });
    }
    const auto& issuer = found->second;
    const bool archived = issuer && std::find(chain.begin(), chain.end(), *issuer) != chain.end();
    return {issuer, issuer && !archived};
  }

 private:
  bool signed_by(uint32_t certificate, uint32_t issuer) {
    auto [found, inserted] = signatures_.try_emplace({certificate, issuer}, false);
    if (inserted) {
      const auto& subject = certificates_[certificate].certificate;
      const auto& signer = certificates_[issuer].certificate;
      found->second = subject && signer && subject->signed_by(*signer);
    }
    return found->second;
  }

  const std::vector<CertificateFacts>& certificates_;
  IssuerIndex index_;
  std::unordered_map<uint32_t, std::optional<uint32_t>> resolved_;
  std::map<std::pair<uint32_t, uint32_t>, bool> signatures_;
};

std::string issuer_key(const std::vector<CertificateFacts>& certificates, const CertificateFacts& leaf,
                       std::optional<uint32_t> issuer) {
  if (issuer) return "sha256:" + certificates[*issuer].sha256;
  if (!leaf.authority_key_id.empty()) return "aki:" + leaf.authority_key_id;
  if (leaf.certificate) return "name:" + leaf.issuer;
  return "unparseable";
}

// The first chain certificate attributed to a registry entry, else the issuer found in the corpus.
void attribute(JudgedHandshake& judged, const std::vector<CertificateFacts>& certificates) {
  const KeptHandshake& kept = *judged.handshake;
  for (size_t position = 0; position < kept.chain.size(); ++position) {
    const auto& facts = certificates[kept.chain[position]];
    if (!facts.registry) continue;
    judged.root = facts.registry.entry;
    judged.attributed_position = static_cast<int16_t>(position);
    return;
  }
  if (judged.issuer && judged.issuer_from_corpus && certificates[*judged.issuer].registry) {
    judged.root = certificates[*judged.issuer].registry.entry;
    judged.attributed_position = JudgedHandshake::kIssuerFromCorpus;
  }
}

HandshakeEvidence evidence_of(const JudgedHandshake& judged, const CertificateFacts& leaf) {
  const KeptHandshake& kept = *judged.handshake;
  return {.known_interceptor = judged.root != nullptr,
          .leaf_parsed = leaf.certificate.has_value(),
          .leaf_self_signed = leaf.self_signed,
          .trusted = kept.trusted,
          .untrusted_shown = kept.chain.size() > 1 || !kept.failure.empty(),
          .dns_consistent = kept.dns_consistent,
          .control_tls_ok = kept.control_tls_ok,
          .matches_template = kept.matches_template,
          .failure = kept.failure,
          .validation_error = kept.validation_error,
          .test_name = kept.test_name,
          .forged_domains = judged.forged_domains};
}

}  // namespace

void judge_handshakes(AnalysisResult& result, const std::vector<CertificateFacts>& certificates, size_t min_forged_domains) {
  auto keys = std::make_unique<StringPool>();
  IssuerResolver resolver(certificates);
  result.judged.resize(result.kept.size());
  // First: issuers and attribution, and the registrable domains each issuer key forged for.
  std::unordered_map<std::string_view, std::set<std::string>> forged_domains;
  for (size_t i = 0; i < result.kept.size(); ++i) {
    JudgedHandshake& judged = result.judged[i];
    judged.handshake = result.kept[i];
    const auto& leaf = certificates[judged.handshake->chain.front()];
    std::tie(judged.issuer, judged.issuer_from_corpus) = resolver.resolve(judged.handshake->chain);
    judged.issuer_key = keys->intern(issuer_key(certificates, leaf, judged.issuer));
    attribute(judged, certificates);
    if (!judged.root && counts_for_forging_rule(evidence_of(judged, leaf))) {
      forged_domains[judged.issuer_key].insert(registrable_domain(judged.handshake->sni));
    }
  }
  // Then the rules, which need the whole corpus's forging-CA counts.
  for (JudgedHandshake& judged : result.judged) {
    if (!judged.root) {
      const auto domains = forged_domains.find(judged.issuer_key);
      judged.forged_domains = domains == forged_domains.end() ? 0 : static_cast<uint32_t>(domains->second.size());
    }
    judged.category = decide_category(evidence_of(judged, certificates[judged.handshake->chain.front()]), min_forged_domains);
    judged.verdict = category_verdict(judged.category);
  }
  result.strings.push_back(std::move(keys));
  result.min_forged_domains = min_forged_domains;
}

namespace {

std::string control_text(const KeptHandshake& kept) {
  if (kept.control_tls_ok == Tri::kYes) {
    return kept.control_from_http ? "the control fetched the HTTPS page without error"
                                  : "the control's own handshake to the same address succeeded";
  }
  if (kept.control_tls_ok == Tri::kNo) {
    return kept.control_from_http ? std::string("the control could not fetch the HTTPS page either")
                                  : fmt::format("the control's handshake to the same address failed too ({})",
                                                kept.control_failure.empty() ? "failed" : kept.control_failure);
  }
  return "no control handshake to compare with";
}

std::string_view registry_verb(const CertificateFacts& facts) {
  switch (facts.registry.method) {
    case AttributionMethod::kIdenticalCertificate: return "is";
    case AttributionMethod::kSameKey: return "carries the key of";
    case AttributionMethod::kSignature: return "is signed by";
  }
  return "matches";
}

std::vector<std::string> known_interceptor_reasons(const AnalysisResult& result, const JudgedHandshake& judged) {
  const KeptHandshake& kept = *judged.handshake;
  if (judged.attributed_position >= 0) {
    const auto& facts = result.certificates[kept.chain[static_cast<size_t>(judged.attributed_position)]];
    return {fmt::format("certificate {} ({}) {} registry entry '{}' ({})", judged.attributed_position, facts.subject,
                        registry_verb(facts), judged.root->id, judged.root->name)};
  }
  const auto& facts = result.certificates[*judged.issuer];
  return {fmt::format("the probe archived only the leaf; its issuer {} (SHA-1 {}), found in other measurements by its "
                      "key identifier and verified by signature, {} registry entry '{}' ({})",
                      facts.subject, facts.sha1, registry_verb(facts), judged.root->id, judged.root->name)};
}

std::vector<std::string> untrusted_reasons(const AnalysisResult& result, const JudgedHandshake& judged) {
  const KeptHandshake& kept = *judged.handshake;
  const auto& leaf = result.certificates[kept.chain.front()];
  const std::string_view failure = kept.failure.empty() ? kept.validation_error : kept.failure;
  std::vector<std::string> reasons = {fmt::format("untrusted for {} ({})", kept.sni, failure)};
  switch (judged.category) {
    case OoniCategory::kForgingCa:
      if (kept.dns_consistent == Tri::kYes && kept.control_tls_ok == Tri::kYes) {
        reasons.push_back("DNS agreed with the control");
        reasons.push_back(control_text(kept));
      } else {
        reasons.push_back(fmt::format("no control of its own ({}, {}): the issuer was proven by other measurements",
                                      data_source_name(kept.source), kept.matches_template == Tri::kNo ? "answer unlike the host's template" : "no DNS or control view"));
      }
      reasons.push_back(fmt::format("the same issuer ({}) signed certificates for {} unrelated domains seen where DNS and "
                                    "the control agreed",
                                    judged.issuer ? result.certificates[*judged.issuer].subject : leaf.issuer,
                                    judged.forged_domains));
      break;
    case OoniCategory::kIssuerOnFewDomains:
      reasons.push_back(fmt::format("its issuer signed certificates for {} unrelated domain(s) seen with a consistent DNS "
                                    "and a successful control, fewer than {}",
                                    judged.forged_domains, result.min_forged_domains));
      break;
    default:
      reasons.push_back(control_text(kept));
  }
  return reasons;
}

}  // namespace

std::vector<std::string> judged_reasons(const AnalysisResult& result, const JudgedHandshake& judged) {
  const KeptHandshake& kept = *judged.handshake;
  const auto& leaf = result.certificates[kept.chain.front()];
  const std::string_view failure = kept.failure.empty() ? kept.validation_error : kept.failure;
  switch (judged.category) {
    case OoniCategory::kKnownInterceptor:
      return known_interceptor_reasons(result, judged);
    case OoniCategory::kUnparseableCertificate:
      return {"the leaf certificate does not parse: " + leaf.parse_error};
    case OoniCategory::kLoneLeaf:
      return {fmt::format("only the leaf was recorded and the prober did not reject it: its issuer ({}) is neither known "
                          "nor proven to forge, and it may be a public CA's intermediate", leaf.issuer)};
    case OoniCategory::kMatchesTemplate:
      return {"Censored Planet compared this answer with the host's answers to its control names and they matched: the "
              "host presents this certificate for any name, so nothing on the path changed it"};
    case OoniCategory::kSelfSignedService:
      return {fmt::format("the certificate is self-signed ({}): a service with its own pinned certificate, not a forging CA",
                          leaf.subject)};
    case OoniCategory::kPinnedByTest:
      return {"the signal test verifies Signal's servers against Signal's own CA only, and this handshake passed that check"};
    case OoniCategory::kDnsInconsistent:
      return {"the address came from DNS answers the control did not see: DNS manipulation, not interception on the path "
              "to the real server"};
    case OoniCategory::kServerCertificateInvalid:
      return {fmt::format("the server's own certificate is invalid ({}), not forged: {}", failure, control_text(kept))};
    case OoniCategory::kServerHostnameMismatch:
      return {fmt::format("the server presents a certificate for another name ({}): {}",
                          fmt::join(leaf.certificate->dns_names(), ", "), control_text(kept))};
    case OoniCategory::kControlFailedToo:
      return {control_text(kept) + ": the problem is the server's, not the path's"};
    case OoniCategory::kForgingCa:
    case OoniCategory::kIssuerOnFewDomains:
    case OoniCategory::kNoControl:
      return untrusted_reasons(result, judged);
  }
  return {};
}

}  // namespace mitmscope::ooni
