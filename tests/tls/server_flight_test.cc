#include "tls/server_flight.h"

#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include "support/test_pki.h"
#include "tls/client_hello_builder.h"

namespace mitmscope {
namespace {

using testing::ca_spec;
using testing::kEcKey;
using testing::leaf_spec;
using testing::must;

// OpenSSL's own server, in memory: what it answers to the bytes of our ClientHello.
struct ServerSetup {
  int min_version = TLS1_2_VERSION, max_version = TLS1_3_VERSION;
  const char* ciphersuites = nullptr;   // TLS 1.3
  const char* cipher_list = nullptr;    // TLS 1.2
  const char* groups = nullptr;
};

class MemoryServer {
 public:
  MemoryServer(const lab::Identity& leaf, const lab::Identity& ca, const ServerSetup& setup)
      : context_(SSL_CTX_new(TLS_server_method())) {
    SSL_CTX_set_security_level(context_.get(), 0);
    SSL_CTX_use_certificate(context_.get(), leaf.certificate.get());
    SSL_CTX_use_PrivateKey(context_.get(), leaf.key.get());
    SSL_CTX_add1_chain_cert(context_.get(), ca.certificate.get());
    SSL_CTX_set_min_proto_version(context_.get(), setup.min_version);
    SSL_CTX_set_max_proto_version(context_.get(), setup.max_version);
    if (setup.ciphersuites) SSL_CTX_set_ciphersuites(context_.get(), setup.ciphersuites);
    if (setup.cipher_list) SSL_CTX_set_cipher_list(context_.get(), setup.cipher_list);
    if (setup.groups) SSL_CTX_set1_groups_list(context_.get(), setup.groups);
    ssl_.reset(SSL_new(context_.get()));
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_.get(), in_, out_);
    SSL_set_accept_state(ssl_.get());
  }
  std::vector<uint8_t> answer(std::span<const uint8_t> bytes) {
    BIO_write(in_, bytes.data(), static_cast<int>(bytes.size()));
    SSL_do_handshake(ssl_.get());
    std::vector<uint8_t> out(static_cast<size_t>(BIO_pending(out_)));
    BIO_read(out_, out.data(), static_cast<int>(out.size()));
    return out;
  }
  SSL* ssl() const { return ssl_.get(); }

 private:
  SslCtxPtr context_;
  SslPtr ssl_;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

class ServerFlightTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    ca_ = new lab::Identity(must(lab::make_identity(ca_spec("flight test CA", now), kEcKey, nullptr)));
    ecdsa_ = new lab::Identity(must(lab::make_identity(leaf_spec("example.kz", now), kEcKey, ca_)));
    rsa_ = new lab::Identity(must(lab::make_identity(leaf_spec("example.kz", now), {}, ca_)));
  }
  // The flight of `server` to `profile`'s ClientHello, read by ServerFlightReader; checked against what the
  // server says it did: the same version, suite and chain.
  void expect_read(const char* profile, const lab::Identity& leaf, const ServerSetup& setup, bool byte_by_byte = false) {
    SCOPED_TRACE(profile);
    auto hello = build_client_hello(*find_client_hello_profile(profile).value(), {.server_name = "example.kz"});
    ASSERT_TRUE(hello) << hello.error().message;
    MemoryServer server(leaf, *ca_, setup);
    const auto answer = server.answer(hello->record);
    ASSERT_FALSE(answer.empty()) << "the server answered nothing";
    ServerFlightReader reader(*hello);
    FlightStatus status = FlightStatus::kNeedMore;
    if (byte_by_byte) {
      for (size_t i = 0; i < answer.size() && status == FlightStatus::kNeedMore; ++i) status = reader.feed(std::span(answer).subspan(i, 1));
    } else {
      status = reader.feed(answer);
    }
    ASSERT_EQ(status, FlightStatus::kDone) << reader.error().message;
    const auto& flight = reader.flight();
    EXPECT_EQ(flight.server_hello->selected_version, SSL_version(server.ssl()));
    // TLS 1.2 switches to the suite at ChangeCipherSpec, still to come: until then it is the pending one.
    const SSL_CIPHER* suite = SSL_get_current_cipher(server.ssl());
    if (!suite) suite = SSL_get_pending_cipher(server.ssl());
    ASSERT_NE(suite, nullptr);
    EXPECT_EQ(flight.server_hello->cipher_suite, SSL_CIPHER_get_protocol_id(suite));
    ASSERT_EQ(flight.certificates.size(), 2u);
    EXPECT_EQ(flight.certificates[0], leaf.certificate.der());
    EXPECT_EQ(flight.certificates[1], ca_->certificate.der());
  }
  static inline lab::Identity* ca_ = nullptr;
  static inline lab::Identity* ecdsa_ = nullptr;
  static inline lab::Identity* rsa_ = nullptr;
};

TEST_F(ServerFlightTest, ReadsTheChainOfEveryTls13SuiteEncrypted) {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
    SCOPED_TRACE(suite);
    for (const char* profile : {"chromium", "firefox-esr", "curl"}) {
      expect_read(profile, *ecdsa_, {.ciphersuites = suite});
      expect_read(profile, *rsa_, {.ciphersuites = suite});
    }
  }
  expect_read("minimal", *ecdsa_, {.ciphersuites = "TLS_AES_256_GCM_SHA384"});
}

TEST_F(ServerFlightTest, ASuiteNotOfferedIsTheServersAlert) {
  auto hello = build_client_hello(*find_client_hello_profile("minimal").value(), {.server_name = "example.kz"});
  MemoryServer server(*ecdsa_, *ca_, {.min_version = TLS1_3_VERSION, .ciphersuites = "TLS_CHACHA20_POLY1305_SHA256"});
  ServerFlightReader reader(*hello);
  EXPECT_EQ(reader.feed(server.answer(hello->record)), FlightStatus::kFailed) << "minimal offers no ChaCha20";
  EXPECT_EQ(reader.flight().alert, uint8_t{40}) << "handshake_failure";
}

TEST_F(ServerFlightTest, ReadsEachKeyShareGroupTheProfilesOffer) {
  expect_read("firefox-esr", *ecdsa_, {.groups = "P-256"});
  expect_read("firefox-esr", *ecdsa_, {.groups = "X25519"});
  expect_read("chromium", *ecdsa_, {.groups = "X25519:P-256"});
  expect_read("curl", *ecdsa_, {.groups = "X25519"});
  expect_read("safari", *ecdsa_, {.groups = "X25519"});
}

TEST_F(ServerFlightTest, ReadsTls12ChainsInTheClear) {
  const ServerSetup tls12{.max_version = TLS1_2_VERSION};
  for (const char* profile : {"chromium", "firefox-esr", "safari", "curl", "kz-2019", "minimal"}) {
    expect_read(profile, *ecdsa_, tls12);
    expect_read(profile, *rsa_, tls12);
  }
  expect_read("kz-2019", *rsa_, {.max_version = TLS1_2_VERSION, .cipher_list = "AES128-SHA"});
}

TEST_F(ServerFlightTest, ReadsAFlightThatArrivesOneByteAtATime) {
  expect_read("chromium", *ecdsa_, {}, true);
  expect_read("curl", *rsa_, {.max_version = TLS1_2_VERSION}, true);
}

TEST_F(ServerFlightTest, AGroupWithoutAShareIsAHelloRetryRequest) {
  auto hello = build_client_hello(*find_client_hello_profile("chromium").value(), {.server_name = "example.kz"});
  MemoryServer server(*ecdsa_, *ca_, {.groups = "P-384"});
  ServerFlightReader reader(*hello);
  EXPECT_EQ(reader.feed(server.answer(hello->record)), FlightStatus::kHelloRetry);
  EXPECT_TRUE(reader.flight().server_hello->hello_retry_request);
}

TEST_F(ServerFlightTest, AHelloRetryRequestIsAnsweredAndTheChainRead) {
  for (const char* profile : {"chromium", "firefox-esr", "safari", "curl"}) {
    SCOPED_TRACE(profile);
    auto hello = build_client_hello(*find_client_hello_profile(profile).value(), {.server_name = "example.kz"});
    MemoryServer server(*rsa_, *ca_, {.groups = "P-384"});
    ServerFlightReader reader(*hello);
    ASSERT_EQ(reader.feed(server.answer(hello->record)), FlightStatus::kHelloRetry);
    auto asked = retry_request(*reader.flight().server_hello);
    ASSERT_TRUE(asked) << asked.error().message;
    EXPECT_EQ(asked->group, kGroupSecp384r1);
    auto second = retry_client_hello(*hello, asked->group, asked->cookie);
    ASSERT_TRUE(second) << second.error().message;
    // What the server needs of a second hello: the same random and session id, one share for its group.
    EXPECT_TRUE(std::equal(hello->message.begin() + 4, hello->message.begin() + 38, second->message.begin() + 4));
    ASSERT_EQ(second->keys.size(), 1u);
    ASSERT_EQ(reader.retry(*second), FlightStatus::kNeedMore);
    ASSERT_EQ(reader.feed(server.answer(second->record)), FlightStatus::kDone) << reader.error().message;
    EXPECT_FALSE(reader.flight().hello_retry_message.empty());
    EXPECT_EQ(reader.flight().key_share_group, kGroupSecp384r1);
    ASSERT_EQ(reader.flight().certificates.size(), 2u);
    EXPECT_EQ(reader.flight().certificates[0], rsa_->certificate.der());
  }
}

TEST(RetryClientHello, KeepsTheFirstHelloButTheShareAndEchoesTheCookie) {
  auto first = build_client_hello(*find_client_hello_profile("firefox-esr").value(), {.server_name = "example.kz"});
  ASSERT_TRUE(first);
  const std::vector<uint8_t> cookie = {1, 2, 3, 4, 5};
  auto second = retry_client_hello(*first, kGroupSecp256r1, cookie);
  ASSERT_TRUE(second) << second.error().message;
  auto order = first->extension_order;
  order.insert(std::ranges::find(order, uint16_t{51}) + 1, uint16_t{44});
  EXPECT_EQ(second->extension_order, order) << "the same order, the cookie right after the key share";
  EXPECT_EQ(std::string(second->record.begin() + static_cast<long>(second->server_name_at),
                        second->record.begin() + static_cast<long>(second->server_name_at) + 10), "example.kz");
  EXPECT_EQ(second->keys[0].group, kGroupSecp256r1);
  EXPECT_FALSE(retry_client_hello(*first, kGroupX25519MlKem768, {}));
  EXPECT_FALSE(retry_client_hello(*first, 0x0100, {})) << "ffdhe2048: no key for it";
}

TEST_F(ServerFlightTest, AnAlertOrNoTlsOrTooMuchIsAClearFailure) {
  auto hello = build_client_hello(*find_client_hello_profile("kz-2019").value(), {.server_name = "example.kz"});
  MemoryServer server(*ecdsa_, *ca_, {.min_version = TLS1_3_VERSION});   // kz-2019 offers TLS 1.2 only
  ServerFlightReader refused(*hello);
  EXPECT_EQ(refused.feed(server.answer(hello->record)), FlightStatus::kFailed);
  EXPECT_EQ(refused.error().code, ErrorCode::kTlsAlert);
  EXPECT_EQ(refused.flight().alert, uint8_t{70}) << "protocol_version";

  ServerFlightReader http(*hello);
  const std::string answer = "HTTP/1.1 400 Bad Request\r\n\r\n";
  EXPECT_EQ(http.feed(std::span(reinterpret_cast<const uint8_t*>(answer.data()), answer.size())), FlightStatus::kFailed);
  EXPECT_EQ(http.error().code, ErrorCode::kNotTls);

  ServerFlightReader flood(*hello, 4096);
  const std::vector<uint8_t> records(5000, 0x16);
  EXPECT_EQ(flood.feed(records), FlightStatus::kFailed) << flood.error().message;
}

}  // namespace
}  // namespace mitmscope
