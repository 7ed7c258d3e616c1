// The part of TLS 1.3's key schedule (RFC 8446, section 7) a client needs to read the server's encrypted
// handshake: the shared secret of one key exchange, the server handshake traffic secret over the transcript of
// ClientHello and ServerHello, its key and IV, and opening one record. All of it with OpenSSL's EVP primitives
// (HKDF, SHA-256/384, AES-GCM, ChaCha20-Poly1305, X25519 and ECDH); nothing here is hand-made cryptography.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "x509/openssl_ptr.h"

namespace mitmscope::tls13 {

struct CipherSuite {
  uint16_t id = 0;
  const char* hash = nullptr;      // "SHA256", "SHA384"
  const char* cipher = nullptr;    // "AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"
  size_t key_length = 0;
};
// TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256; an error for any other.
Result<CipherSuite> cipher_suite(uint16_t id);

// Our key and the server's share for `group` (X25519: 32 bytes; P-256/P-384: an uncompressed point).
Result<std::vector<uint8_t>> shared_secret(EVP_PKEY* ours, std::span<const uint8_t> peer_share);

Result<std::vector<uint8_t>> digest(const char* hash, std::span<const uint8_t> data);

// HKDF-Expand-Label(secret, "tls13 " + label, context, length).
Result<std::vector<uint8_t>> expand_label(const char* hash, std::span<const uint8_t> secret, std::string_view label,
                                          std::span<const uint8_t> context, size_t length);

// The server's handshake traffic secret, from the shared secret and Hash(ClientHello || ServerHello).
Result<std::vector<uint8_t>> server_handshake_secret(const CipherSuite& suite, std::span<const uint8_t> shared,
                                                     std::span<const uint8_t> transcript_hash);

// One direction's record protection: key, IV, and the sequence number of the next record.
class RecordOpener {
 public:
  static Result<RecordOpener> create(const CipherSuite& suite, std::span<const uint8_t> traffic_secret);
  // `record`: the whole TLS 1.3 record (5-byte header included). The inner plaintext's content and its type.
  struct Opened {
    uint8_t type = 0;
    std::vector<uint8_t> content;
  };
  Result<Opened> open(std::span<const uint8_t> record);

 private:
  CipherSuite suite_;
  std::vector<uint8_t> key_, iv_;
  uint64_t sequence_ = 0;
};

}  // namespace mitmscope::tls13
