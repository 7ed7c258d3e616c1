// TrustStore: the set of roots a browser would trust, and path validation against it.
//
// The default is the Mozilla root program as Debian's ca-certificates ships it, one
// file per root in /usr/share/ca-certificates/mozilla/. The system bundle
// (/etc/ssl/certs) is deliberately not used: it may hold locally added CAs, which is
// exactly what an intercepted machine has. Validation follows browser rules as
// OpenSSL implements them (server purpose, hostname check, any certificate in the
// store may anchor a path) at a chosen time, so historical observations are judged
// at their own date. Every problem on the path is collected, not only the first.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "x509/certificate.h"

namespace mitmscope {

inline constexpr const char* kMozillaRootsDirectory = "/usr/share/ca-certificates/mozilla";

struct ValidationOptions {
  std::optional<std::string> hostname;   // checked against SAN (and CN when no SAN)
  std::optional<std::string> ip_address; // checked against SAN iPAddress entries
  std::optional<UtcSeconds> at;          // default: now
  int max_depth = 10;
};

struct ValidationIssue {
  int depth = 0;                         // 0 = leaf
  int openssl_code = 0;
  std::string name;                      // stable short name, see issue_name()
  std::string message;                   // OpenSSL's text
};

struct ValidationResult {
  bool browser_trusted = false;
  // The first problem's short name ("unknown_authority", "expired", "hostname_mismatch"...), empty when trusted.
  std::string browser_error;
  std::vector<ValidationIssue> issues;
  // The path OpenSSL built, leaf first; ends at a trust anchor when browser_trusted.
  std::vector<Certificate> path;
  bool hostname_checked = false;
  bool hostname_matches = false;
  UtcSeconds validated_at{};

  bool has_issue(std::string_view name) const;
};

// The stable name of an OpenSSL X509_V_ERR code.
std::string issue_name(int openssl_code);

class ValidationCache;

// validate() is OpenSSL's X509_verify_cert. The path part of it (everything but the name) depends only on
// the chain and the second, and a scan asks it again for every name a host answers with the same chain:
// it is cached per (chain, second), and the name is checked apart with X509_check_host, OpenSSL's own
// check, its issue put where OpenSSL reports it (after the chain building and extension checks, before the
// signatures and times), so a cached result equals an uncached one field for field (a unit test holds it to
// that over x509-limbo's chains). Copies of a TrustStore share the cache; it is bounded and thread-safe.
class TrustStore {
 public:
  static Result<TrustStore> load(const std::filesystem::path& file_or_directory);
  static Result<TrustStore> load_mozilla_default();
  static Result<TrustStore> from_certificates(Chain roots, std::string description);

  ValidationResult validate(std::span<const Certificate> presented, const ValidationOptions& options) const;
  // The same, always by X509_verify_cert with the name in it (the reference the cache is tested against).
  ValidationResult validate_uncached(std::span<const Certificate> presented, const ValidationOptions& options) const;

  size_t size() const { return roots_->size(); }
  const Chain& roots() const { return *roots_; }
  const std::string& description() const { return description_; }
  bool contains(const Certificate& certificate) const;
  // Validations answered from the cache so far (by this store and its copies).
  uint64_t cached_validations() const;

 private:
  TrustStore() = default;
  // X509_verify_cert over the chain at `at`, with `hostname` (when given) checked as a browser checks it: the
  // issues and path as OpenSSL reports them, and its answer; the verdict fields are left to finish_result().
  struct Verification {
    ValidationResult result;
    bool verified = false;
  };
  Verification verify(std::span<const Certificate> presented, const std::optional<std::string>& hostname,
                      const ValidationOptions& options, UtcSeconds at) const;
  std::shared_ptr<const Chain> roots_;
  std::shared_ptr<X509_STORE> store_;
  std::string description_;
  std::shared_ptr<ValidationCache> cache_;
};


}  // namespace mitmscope
