#include "ooni/families.h"

#include <algorithm>

#include <fmt/format.h>

#include "ooni/analysis.h"

namespace mitmscope::ooni {
namespace {
// What the analysis says of one candidate issuer.
struct IssuerTally {
  FamilyCandidate candidate;
  std::set<std::string> registrable;
  std::map<LeafProfile, size_t> profiles;
  std::set<std::string> registry;
  std::set<uint32_t> certificates;
  IssuerFamily uses;   // first/last seen, counts, domains, networks, sources
};

bool forging_evidence(const JudgedHandshake& judged) {
  if (judged.verdict == OoniVerdict::kIntercepted) return true;
  return judged.verdict == OoniVerdict::kInconclusive && judged.category != OoniCategory::kUnparseableCertificate;
}

void add_use(IssuerFamily& uses, const KeptHandshake& kept, bool intercepted) {
  const UtcSeconds time{std::chrono::seconds{kept.time}};
  if (uses.handshakes == 0 || time < uses.first_seen) uses.first_seen = time;
  if (uses.handshakes == 0 || time > uses.last_seen) uses.last_seen = time;
  ++uses.handshakes;
  uses.intercepted += intercepted ? 1 : 0;
  uses.domains.insert(std::string(kept.sni));
  if (kept.asn != 0) uses.networks.insert(kept.asn);
  ++uses.sources[std::string(data_source_name(kept.source))];
}

void describe_issuer(IssuerTally& tally, const AnalysisResult& result, const JudgedHandshake& judged) {
  FamilyCandidate& candidate = tally.candidate;
  candidate.issuer_key = std::string(judged.issuer_key);
  const auto& leaf = result.certificates[judged.handshake->chain.front()];
  candidate.name = leaf.issuer;
  if (!judged.issuer) return;
  const auto& issuer = result.certificates[*judged.issuer];
  if (!issuer.certificate) return;
  candidate = describe_ca(*issuer.certificate);
  candidate.issuer_key = std::string(judged.issuer_key);
}

std::map<std::string, IssuerTally> tally_issuers(const AnalysisResult& result) {
  std::map<std::string, IssuerTally> issuers;
  std::map<uint32_t, LeafProfile> profiles;   // per leaf certificate, computed once
  for (const auto& judged : result.judged) {
    if (!forging_evidence(judged) || judged.issuer_key.empty() || judged.handshake->chain.empty()) continue;
    const KeptHandshake& kept = *judged.handshake;
    auto [found, fresh] = issuers.try_emplace(std::string(judged.issuer_key));
    IssuerTally& tally = found->second;
    if (fresh) describe_issuer(tally, result, judged);
    tally.registrable.insert(registrable_domain(kept.sni));
    add_use(tally.uses, kept, judged.verdict == OoniVerdict::kIntercepted);
    if (judged.root) tally.registry.insert(judged.root->name);
    if (judged.issuer) tally.certificates.insert(*judged.issuer);
    for (size_t position = 1; position < kept.chain.size(); ++position) tally.certificates.insert(kept.chain[position]);
    const uint32_t leaf_id = kept.chain.front();
    if (const auto& leaf = result.certificates[leaf_id].certificate) {
      auto profile = profiles.find(leaf_id);
      if (profile == profiles.end()) profile = profiles.emplace(leaf_id, leaf_profile(*leaf)).first;
      ++tally.profiles[profile->second];
    }
  }
  return issuers;
}

IssuerFamily merge_family(std::vector<IssuerTally*>& members) {
  IssuerFamily family;
  for (IssuerTally* member : members) {
    family.issuer_keys.push_back(member->candidate.issuer_key);
    family.issuer_names.push_back(member->candidate.name);
    for (const auto& name : member->registry) family.registry.push_back(name);
    if (member->candidate.profile) family.profiles.push_back(profile_text(*member->candidate.profile));
    family.certificates.insert(family.certificates.end(), member->certificates.begin(), member->certificates.end());
    const IssuerFamily& uses = member->uses;
    if (family.handshakes == 0 || uses.first_seen < family.first_seen) family.first_seen = uses.first_seen;
    if (family.handshakes == 0 || uses.last_seen > family.last_seen) family.last_seen = uses.last_seen;
    family.handshakes += uses.handshakes;
    family.intercepted += uses.intercepted;
    family.domains.insert(uses.domains.begin(), uses.domains.end());
    family.networks.insert(uses.networks.begin(), uses.networks.end());
    for (const auto& [source, count] : uses.sources) family.sources[source] += count;
  }
  for (auto* list : {&family.registry, &family.profiles}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  std::sort(family.certificates.begin(), family.certificates.end());
  family.certificates.erase(std::unique(family.certificates.begin(), family.certificates.end()), family.certificates.end());
  return family;
}

}  // namespace

std::vector<IssuerFamily> find_families(const AnalysisResult& result, size_t min_domains) {
  auto issuers = tally_issuers(result);
  std::vector<IssuerTally*> candidates;
  for (auto& [key, tally] : issuers) {
    if (tally.registrable.size() < min_domains && tally.uses.intercepted == 0) continue;
    if (!tally.profiles.empty()) {
      tally.candidate.profile = std::max_element(tally.profiles.begin(), tally.profiles.end(), [](const auto& a, const auto& b) {
                                  return a.second < b.second;
                                })->first;
    }
    candidates.push_back(&tally);
  }
  std::vector<FamilyCandidate> described;
  for (const IssuerTally* tally : candidates) described.push_back(tally->candidate);
  const auto links = family_links(described);
  std::vector<IssuerFamily> families;
  for (const auto& group : family_groups(described.size(), links)) {
    std::vector<IssuerTally*> members;
    for (size_t index : group) members.push_back(candidates[index]);
    std::sort(members.begin(), members.end(), [](const IssuerTally* a, const IssuerTally* b) {   // by first use
      return std::tie(a->uses.first_seen, a->candidate.issuer_key) < std::tie(b->uses.first_seen, b->candidate.issuer_key);
    });
    IssuerFamily family = merge_family(members);
    family.evidence = spanning_evidence(group, links);
    families.push_back(std::move(family));
  }
  std::sort(families.begin(), families.end(), [](const IssuerFamily& a, const IssuerFamily& b) {
    return std::tie(a.first_seen, a.issuer_keys) < std::tie(b.first_seen, b.issuer_keys);
  });
  for (size_t i = 0; i < families.size(); ++i) families[i].id = fmt::format("family-{}", i + 1);
  return families;
}

}  // namespace mitmscope::ooni
