#include "lab/pki.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <fmt/format.h>

namespace mitmscope::lab {
namespace {

Result<void> add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    return make_error(ErrorCode::kCryptoError, fmt::format("extension {}={}: {}", OBJ_nid2sn(nid), value, take_openssl_error()));
  }
  return {};
}

}  // namespace

std::vector<uint8_t> random_bytes(size_t count) {
  std::vector<uint8_t> bytes(count);
  RAND_bytes(bytes.data(), static_cast<int>(count));
  return bytes;
}

Result<SharedKey> generate_key(const KeySpec& spec) {
  EVP_PKEY* key = nullptr;
  if (spec.type == KeySpec::Type::kEcP256) {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  } else {
    EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    BignumPtr exponent(BN_new());
    BN_set_word(exponent.get(), spec.rsa_exponent);
    if (!context || EVP_PKEY_keygen_init(context.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(context.get(), spec.rsa_bits) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(context.get(), exponent.get()) != 1 ||
        EVP_PKEY_keygen(context.get(), &key) != 1) {
      key = nullptr;
    }
  }
  if (key == nullptr) return make_error(ErrorCode::kCryptoError, "key generation failed: " + take_openssl_error());
  return SharedKey(key, EVP_PKEY_free);
}

Result<Certificate> issue_certificate(const CertificateSpec& spec, EVP_PKEY* subject_key, const Identity* issuer) {
  X509Ptr certificate(X509_new());
  X509_set_version(certificate.get(), X509_VERSION_3);
  const std::vector<uint8_t> serial = spec.serial.empty() ? random_bytes(16) : spec.serial;
  BignumPtr serial_number(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (spec.serial.empty()) BN_clear_bit(serial_number.get(), 127);  // positive, as RFC 5280 asks
  BN_to_ASN1_INTEGER(serial_number.get(), X509_get_serialNumber(certificate.get()));
  ASN1_TIME_set(X509_getm_notBefore(certificate.get()), spec.not_before.time_since_epoch().count());
  ASN1_TIME_set(X509_getm_notAfter(certificate.get()), spec.not_after.time_since_epoch().count());

  X509_NAME* name = X509_get_subject_name(certificate.get());
  for (const auto& [field, value] : spec.subject) {
    if (X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) != 1) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("subject field {}: {}", field, take_openssl_error()));
    }
  }
  X509_set_issuer_name(certificate.get(), issuer ? X509_get_subject_name(issuer->certificate.get()) : name);
  X509_set_pubkey(certificate.get(), subject_key);

  X509* issuer_x509 = issuer ? issuer->certificate.get() : certificate.get();
  std::vector<std::pair<int, std::string>> extensions;
  if (spec.is_ca) {
    std::string constraints = "critical,CA:TRUE";
    if (spec.path_length) constraints += fmt::format(",pathlen:{}", *spec.path_length);
    extensions.emplace_back(NID_basic_constraints, constraints);
    if (spec.key_usage) extensions.emplace_back(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    if (spec.key_usage) extensions.emplace_back(NID_key_usage, "critical,digitalSignature,keyEncipherment");
    if (spec.server_auth) extensions.emplace_back(NID_ext_key_usage, "serverAuth");
  }
  if (spec.subject_key_id) extensions.emplace_back(NID_subject_key_identifier, "hash");
  if (spec.authority_key_id && issuer) extensions.emplace_back(NID_authority_key_identifier, "keyid:always");
  if (!spec.dns_names.empty()) {
    std::string names;
    for (const auto& dns : spec.dns_names) names += (names.empty() ? "DNS:" : ",DNS:") + dns;
    extensions.emplace_back(NID_subject_alt_name, names);
  }
  for (const auto& [nid, value] : extensions) {
    if (auto added = add_extension(certificate.get(), issuer_x509, nid, value); !added) {
      return std::unexpected(added.error());
    }
  }
  for (const auto& raw : spec.extra_extensions) {
    OpenSslPtr<ASN1_OBJECT, ASN1_OBJECT_free> object(OBJ_txt2obj(raw.oid.c_str(), 1));
    Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(value.get(), raw.value.data(), static_cast<int>(raw.value.size()));
    X509ExtensionPtr extension(X509_EXTENSION_create_by_OBJ(nullptr, object.get(), raw.critical ? 1 : 0, value.get()));
    if (!object || !extension || X509_add_ext(certificate.get(), extension.get(), -1) != 1) {
      return make_error(ErrorCode::kCryptoError, fmt::format("extension {}: {}", raw.oid, take_openssl_error()));
    }
  }
  EVP_PKEY* signing_key = issuer ? issuer->key.get() : subject_key;
  if (X509_sign(certificate.get(), signing_key, EVP_sha256()) <= 0) {
    return make_error(ErrorCode::kCryptoError, "signing failed: " + take_openssl_error());
  }
  return Certificate::from_x509(certificate.release());
}

Result<Identity> make_identity(const CertificateSpec& spec, const KeySpec& key_spec, const Identity* issuer) {
  auto key = generate_key(key_spec);
  if (!key) return std::unexpected(key.error());
  auto certificate = issue_certificate(spec, key->get(), issuer);
  if (!certificate) return std::unexpected(certificate.error());
  return Identity{std::move(*certificate), std::move(*key)};
}

std::string certificate_pem(const Certificate& certificate) { return certificate.pem(); }

Result<std::string> private_key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return make_error(ErrorCode::kCryptoError, "cannot write key: " + take_openssl_error());
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

}  // namespace mitmscope::lab
