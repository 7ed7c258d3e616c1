#include "ooni/families.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "ooni/analysis.h"
#include "x509/shape.h"

namespace mitmscope::ooni {
namespace {

constexpr auto kNearDuplicate = std::chrono::hours{24};

std::string key_text(const PublicKeyInfo& key) {
  if (key.type == "RSA") return fmt::format("RSA {} e={}", key.bits, key.rsa_exponent);
  if (key.type == "EC") return fmt::format("EC {}", key.curve);
  return fmt::format("{} {}", key.type, key.bits);
}

// Union-find over candidate indexes.
size_t root_of(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

std::optional<FamilyLink> link_of(const FamilyCandidate& a, const FamilyCandidate& b, size_t i, size_t j) {
  if (!a.spki.empty() && a.spki == b.spki) {
    return FamilyLink{i, j, fmt::format("the same key: {} and {} carry one public key", a.name, b.name)};
  }
  if (a.name == b.name && a.made && b.made) {
    const auto apart = *a.made > *b.made ? *a.made - *b.made : *b.made - *a.made;
    if (apart < kNearDuplicate) {
      return FamilyLink{i, j, fmt::format("one name ({}), made {} minutes apart",
                                          a.name, std::chrono::duration_cast<std::chrono::minutes>(apart).count())};
    }
  }
  if (!a.parent.empty() && a.parent == b.parent) {
    return FamilyLink{i, j, fmt::format("{} and {} were both signed by CAs named {}", a.name, b.name, a.parent)};
  }
  if (a.profile && b.profile && *a.profile == *b.profile) {
    return FamilyLink{i, j, fmt::format("{} and {} mint leaves of one profile: {}", a.name, b.name, profile_text(*a.profile))};
  }
  return std::nullopt;
}

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
  candidate.name = issuer.subject;
  candidate.spki = issuer.certificate->spki_sha256_hex();
  candidate.made = issuer.certificate->not_before();
  if (!issuer.self_signed) candidate.parent = issuer.issuer;
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

// The links that joined the group, one fewer than its members: why each member belongs, without every pair.
std::vector<std::string> spanning_evidence(const std::vector<size_t>& group, const std::vector<FamilyLink>& links) {
  std::map<size_t, size_t> parent;
  for (size_t member : group) parent[member] = member;
  auto find = [&](size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  std::vector<std::string> evidence;
  for (const auto& link : links) {
    if (!parent.contains(link.a)) continue;
    const size_t a = find(link.a), b = find(link.b);
    if (a == b) continue;
    parent[a] = b;
    evidence.push_back(link.evidence);
  }
  return evidence;
}

}  // namespace

LeafProfile leaf_profile(const Certificate& leaf) {
  LeafProfile profile;
  profile.key = key_text(leaf.public_key());
  if (auto from = leaf.not_before(), to = leaf.not_after(); from && to) {
    profile.validity_days = std::chrono::duration_cast<std::chrono::days>(*to - *from).count();
  }
  profile.serial_bytes = leaf.serial_bytes().size();
  profile.shape = certificate_shape(leaf).shape_id;
  return profile;
}

std::string profile_text(const LeafProfile& profile) {
  return fmt::format("{}, {} days, {}-byte serials, shape {}", profile.key, profile.validity_days, profile.serial_bytes,
                     profile.shape);
}

std::vector<FamilyLink> family_links(const std::vector<FamilyCandidate>& candidates) {
  std::vector<FamilyLink> links;
  for (size_t i = 0; i < candidates.size(); ++i) {
    for (size_t j = i + 1; j < candidates.size(); ++j) {
      if (auto link = link_of(candidates[i], candidates[j], i, j)) links.push_back(std::move(*link));
    }
  }
  return links;
}

std::vector<std::vector<size_t>> family_groups(size_t candidates, const std::vector<FamilyLink>& links) {
  std::vector<size_t> parent(candidates);
  std::iota(parent.begin(), parent.end(), 0);
  for (const auto& link : links) parent[root_of(parent, link.a)] = root_of(parent, link.b);
  std::map<size_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < candidates; ++i) groups[root_of(parent, i)].push_back(i);
  std::vector<std::vector<size_t>> out;
  for (auto& [root, members] : groups) out.push_back(std::move(members));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.front() < b.front(); });
  return out;
}

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
