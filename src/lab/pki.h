// Minting keys and certificates: the lab's stand-in for the Web PKI, the
// interceptor's hierarchy, and the tests' chains (impostor roots, missing AKI...).
//
// Nothing here is used to measure; it produces what measurement is tested against.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "x509/certificate.h"
#include "x509/openssl_ptr.h"

namespace mitmscope::lab {

struct KeySpec {
  enum class Type { kRsa, kEcP256 } type = Type::kRsa;
  int rsa_bits = 2048;
  unsigned long rsa_exponent = 65537;
};

using SharedKey = std::shared_ptr<EVP_PKEY>;
Result<SharedKey> generate_key(const KeySpec& spec);

// A certificate with its private key.
struct Identity {
  Certificate certificate;
  SharedKey key;
};

struct CertificateSpec {
  std::vector<std::pair<std::string, std::string>> subject;  // {"C", "KZ"}, {"CN", "..."}, in order
  std::vector<uint8_t> serial;                                // empty: 16 random bytes
  UtcSeconds not_before{};
  UtcSeconds not_after{};
  bool is_ca = false;
  std::optional<int> path_length;
  std::vector<std::string> dns_names;
  bool subject_key_id = true;
  bool authority_key_id = true;
  bool key_usage = true;
  bool server_auth = true;          // extendedKeyUsage serverAuth on leaves
  // Raw extensions added as they are, e.g. {"1.2.3.4", critical, DER value}.
  struct RawExtension {
    std::string oid;
    bool critical = false;
    std::vector<uint8_t> value;
  };
  std::vector<RawExtension> extra_extensions;
};

// Signs `spec` for `subject_key`; with no issuer the certificate is self-signed.
Result<Certificate> issue_certificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                      const Identity* issuer);

// Key + certificate in one call.
Result<Identity> make_identity(const CertificateSpec& spec, const KeySpec& key_spec, const Identity* issuer);

std::string certificate_pem(const Certificate& certificate);
Result<std::string> private_key_pem(EVP_PKEY* key);

std::vector<uint8_t> random_bytes(size_t count);

}  // namespace mitmscope::lab
