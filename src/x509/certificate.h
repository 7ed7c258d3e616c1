// Certificate: an immutable, cheaply copyable view of one X.509 certificate.
//
// The model: a certificate is its DER bytes. Fingerprints (SHA-256, SHA-1 and the
// SHA-256 of the SubjectPublicKeyInfo, Chromium's blocklist form) are computed once
// at construction because every later stage keys on them; everything else is read
// from the parsed OpenSSL object on demand. Copies share the OpenSSL object.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "core/error.h"
#include "core/time.h"

namespace mitmscope {

using Sha256 = std::array<uint8_t, 32>;
using Sha1 = std::array<uint8_t, 20>;

struct PublicKeyInfo {
  std::string type;                 // "RSA", "EC", "ED25519", "DSA", ...
  int bits = 0;
  std::string rsa_exponent;         // decimal, RSA only ("65537", "3")
  std::string curve;                // EC only ("prime256v1")
  bool operator==(const PublicKeyInfo&) const = default;
};

struct ExtensionInfo {
  std::string oid;                  // dotted decimal
  std::string name;                 // OpenSSL short name, or the OID when unknown
  bool critical = false;
};

class Certificate {
 public:
  // Parses exactly one DER certificate; trailing bytes are an error.
  static Result<Certificate> from_der(std::span<const uint8_t> der);
  // The same, from a small per-thread cache of recent certificates: a scan sees the same chain
  // for every SNI a host answers genuinely, and OpenSSL 3's key decoding is a large share of the
  // CPU of a handshake (bench/RESULTS.md). Bounded: the cache is dropped when it fills.
  static Result<Certificate> from_der_cached(std::span<const uint8_t> der);
  // Takes ownership of a parsed certificate (re-encodes it to DER).
  static Result<Certificate> from_x509(X509* owned);

  X509* get() const { return x509_.get(); }
  const std::vector<uint8_t>& der() const { return *der_; }

  const Sha256& sha256() const { return sha256_; }
  const Sha1& sha1() const { return sha1_; }
  const Sha256& spki_sha256() const { return spki_sha256_; }
  std::string sha256_hex() const;
  std::string sha1_hex() const;
  std::string spki_sha256_hex() const;

  std::string subject() const;      // "C=KZ, CN=Qaznet Trust Network", in certificate order
  std::string issuer() const;
  bool subject_equals_issuer_of(const Certificate& issued) const;  // by DER name comparison
  bool self_issued() const;
  // The signature verifies with the certificate's own key.
  bool self_signed() const;
  // This certificate's signature verifies with `issuer`'s public key.
  bool signed_by(const Certificate& issuer) const;

  int version() const;              // 1, 2 or 3
  std::string serial_hex() const;   // big-endian magnitude, lower-case, "-" prefix when negative
  std::vector<uint8_t> serial_bytes() const;  // magnitude, big-endian, no leading zeros
  // The serial's DER INTEGER content octets (two's complement: a leading 0x00 when the high bit is set),
  // the form Firefox's OneCRL lists serials in.
  std::vector<uint8_t> serial_der_content() const;
  std::vector<uint8_t> subject_der() const;  // the DER Name, as OneCRL and CRLSets hash or list it
  std::vector<uint8_t> issuer_der() const;
  // OpenSSL's hash of the canonical name (as `openssl x509 -subject_hash`): names equal under X509_NAME_cmp hash
  // alike, so it finds candidates; equality is still checked by subject_equals_issuer_of.
  uint32_t subject_name_hash() const;
  uint32_t issuer_name_hash() const;
  std::string pem() const;
  bool serial_negative() const;
  std::optional<UtcSeconds> not_before() const;
  std::optional<UtcSeconds> not_after() const;
  bool valid_at(UtcSeconds time) const;

  std::optional<std::vector<uint8_t>> subject_key_id() const;
  std::optional<std::vector<uint8_t>> authority_key_id() const;
  std::vector<std::string> dns_names() const;
  std::vector<std::string> subject_alt_names() const;  // "DNS:x", "IP:1.2.3.4", "email:..."
  std::optional<std::string> common_name() const;
  bool is_ca() const;
  std::optional<int> path_length() const;
  PublicKeyInfo public_key() const;
  std::string signature_algorithm() const;
  std::vector<ExtensionInfo> extensions() const;

  bool operator==(const Certificate& other) const { return sha256_ == other.sha256_; }

 private:
  Certificate() = default;
  struct X509Release {
    void operator()(X509* pointer) const { X509_free(pointer); }
  };
  std::shared_ptr<X509> x509_;
  std::shared_ptr<const std::vector<uint8_t>> der_;
  Sha256 sha256_{};
  Sha1 sha1_{};
  Sha256 spki_sha256_{};
};

using Chain = std::vector<Certificate>;

}  // namespace mitmscope
