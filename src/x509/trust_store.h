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

class TrustStore {
 public:
  static Result<TrustStore> load(const std::filesystem::path& file_or_directory);
  static Result<TrustStore> load_mozilla_default();
  static Result<TrustStore> from_certificates(Chain roots, std::string description);

  ValidationResult validate(std::span<const Certificate> presented, const ValidationOptions& options) const;

  size_t size() const { return roots_->size(); }
  const Chain& roots() const { return *roots_; }
  const std::string& description() const { return description_; }
  bool contains(const Certificate& certificate) const;

 private:
  TrustStore() = default;
  std::shared_ptr<const Chain> roots_;
  std::shared_ptr<X509_STORE> store_;
  std::string description_;
};

}  // namespace mitmscope
