#include "analyze/forged_chain.h"

#include <algorithm>

#include <fmt/format.h>

namespace mitmscope {

std::string_view chain_role_name(ChainRole role) {
  switch (role) {
    case ChainRole::kRoot: return "root";
    case ChainRole::kIntermediate: return "intermediate";
    case ChainRole::kLeaf: return "leaf";
  }
  return "leaf";
}

namespace {

constexpr std::string_view kStoredWithResult = "stored with the result";

// The registry entry that is, or signed, `top`: its certificate, when that is a root above `top`.
std::optional<ChainLink> registry_root(const Certificate& top, const InterceptorRegistry& registry) {
  const Certificate alone[] = {top};
  const Attribution attribution = registry.attribute(alone);
  if (!attribution || !attribution.entry->certificate) return std::nullopt;
  const Certificate& found = *attribution.entry->certificate;
  if (found == top || !top.signed_by(found)) return std::nullopt;
  return ChainLink{found.self_signed() ? ChainRole::kRoot : ChainRole::kIntermediate, found,
                   fmt::format("registry: {}", attribution.entry->id)};
}

}  // namespace

std::vector<ChainLink> chain_links(std::span<const Certificate> leaf_first, const InterceptorRegistry* registry) {
  std::vector<ChainLink> links;
  for (size_t i = 0; i < leaf_first.size(); ++i) {
    const Certificate& certificate = leaf_first[i];
    const ChainRole role = i == 0 ? ChainRole::kLeaf : certificate.self_signed() ? ChainRole::kRoot : ChainRole::kIntermediate;
    links.push_back({role, certificate, std::string(kStoredWithResult)});
    if (role == ChainRole::kRoot) break;
  }
  if (!links.empty() && links.back().role != ChainRole::kRoot && registry) {
    if (auto root = registry_root(links.back().certificate, *registry)) links.push_back(std::move(*root));
  }
  std::ranges::reverse(links);
  return links;
}

Result<std::optional<ForgedChain>> forged_chain(Store& store, const InterceptorRegistry* registry) {
  auto issuers = store.intercepting_issuers();
  if (!issuers) return std::unexpected(issuers.error());
  const auto most = std::ranges::max_element(*issuers, {}, [](const IssuerUse& use) { return use.results; });
  if (most == issuers->end()) return std::optional<ForgedChain>();
  auto example = store.example_intercepted(most->sha256);
  if (!example) return std::unexpected(example.error());
  if (!*example) return std::optional<ForgedChain>();
  std::vector<Certificate> chain;
  for (const auto& [sha256, der] : (*example)->certificates) {
    if (auto certificate = Certificate::from_der(der)) chain.push_back(std::move(*certificate));
  }
  const auto& result = **example;
  return std::optional<ForgedChain>(ForgedChain{chain_links(chain, registry), most->sha256, most->results,
                                                fmt::format("{}:{} {} {}", result.ip, result.port, result.sni, result.time)});
}

}  // namespace mitmscope
