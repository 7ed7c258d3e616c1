// The known-interceptor registry: certificates (and bare SPKI hashes) of CAs that
// were used for large-scale TLS interception, with where, when and who.
//
// Attribution is by key, never by name. Seven Kazakh ISCA roots share one subject
// name, and anyone can mint a certificate with that name. A certificate is
// attributed to an entry when it IS the entry (same SHA-256), carries the entry's
// key (same SPKI SHA-256, Chromium's blocklist form), or its signature verifies
// with the entry's key; the Authority Key Identifier only picks which entry to try
// first. A certificate whose issuer or subject name equals an entry's but whose
// key or signature does not is reported as a name collision, not attributed.
//
// The shipped entries are embedded in the binary at build time from data/known-roots/
// (registry.json + PEM files); users add their own with --known-roots DIR, where a
// DIR holds PEM files and optionally a registry.json in the same format.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "x509/certificate.h"
#include "x509/issuer_index.h"

namespace mitmscope {

struct RegistryEntry {
  std::string id;
  std::string name;
  std::string country;
  std::string operator_name;
  std::string kind;                 // "root" or "intermediate"
  std::string period_from;          // ISO date (possibly partial), empty when unknown
  std::string period_to;
  std::string incident;
  std::vector<std::string> references;
  std::string source;
  std::string origin;               // "builtin" or the file it came from
  std::optional<Certificate> certificate;
  std::vector<Sha256> spki_sha256;  // the certificate's, plus any listed in metadata
};

enum class AttributionMethod {
  kIdenticalCertificate,  // the presented certificate is the registry certificate
  kSameKey,               // same SubjectPublicKeyInfo (SPKI SHA-256)
  kSignature,             // signature verified with the entry's key
};
std::string_view attribution_method_name(AttributionMethod method);

struct NameCollision {
  size_t chain_position = 0;
  std::string entry_id;
  std::string detail;
};

struct Attribution {
  std::shared_ptr<const RegistryEntry> entry;  // null: not attributed
  AttributionMethod method = AttributionMethod::kSignature;
  size_t chain_position = 0;                   // the certificate that matched or was signed
  bool authority_key_id_matched = false;       // AKI present and equal to the entry's SKI
  std::vector<NameCollision> collisions;
  std::vector<std::string> reasons;

  explicit operator bool() const { return entry != nullptr; }
};

class InterceptorRegistry {
 public:
  // The entries shipped with mitmscope (embedded at build time).
  static Result<InterceptorRegistry> builtin();
  // A directory of PEM files, with an optional registry.json describing them.
  static Result<InterceptorRegistry> load_directory(const std::filesystem::path& directory);
  // Parses a registry.json text whose certificates come from `pem_files` (name -> content).
  static Result<InterceptorRegistry> from_metadata(std::string_view registry_json, std::string_view origin,
                                                   const std::vector<std::pair<std::string, std::string>>& pem_files);

  void merge(const InterceptorRegistry& other);

  // Looks at every certificate of a chain as presented (leaf first) and returns the
  // first one that is, shares a key with, or was signed by a registry entry.
  Attribution attribute(std::span<const Certificate> chain) const;

  const std::vector<std::shared_ptr<const RegistryEntry>>& entries() const { return entries_; }
  std::shared_ptr<const RegistryEntry> find(std::string_view id) const;

 private:
  void add_entry(std::shared_ptr<const RegistryEntry> entry);
  std::vector<uint32_t> signer_candidates(const Certificate& certificate) const;

  std::vector<std::shared_ptr<const RegistryEntry>> entries_;
  IssuerIndex signers_;                    // entries_ positions of the entries with a certificate
};

}  // namespace mitmscope
