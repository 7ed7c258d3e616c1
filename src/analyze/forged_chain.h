// The forged chain as the study drew it (its Figure 4): root -> intermediate -> leaf, each with its validity and
// key. The intermediate is the certificate that signed the most intercepted results in a store; the leaf and
// anything above it come from the latest such result as sent; a root the interceptor did not send is found in the
// registry by signature (the lab's and the real interceptors' roots are there).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/store.h"
#include "x509/certificate.h"
#include "x509/registry.h"

namespace mitmscope {

enum class ChainRole { kRoot, kIntermediate, kLeaf };
std::string_view chain_role_name(ChainRole role);

struct ChainLink {
  ChainRole role = ChainRole::kLeaf;
  Certificate certificate;
  std::string source;               // "stored with the result", "registry: qaznet-2019"
};

struct ForgedChain {
  std::vector<ChainLink> links;     // root (when found) first, the leaf last
  std::string issuer_sha256;        // the intermediate that signed the leaf
  size_t results = 0;               // intercepted results it signed
  std::string example;              // "ip:port sni time" of the leaf shown
};

// The chain as links, root first, from the certificates as stored (leaf first). Certificates that do not parse
// are left out; a root the chain lacks is looked up in `registry` when given. Pure.
std::vector<ChainLink> chain_links(std::span<const Certificate> leaf_first, const InterceptorRegistry* registry);

// Empty when the store holds no intercepted result with an issuer.
Result<std::optional<ForgedChain>> forged_chain(Store& store, const InterceptorRegistry* registry);

}  // namespace mitmscope
