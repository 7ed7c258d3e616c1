#include "lab/forger.h"

#include "lab/scenario.h"

#include <optional>

#include <openssl/rand.h>

namespace mitmscope::lab {

Forger::Forger(Identity issuer, ForgingRules rules) : issuer_(std::move(issuer)), rules_(rules) {}

void Forger::set_rules(const ForgingRules& rules) {
  std::lock_guard lock(mutex_);
  rules_ = rules;
}

void Forger::set_issuer(Identity issuer) {
  std::lock_guard lock(mutex_);
  issuer_ = std::move(issuer);
}

Identity Forger::issuer() const {
  std::lock_guard lock(mutex_);
  return issuer_;
}

ForgingRules Forger::rules() const {
  std::lock_guard lock(mutex_);
  return rules_;
}

Result<Identity> Forger::forge(const Certificate& genuine) {
  auto forged = forge_chain(genuine);
  if (!forged) return std::unexpected(forged.error());
  return std::move(forged->leaf);
}

Result<SharedKey> Forger::host_key(const std::string& host, const ForgingRules& rules) {
  std::shared_future<Result<SharedKey>> future;
  std::optional<std::promise<Result<SharedKey>>> promise;
  {
    std::lock_guard lock(mutex_);
    if (auto it = keys_.find(host); it != keys_.end()) {
      future = it->second;
    } else {
      promise.emplace();
      future = promise->get_future().share();
      keys_.emplace(host, future);
    }
  }
  if (promise) promise->set_value(generate_key(KeySpec{.rsa_bits = rules.key_bits, .rsa_exponent = rules.key_exponent}));
  return future.get();
}

Result<Forger::Forged> Forger::forge_chain(const Certificate& genuine) {
  const ForgingRules rules = this->rules();
  const Identity issuer = this->issuer();
  const auto names = genuine.dns_names();
  std::string host = genuine.subject();
  for (const auto& name : names) host += "|" + name;
  auto key = host_key(host + "|" + std::to_string(rules.key_bits) + "/" + std::to_string(rules.key_exponent), rules);
  if (!key) return std::unexpected(key.error());

  // Serial: the genuine one with its last N bits random.
  std::vector<uint8_t> serial = genuine.serial_bytes();
  if (serial.empty()) serial.push_back(0);
  const auto random = random_bytes((static_cast<size_t>(rules.serial_random_bits) + 7) / 8);
  for (int bit = 0; bit < rules.serial_random_bits; ++bit) {
    if (bit / 8 >= static_cast<int>(serial.size())) break;
    const size_t byte = serial.size() - 1 - static_cast<size_t>(bit / 8);
    const uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
    const bool value = random[static_cast<size_t>(bit / 8)] & mask;
    serial[byte] = value ? (serial[byte] | mask) : (serial[byte] & ~mask);
  }
  if (serial.front() & 0x80) serial.insert(serial.begin(), 0);

  CertificateSpec spec;
  const X509_NAME* subject = X509_get_subject_name(genuine.get());
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    char field[80];
    OBJ_obj2txt(field, sizeof field, X509_NAME_ENTRY_get_object(entry), 1);
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (length < 0) continue;
    spec.subject.emplace_back(field, std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(length)));
    OPENSSL_free(utf8);
  }
  spec.serial = serial;
  const auto shift = std::chrono::hours{rules.validity_shift_hours};
  spec.not_before = genuine.not_before().value_or(UtcSeconds{}) + shift;
  spec.not_after = genuine.not_after().value_or(UtcSeconds{}) + shift;
  if (rules.copy_subject_alt_names) spec.dns_names = names;
  spec.subject_key_id = false;
  spec.authority_key_id = false;
  spec.key_usage = false;
  spec.server_auth = false;
  auto certificate = issue_certificate(spec, key->get(), &issuer);
  if (!certificate) return std::unexpected(certificate.error());
  return Forged{Identity{std::move(*certificate), *key}, issuer.certificate};
}

Result<IssuerHierarchy> make_issuer_hierarchy(const IssuerSpec& spec, UtcSeconds now) {
  using std::chrono::days;
  CertificateSpec root_spec;
  root_spec.subject = spec.root_subject;
  root_spec.not_before = now + days{spec.root_from_days};
  root_spec.not_after = root_spec.not_before + days{spec.root_years * 365 + spec.root_years / 4};
  root_spec.is_ca = true;
  auto root = make_identity(root_spec, KeySpec{.rsa_bits = spec.root_bits}, nullptr);
  if (!root) return std::unexpected(root.error());
  IssuerHierarchy hierarchy{std::move(*root), {}};
  for (const auto& intermediate : spec.intermediates) {
    CertificateSpec intermediate_spec;
    intermediate_spec.subject = intermediate.subject;
    intermediate_spec.not_before = now + days{intermediate.from_days};
    intermediate_spec.not_after = intermediate_spec.not_before + days{intermediate.days};
    intermediate_spec.is_ca = true;
    intermediate_spec.path_length = 0;
    auto minted = make_identity(intermediate_spec, KeySpec{.rsa_bits = 2048}, &hierarchy.root);
    if (!minted) return std::unexpected(minted.error());
    hierarchy.intermediates.push_back(std::move(*minted));
  }
  return hierarchy;
}

Result<InterceptorHierarchy> make_interceptor_hierarchy(UtcSeconds now, int root_bits) {
  using std::chrono::days;
  CertificateSpec root_spec;
  root_spec.subject = {{"C", "KZ"}, {"O", "mitmscope lab"}, {"CN", "Qaznet Trust Network (mitmscope lab)"}};
  root_spec.not_before = now - days{365};
  root_spec.not_after = root_spec.not_before + days{30 * 365 + 7};
  root_spec.is_ca = true;
  auto root = make_identity(root_spec, KeySpec{.rsa_bits = root_bits}, nullptr);
  if (!root) return std::unexpected(root.error());

  CertificateSpec intermediate_spec;
  intermediate_spec.subject = {{"C", "KZ"}, {"CN", "Security Certificate"}};
  intermediate_spec.not_before = now - days{30};
  intermediate_spec.not_after = intermediate_spec.not_before + days{3 * 365};
  intermediate_spec.is_ca = true;
  intermediate_spec.path_length = 0;
  auto intermediate = make_identity(intermediate_spec, KeySpec{.rsa_bits = 2048}, &*root);
  if (!intermediate) return std::unexpected(intermediate.error());
  return InterceptorHierarchy{std::move(*root), std::move(*intermediate)};
}

}  // namespace mitmscope::lab
