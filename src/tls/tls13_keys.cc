#include "tls/tls13_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <array>

#include <fmt/format.h>

#include "core/byte_writer.h"

namespace mitmscope::tls13 {
namespace {

constexpr size_t kTagLength = 16;
constexpr size_t kIvLength = 12;
constexpr size_t kRecordHeader = 5;

Error crypto_error(std::string_view what) {
  return {ErrorCode::kCryptoError, fmt::format("{}: {}", what, take_openssl_error())};
}

size_t hash_length(const char* hash) { return std::string_view(hash) == "SHA384" ? 48 : 32; }

// HKDF (RFC 5869) through OpenSSL's KDF: extract (`salt`, `key` → a pseudorandom key) or expand (`key`, `info`).
Result<std::vector<uint8_t>> hkdf(const char* hash, int mode, std::span<const uint8_t> key, std::span<const uint8_t> salt_or_info,
                                  size_t length) {
  OpenSslPtr<EVP_KDF, EVP_KDF_free> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  OpenSslPtr<EVP_KDF_CTX, EVP_KDF_CTX_free> context(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!context) return std::unexpected(crypto_error("HKDF"));
  std::array<OSSL_PARAM, 5> params{};
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(hash), 0);
  params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key.data()), key.size());
  params[3] = OSSL_PARAM_construct_octet_string(mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO,
                                                const_cast<uint8_t*>(salt_or_info.data()), salt_or_info.size());
  params[4] = OSSL_PARAM_construct_end();
  std::vector<uint8_t> out(length);
  if (EVP_KDF_derive(context.get(), out.data(), out.size(), params.data()) != 1) return std::unexpected(crypto_error("HKDF"));
  return out;
}

}  // namespace

Result<CipherSuite> cipher_suite(uint16_t id) {
  switch (id) {
    case 0x1301: return CipherSuite{id, "SHA256", "AES-128-GCM", 16};
    case 0x1302: return CipherSuite{id, "SHA384", "AES-256-GCM", 32};
    case 0x1303: return CipherSuite{id, "SHA256", "ChaCha20-Poly1305", 32};
    default: return make_error(ErrorCode::kTlsProtocolError, fmt::format("cipher suite 0x{:04x} is not a TLS 1.3 suite we read", id));
  }
}

Result<std::vector<uint8_t>> shared_secret(EVP_PKEY* ours, std::span<const uint8_t> peer_share) {
  EvpPkeyPtr peer;
  if (EVP_PKEY_get_id(ours) == EVP_PKEY_X25519) {
    peer.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_share.data(), peer_share.size()));
  } else {
    peer.reset(EVP_PKEY_new());
    if (peer && (EVP_PKEY_copy_parameters(peer.get(), ours) != 1 ||
                 EVP_PKEY_set1_encoded_public_key(peer.get(), peer_share.data(), peer_share.size()) != 1)) {
      peer.reset();
    }
  }
  if (!peer) return make_error(ErrorCode::kTlsProtocolError, fmt::format("the server's key share ({} bytes) is not a key", peer_share.size()));
  EvpPkeyCtxPtr context(EVP_PKEY_CTX_new(ours, nullptr));
  size_t length = 0;
  if (!context || EVP_PKEY_derive_init(context.get()) != 1 || EVP_PKEY_derive_set_peer(context.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(context.get(), nullptr, &length) != 1) {
    return std::unexpected(crypto_error("key exchange"));
  }
  std::vector<uint8_t> secret(length);
  if (EVP_PKEY_derive(context.get(), secret.data(), &length) != 1) return std::unexpected(crypto_error("key exchange"));
  secret.resize(length);
  return secret;
}

Result<std::vector<uint8_t>> digest(const char* hash, std::span<const uint8_t> data) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned length = 0;
  OpenSslPtr<EVP_MD, EVP_MD_free> md(EVP_MD_fetch(nullptr, hash, nullptr));
  if (!md || EVP_Digest(data.data(), data.size(), out.data(), &length, md.get(), nullptr) != 1) {
    return std::unexpected(crypto_error(hash));
  }
  out.resize(length);
  return out;
}

Result<std::vector<uint8_t>> expand_label(const char* hash, std::span<const uint8_t> secret, std::string_view label,
                                          std::span<const uint8_t> context, size_t length) {
  ByteWriter info;
  info.u16(static_cast<uint16_t>(length));
  const auto name = info.begin(1);
  info.text("tls13 ");
  info.text(label);
  info.end(name);
  const auto hashed = info.begin(1);
  info.bytes(context);
  info.end(hashed);
  return hkdf(hash, EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, info.data(), length);
}

Result<std::vector<uint8_t>> server_handshake_secret(const CipherSuite& suite, std::span<const uint8_t> shared,
                                                     std::span<const uint8_t> transcript_hash) {
  const std::vector<uint8_t> zeros(hash_length(suite.hash), 0);
  auto early = hkdf(suite.hash, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, zeros, zeros, zeros.size());
  auto empty_hash = digest(suite.hash, {});
  if (!early || !empty_hash) return std::unexpected(!early ? early.error() : empty_hash.error());
  auto derived = expand_label(suite.hash, *early, "derived", *empty_hash, zeros.size());
  if (!derived) return derived;
  auto handshake = hkdf(suite.hash, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, shared, *derived, zeros.size());
  if (!handshake) return handshake;
  return expand_label(suite.hash, *handshake, "s hs traffic", transcript_hash, zeros.size());
}

Result<RecordOpener> RecordOpener::create(const CipherSuite& suite, std::span<const uint8_t> traffic_secret) {
  auto key = expand_label(suite.hash, traffic_secret, "key", {}, suite.key_length);
  auto iv = expand_label(suite.hash, traffic_secret, "iv", {}, kIvLength);
  if (!key || !iv) return std::unexpected(!key ? key.error() : iv.error());
  RecordOpener opener;
  opener.suite_ = suite;
  opener.key_ = std::move(*key);
  opener.iv_ = std::move(*iv);
  return opener;
}

Result<RecordOpener::Opened> RecordOpener::open(std::span<const uint8_t> record) {
  if (record.size() < kRecordHeader + kTagLength + 1) {
    return make_error(ErrorCode::kTlsProtocolError, "an encrypted record shorter than its tag");
  }
  std::array<uint8_t, kIvLength> nonce{};
  std::copy(iv_.begin(), iv_.end(), nonce.begin());
  for (size_t i = 0; i < 8; ++i) nonce[kIvLength - 1 - i] ^= static_cast<uint8_t>(sequence_ >> (8 * i));
  ++sequence_;
  OpenSslPtr<EVP_CIPHER, EVP_CIPHER_free> cipher(EVP_CIPHER_fetch(nullptr, suite_.cipher, nullptr));
  OpenSslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free> context(EVP_CIPHER_CTX_new());
  const auto body = record.subspan(kRecordHeader, record.size() - kRecordHeader - kTagLength);
  auto tag = record.last(kTagLength);
  std::vector<uint8_t> plain(body.size());
  int length = 0, final_length = 0;
  if (!cipher || !context || EVP_DecryptInit_ex2(context.get(), cipher.get(), key_.data(), nonce.data(), nullptr) != 1 ||
      EVP_DecryptUpdate(context.get(), nullptr, &length, record.data(), kRecordHeader) != 1 ||
      EVP_DecryptUpdate(context.get(), plain.data(), &length, body.data(), static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_AEAD_SET_TAG, kTagLength, const_cast<uint8_t*>(tag.data())) != 1 ||
      EVP_DecryptFinal_ex(context.get(), plain.data() + length, &final_length) != 1) {
    return make_error(ErrorCode::kTlsProtocolError, "a record did not decrypt with the handshake keys");
  }
  while (!plain.empty() && plain.back() == 0) plain.pop_back();   // the padding of the inner plaintext
  if (plain.empty()) return make_error(ErrorCode::kTlsProtocolError, "an encrypted record without a content type");
  Opened opened{plain.back(), {}};
  plain.pop_back();
  opened.content = std::move(plain);
  return opened;
}

}  // namespace mitmscope::tls13
