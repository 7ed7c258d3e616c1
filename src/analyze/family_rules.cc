#include "analyze/family_rules.h"

#include <algorithm>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "x509/shape.h"

namespace mitmscope {
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

FamilyCandidate describe_ca(const Certificate& issuer) {
  FamilyCandidate candidate;
  candidate.name = issuer.subject();
  candidate.spki = issuer.spki_sha256_hex();
  candidate.made = issuer.not_before();
  // A root (self-issued and self-signed) has no CA above it; the analysis's `self_signed` is the same test.
  if (!(issuer.self_issued() && issuer.self_signed())) candidate.parent = issuer.issuer();
  return candidate;
}

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


}  // namespace mitmscope
