#include "x509/trust_store.h"

#include <algorithm>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "x509/certificate_reader.h"
#include "x509/openssl_ptr.h"

namespace mitmscope {
namespace {

int collect_issue(int ok, X509_STORE_CTX* context) {
  if (ok) return 1;
  auto* issues = static_cast<std::vector<ValidationIssue>*>(X509_STORE_CTX_get_app_data(context));
  const int code = X509_STORE_CTX_get_error(context);
  const int depth = X509_STORE_CTX_get_error_depth(context);
  const bool seen = std::any_of(issues->begin(), issues->end(), [&](const ValidationIssue& issue) {
    return issue.depth == depth && issue.openssl_code == code;
  });
  if (!seen) {
    issues->push_back({depth, code, issue_name(code), X509_verify_cert_error_string(code)});
  }
  return 1;  // keep going: we want every problem on the path, as a report, not a gate
}

bool is_certificate_file(const std::filesystem::path& path) {
  const auto extension = path.extension().string();
  return extension == ".crt" || extension == ".pem" || extension == ".cer" || extension == ".der";
}

}  // namespace

bool ValidationResult::has_issue(std::string_view name) const {
  return std::any_of(issues.begin(), issues.end(), [&](const ValidationIssue& issue) { return issue.name == name; });
}

std::string issue_name(int code) {
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "not_yet_valid";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: return "self_signed";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: return "untrusted_root";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: return "unknown_authority";
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return "incomplete_chain";
    case X509_V_ERR_CERT_UNTRUSTED: return "untrusted";
    case X509_V_ERR_CERT_REJECTED: return "rejected";
    case X509_V_ERR_HOSTNAME_MISMATCH: return "hostname_mismatch";
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return "ip_mismatch";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE: return "bad_signature";
    case X509_V_ERR_INVALID_CA: return "invalid_ca";
    case X509_V_ERR_PATH_LENGTH_EXCEEDED: return "path_length_exceeded";
    case X509_V_ERR_INVALID_PURPOSE: return "invalid_purpose";
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN: return "key_usage_no_certsign";
    case X509_V_ERR_CERT_CHAIN_TOO_LONG: return "chain_too_long";
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION: return "unhandled_critical_extension";
    case X509_V_ERR_PERMITTED_VIOLATION: return "name_constraints_permitted";
    case X509_V_ERR_EXCLUDED_VIOLATION: return "name_constraints_excluded";
    case X509_V_ERR_EE_KEY_TOO_SMALL: case X509_V_ERR_CA_KEY_TOO_SMALL: return "key_too_small";
    case X509_V_ERR_CA_MD_TOO_WEAK: return "weak_signature";
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD: return "bad_validity_field";
    // RFC 5280 profile checks of X509_V_FLAG_X509_STRICT
    case X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER: return "missing_authority_key_id";
    case X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER: return "missing_subject_key_id";
    case X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL: return "authority_key_id_critical";
    case X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL: return "subject_key_id_critical";
    case X509_V_ERR_CA_BCONS_NOT_CRITICAL: return "ca_basic_constraints_not_critical";
    case X509_V_ERR_CA_CERT_MISSING_KEY_USAGE: return "ca_missing_key_usage";
    case X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA: return "key_cert_sign_in_non_ca";
    case X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA: return "path_length_in_non_ca";
    case X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN: return "path_length_without_key_cert_sign";
    case X509_V_ERR_ISSUER_NAME_EMPTY: return "issuer_name_empty";
    case X509_V_ERR_SUBJECT_NAME_EMPTY: return "subject_name_empty";
    case X509_V_ERR_EMPTY_SUBJECT_ALT_NAME: return "empty_subject_alt_name";
    case X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL: return "empty_subject_san_not_critical";
    case X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3: return "extensions_require_v3";
    case X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH: return "signature_algorithm_mismatch";
    case X509_V_ERR_EC_KEY_EXPLICIT_PARAMS: return "ec_explicit_parameters";
    default: return fmt::format("openssl_{}", code);
  }
}

Result<TrustStore> TrustStore::from_certificates(Chain roots, std::string description) {
  TrustStore trust_store;
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return make_error(ErrorCode::kCryptoError, "X509_STORE_new failed");
  trust_store.store_.reset(store, X509_STORE_free);
  for (const auto& root : roots) {
    if (X509_STORE_add_cert(store, root.get()) != 1) ERR_clear_error();  // duplicates are harmless
  }
  trust_store.roots_ = std::make_shared<const Chain>(std::move(roots));
  trust_store.description_ = std::move(description);
  trust_store.cache_ = std::make_shared<ValidationCache>();
  return trust_store;
}

Result<TrustStore> TrustStore::load(const std::filesystem::path& file_or_directory) {
  std::error_code error;
  Chain roots;
  if (std::filesystem::is_directory(file_or_directory, error)) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(file_or_directory, error)) {
      if (entry.is_regular_file() && is_certificate_file(entry.path())) files.push_back(entry.path());
    }
    if (error) {
      return make_error(ErrorCode::kFileUnreadable,
                        fmt::format("{}: cannot list: {}", file_or_directory.string(), error.message()));
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto chain = read_certificate_file(file);
      if (!chain) return std::unexpected(chain.error());
      roots.insert(roots.end(), chain->begin(), chain->end());
    }
    if (roots.empty()) {
      return make_error(ErrorCode::kParseError,
                        fmt::format("{}: no certificate files (*.crt, *.pem, *.cer, *.der)", file_or_directory.string()));
    }
  } else {
    auto chain = read_certificate_file(file_or_directory);
    if (!chain) return std::unexpected(chain.error());
    roots = std::move(*chain);
  }
  return from_certificates(std::move(roots), file_or_directory.string());
}

Result<TrustStore> TrustStore::load_mozilla_default() {
  auto store = load(kMozillaRootsDirectory);
  if (!store && store.error().code == ErrorCode::kFileNotFound) {
    return make_error(ErrorCode::kFileNotFound,
                      fmt::format("{}: not found; install Debian's ca-certificates or pass --trust-store",
                                  kMozillaRootsDirectory));
  }
  return store;
}

bool TrustStore::contains(const Certificate& certificate) const {
  return std::find(roots_->begin(), roots_->end(), certificate) != roots_->end();
}

// The path's validation without the name, cached per (chain, second, depth). OpenSSL reports the name's issue
// between the chain's building and its signatures; to learn where, each path is validated once with a name no
// certificate holds (a random label per process): its hostname_mismatch is taken out and its place kept.
class ValidationCache {
 public:
  struct Entry {
    ValidationResult path;   // without the name's issue, its verdict fields not filled in
    bool verified = false;   // X509_verify_cert's answer
    size_t name_issue_at = 0;
    bool usable = false;     // the marker name did mismatch (a chain could name it, by a wildcard: then no cache)
  };
  static constexpr size_t kMaxEntries = 4096;   // all dropped when full: bounded, and a scan's chains come back

  std::string key(std::span<const Certificate> presented, UtcSeconds at, int max_depth) const {
    std::string key(reinterpret_cast<const char*>(&at), sizeof at);
    key.append(reinterpret_cast<const char*>(&max_depth), sizeof max_depth);
    for (const auto& certificate : presented) key.append(certificate.sha256().begin(), certificate.sha256().end());
    return key;
  }
  // Only the pointer is copied under the lock; the entry is never changed once kept.
  std::shared_ptr<const Entry> find(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto found = entries_.find(key);
    return found == entries_.end() ? nullptr : found->second;
  }
  void keep(std::string key, std::shared_ptr<const Entry> entry) {
    std::lock_guard lock(mutex_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_.emplace(std::move(key), std::move(entry));
  }
  const std::string& marker() const { return marker_; }
  void count_hit() { hits_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }

 private:
  static std::string random_marker() {
    unsigned char bytes[12];
    if (RAND_bytes(bytes, sizeof bytes) != 1) ERR_clear_error();
    return fmt::format("m{:02x}.validation.mitmscope.invalid", fmt::join(bytes, ""));
  }
  mutable std::mutex mutex_;
  std::atomic<uint64_t> hits_ = 0;   // validations answered from a kept entry
  std::unordered_map<std::string, std::shared_ptr<const Entry>> entries_;
  const std::string marker_ = random_marker();
};

uint64_t TrustStore::cached_validations() const { return cache_ ? cache_->hits() : 0; }

namespace {

constexpr unsigned int kBrowserHostFlags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;

// Names OpenSSL's X509_VERIFY_PARAM_set1_host treats apart (empty: no check; an inner NUL: refused): not cached.
bool plain_hostname(const std::string& name) { return !name.empty() && name.find('\0') == std::string::npos; }

// The verdict fields, from the issues OpenSSL reported and its answer.
void finish_result(ValidationResult& result, bool verified) {
  result.hostname_matches =
      result.hostname_checked && !result.has_issue("hostname_mismatch") && !result.has_issue("ip_mismatch");
  result.browser_trusted = verified && result.issues.empty();
  if (!result.browser_trusted && result.issues.empty()) {
    result.issues.push_back({0, X509_V_ERR_UNSPECIFIED, "unspecified", "verification failed"});
  }
  result.browser_error = result.issues.empty() ? std::string() : result.issues.front().name;
}

}  // namespace

TrustStore::Verification TrustStore::verify(std::span<const Certificate> presented,
                                            const std::optional<std::string>& hostname,
                                            const ValidationOptions& options, UtcSeconds at) const {
  Verification verification;
  ValidationResult& result = verification.result;
  result.validated_at = at;
  if (presented.empty()) {
    result.browser_error = "no_certificate";
    result.issues.push_back({0, 0, "no_certificate", "the server presented no certificate"});
    return verification;
  }
  X509StackPtr untrusted(sk_X509_new_null());
  for (size_t i = 1; i < presented.size(); ++i) sk_X509_push(untrusted.get(), presented[i].get());

  X509StoreCtxPtr context(X509_STORE_CTX_new());
  if (!context || X509_STORE_CTX_init(context.get(), store_.get(), presented[0].get(), untrusted.get()) != 1) {
    result.browser_error = "internal";
    result.issues.push_back({0, 0, "internal", "cannot set up verification: " + take_openssl_error()});
    return verification;
  }
  X509_VERIFY_PARAM* parameters = X509_STORE_CTX_get0_param(context.get());
  X509_VERIFY_PARAM_set_purpose(parameters, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_time(parameters, at.time_since_epoch().count());
  X509_VERIFY_PARAM_set_depth(parameters, options.max_depth);
  // Browsers accept a path that ends at any certificate of the root store.
  X509_VERIFY_PARAM_set_flags(parameters, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
  if (hostname) {
    // Browsers match names against the SAN only, never the subject CN.
    X509_VERIFY_PARAM_set_hostflags(parameters, kBrowserHostFlags);
    X509_VERIFY_PARAM_set1_host(parameters, hostname->c_str(), hostname->size());
    result.hostname_checked = true;
  }
  if (options.ip_address && X509_VERIFY_PARAM_set1_ip_asc(parameters, options.ip_address->c_str()) == 1) {
    result.hostname_checked = true;
  }
  X509_STORE_CTX_set_app_data(context.get(), &result.issues);
  X509_STORE_CTX_set_verify_cb(context.get(), collect_issue);

  verification.verified = X509_verify_cert(context.get()) == 1;
  ERR_clear_error();
  if (STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(context.get())) {
    for (int i = 0; i < sk_X509_num(path); ++i) {
      X509* element = sk_X509_value(path, i);
      X509_up_ref(element);
      if (auto certificate = Certificate::from_x509(element)) result.path.push_back(std::move(*certificate));
    }
  }
  return verification;
}

ValidationResult TrustStore::validate_uncached(std::span<const Certificate> presented, const ValidationOptions& options) const {
  auto verification = verify(presented, options.hostname, options, options.at.value_or(now_utc()));
  ValidationResult& result = verification.result;
  if (result.browser_error.empty()) finish_result(result, verification.verified);   // not an early answer
  return std::move(result);
}

ValidationResult TrustStore::validate(std::span<const Certificate> presented, const ValidationOptions& options) const {
  const bool cacheable = cache_ && !presented.empty() && !options.ip_address &&
                         (!options.hostname || plain_hostname(*options.hostname));
  if (!cacheable) return validate_uncached(presented, options);
  const UtcSeconds at = options.at.value_or(now_utc());
  const std::string key = cache_->key(presented, at, options.max_depth);
  auto entry = cache_->find(key);
  const bool hit = entry != nullptr;
  if (!entry) {
    auto made = std::make_shared<ValidationCache::Entry>();
    auto verification = verify(presented, cache_->marker(), options, at);
    made->path = std::move(verification.result);
    made->verified = verification.verified;
    auto& issues = made->path.issues;
    const auto name_issue = std::ranges::find(issues, X509_V_ERR_HOSTNAME_MISMATCH, &ValidationIssue::openssl_code);
    made->usable = name_issue != issues.end();
    if (made->usable) {
      made->name_issue_at = static_cast<size_t>(name_issue - issues.begin());
      issues.erase(name_issue);
    }
    entry = made;
    cache_->keep(key, std::move(made));
  }
  if (!entry->usable) return validate_uncached(presented, options);
  if (hit) cache_->count_hit();
  ValidationResult result = entry->path;
  result.hostname_checked = options.hostname.has_value();
  if (options.hostname && X509_check_host(presented[0].get(), options.hostname->data(), options.hostname->size(),
                                          kBrowserHostFlags, nullptr) != 1) {
    const int code = X509_V_ERR_HOSTNAME_MISMATCH;
    result.issues.insert(result.issues.begin() + static_cast<long>(entry->name_issue_at),
                         {0, code, issue_name(code), X509_verify_cert_error_string(code)});
  }
  finish_result(result, entry->verified);
  return result;
}

}  // namespace mitmscope
