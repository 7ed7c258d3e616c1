#include "analyze/stored_families.h"

#include <algorithm>

#include <fmt/format.h>

#include "x509/certificate.h"

namespace mitmscope {
namespace {

void add_member(StoredFamily& family, const FamilyMember& member) {
  const IssuerUse& use = member.use;
  if (family.members.empty() || use.first_seen < family.first_seen) family.first_seen = use.first_seen;
  if (family.members.empty() || use.last_seen > family.last_seen) family.last_seen = use.last_seen;
  family.members.push_back(&member);
  family.results += use.results;
  if (!member.known_as.empty()) family.known_as.insert(member.known_as);
  family.names.insert(member.reach.names.begin(), member.reach.names.end());
  family.networks.insert(member.reach.networks.begin(), member.reach.networks.end());
  for (const auto& [source, count] : member.reach.sources) family.sources[source] += count;
  if (member.candidate.profile) {
    std::string text = profile_text(*member.candidate.profile);
    if (std::ranges::find(family.profiles, text) == family.profiles.end()) family.profiles.push_back(std::move(text));
  }
}

// What the latest intercepted result of one issuer says of the software behind it: its leaf's profile and the
// registry entry it was attributed to.
Result<void> describe_from_example(Store& store, FamilyMember& member) {
  auto example = store.example_intercepted(member.use.sha256);
  if (!example) return std::unexpected(example.error());
  if (!*example) return {};
  member.known_as = (*example)->facts.interceptor;
  const auto& chain = (*example)->certificates;
  if (chain.empty()) return {};
  if (auto leaf = Certificate::from_der(chain.front().second)) member.candidate.profile = leaf_profile(*leaf);
  return {};
}

}  // namespace

std::vector<StoredFamily> group_members(const std::vector<FamilyMember>& members) {
  std::vector<FamilyCandidate> candidates;
  for (const auto& member : members) candidates.push_back(member.candidate);
  const auto links = family_links(candidates);
  std::vector<StoredFamily> families;
  for (const auto& group : family_groups(candidates.size(), links)) {
    std::vector<size_t> order = group;
    std::ranges::sort(order, [&](size_t a, size_t b) {
      return std::tie(members[a].use.first_seen, members[a].use.sha256) < std::tie(members[b].use.first_seen, members[b].use.sha256);
    });
    StoredFamily family;
    for (size_t index : order) add_member(family, members[index]);
    family.evidence = spanning_evidence(group, links);
    families.push_back(std::move(family));
  }
  std::ranges::sort(families, [](const StoredFamily& a, const StoredFamily& b) {
    return std::tie(a.first_seen, a.members.front()->use.sha256) < std::tie(b.first_seen, b.members.front()->use.sha256);
  });
  for (size_t i = 0; i < families.size(); ++i) families[i].id = fmt::format("family-{}", i + 1);
  return families;
}

Result<std::vector<FamilyMember>> family_members(Store& store, const std::vector<IssuerValidity>& issuers) {
  auto reaches = store.issuer_reach();
  if (!reaches) return std::unexpected(reaches.error());
  std::map<std::string, IssuerReach> reach_of;
  for (auto& reach : *reaches) reach_of.emplace(reach.sha256, std::move(reach));
  std::vector<FamilyMember> members;
  for (const auto& issuer : issuers) {
    FamilyMember member;
    if (issuer.certificate) member.candidate = describe_ca(*issuer.certificate);
    member.candidate.issuer_key = issuer.sha256;
    if (member.candidate.name.empty()) member.candidate.name = "sha256:" + issuer.sha256;
    member.use = {issuer.sha256, {}, issuer.results, issuer.first_seen, issuer.last_seen};
    if (auto found = reach_of.find(member.use.sha256); found != reach_of.end()) member.reach = found->second;
    if (auto described = describe_from_example(store, member); !described) return std::unexpected(described.error());
    members.push_back(std::move(member));
  }
  return members;
}

}  // namespace mitmscope
