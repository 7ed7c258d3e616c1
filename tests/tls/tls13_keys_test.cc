// The key schedule against RFC 8448 ("Example Handshake Traces for TLS 1.3"), section 3, the simple 1-RTT
// handshake: its X25519 keys give its shared secret, and its transcript hash gives its server handshake
// traffic secret, key and IV. The end-to-end tests (server_flight_test) read real servers' flights; these pin
// each step to published values.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include "core/hex.h"
#include "tls/tls13_keys.h"

namespace mitmscope::tls13 {
namespace {

// RFC 8448, section 3.
constexpr std::string_view kClientPrivate = "49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005";
constexpr std::string_view kServerPublic = "c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f";
constexpr std::string_view kSharedSecret = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d";
constexpr std::string_view kHelloHash = "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8";
constexpr std::string_view kServerHandshakeSecret = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
constexpr std::string_view kServerKey = "3fce516009c21727d0f2e4e86ee403bc";
constexpr std::string_view kServerIv = "5d313eb2671276ee13000b30";

EvpPkeyPtr client_key() {
  const auto secret = from_hex(kClientPrivate);
  return EvpPkeyPtr(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()));
}

TEST(Tls13Keys, TheX25519SharedSecretIsRfc8448s) {
  auto key = client_key();
  ASSERT_TRUE(key);
  auto shared = shared_secret(key.get(), from_hex(kServerPublic));
  ASSERT_TRUE(shared) << shared.error().message;
  EXPECT_EQ(to_hex(*shared), kSharedSecret);
}

TEST(Tls13Keys, AServerShareThatIsNoKeyIsRefused) {
  auto key = client_key();
  ASSERT_TRUE(key);
  // A wrong length is not an X25519 key; the all-zero point (small order) gives an all-zero secret (RFC 7748,
  // section 6.1), which the exchange must refuse.
  EXPECT_FALSE(shared_secret(key.get(), from_hex("c98288761120")));
  EXPECT_FALSE(shared_secret(key.get(), std::vector<uint8_t>(32, 0)));
}

TEST(Tls13Keys, TheServerHandshakeSecretKeyAndIvAreRfc8448s) {
  auto suite = cipher_suite(0x1301);
  ASSERT_TRUE(suite);
  auto secret = server_handshake_secret(*suite, from_hex(kSharedSecret), from_hex(kHelloHash));
  ASSERT_TRUE(secret) << secret.error().message;
  EXPECT_EQ(to_hex(*secret), kServerHandshakeSecret);
  auto key = expand_label(suite->hash, *secret, "key", {}, suite->key_length);
  auto iv = expand_label(suite->hash, *secret, "iv", {}, 12);
  ASSERT_TRUE(key && iv);
  EXPECT_EQ(to_hex(*key), kServerKey);
  EXPECT_EQ(to_hex(*iv), kServerIv);
}

TEST(Tls13Keys, OnlyTheThreeTls13SuitesAreRead) {
  EXPECT_TRUE(cipher_suite(0x1301) && cipher_suite(0x1302) && cipher_suite(0x1303));
  EXPECT_FALSE(cipher_suite(0x1304));   // TLS_AES_128_CCM_SHA256: not offered by any profile
  EXPECT_FALSE(cipher_suite(0xc02f));   // a TLS 1.2 suite
}

}  // namespace
}  // namespace mitmscope::tls13
