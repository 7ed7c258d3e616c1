// IssuerIndex: CA certificates by Subject Key Identifier and by subject name, to find who signed a certificate
// the one way mitmscope does it everywhere (the registry's attribution, OONI's leaf-only chains): the
// certificate's Authority Key Identifier and its issuer name pick the candidates, and only a signature check
// decides. A name or key identifier is never trusted on its own: a forged certificate can copy both, and the
// seven Kazakh ISCA roots share one name. Ids are the caller's (positions in its own list).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "x509/certificate.h"

namespace mitmscope {

class IssuerIndex {
 public:
  void add(uint32_t id, const Certificate& ca);
  // Who may have signed `certificate`, ids ascending without repeats: the CA certificates whose Subject Key
  // Identifier equals its Authority Key Identifier, and those whose subject name hashes like its issuer name.
  std::vector<uint32_t> candidates(const Certificate& certificate) const;
  size_t size() const { return size_; }

 private:
  std::unordered_map<std::string, std::vector<uint32_t>> by_key_id_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> by_name_;
  size_t size_ = 0;
};

// The first candidate (ids ascending) whose key verifies `certificate`'s signature. `signed_by(id)` does the
// check, so callers can memoize it or keep certificates where they like.
template <typename SignedBy>
std::optional<uint32_t> find_issuer(const IssuerIndex& index, const Certificate& certificate, SignedBy&& signed_by) {
  for (uint32_t candidate : index.candidates(certificate)) {
    if (signed_by(candidate)) return candidate;
  }
  return std::nullopt;
}

}  // namespace mitmscope
