// probe against TLS servers the test starts on loopback, one per behaviour.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "detect/chain_verdict.h"
#include "engine/engine.h"
#include "engine/openssl_handshake.h"
#include "engine/tls_connection.h"
#include "lab/forger.h"
#include "lab/tls_server.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::must;

class ProbeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto now = now_utc();
    public_ca_ = new lab::Identity(must(lab::make_identity(testing::ca_spec("Probe Public CA", now), {}, nullptr)));
    host_ = new lab::Identity(must(lab::make_identity(testing::leaf_spec("host.probe.test", now), {}, public_ca_)));
    auto hierarchy = lab::make_interceptor_hierarchy(now, 2048);
    ASSERT_TRUE(hierarchy);
    hierarchy_ = new lab::InterceptorHierarchy(std::move(*hierarchy));
  }
  static void TearDownTestSuite() {
    delete public_ca_;
    delete host_;
    delete hierarchy_;
  }

  Observation probe(const lab::TlsTestServer& server, const std::string& sni, TlsClientOptions options = {}) {
    auto context = TlsClientContext::create(options);
    EXPECT_TRUE(context);
    auto endpoint = parse_endpoint(server.address(), 443);
    EXPECT_TRUE(endpoint);
    return TlsConnection::run(*context, *endpoint, sni);
  }

  std::unique_ptr<lab::TlsTestServer> serve(lab::TlsServerOptions options) {
    auto server = lab::TlsTestServer::start(std::move(options));
    EXPECT_TRUE(server) << server.error().message;
    return std::move(*server);
  }

  ChainAssessment assess(const Observation& observation, const InterceptorRegistry& registry) {
    const auto store = TrustStore::from_certificates({public_ca_->certificate}, "probe test CA");
    return assess_observation(observation, {*store, registry, std::nullopt});
  }

  static lab::Identity* public_ca_;
  static lab::Identity* host_;
  static lab::InterceptorHierarchy* hierarchy_;
  InterceptorRegistry registry_ = *InterceptorRegistry::builtin();
};

lab::Identity* ProbeTest::public_ca_ = nullptr;
lab::Identity* ProbeTest::host_ = nullptr;
lab::InterceptorHierarchy* ProbeTest::hierarchy_ = nullptr;

TEST_F(ProbeTest, ATrustedChainIsCleanAndFullyCaptured) {
  auto server = serve({.chain = {host_->certificate}, .key = host_->key});
  const auto observation = probe(*server, "host.probe.test");
  ASSERT_FALSE(observation.error) << observation.error->message;
  EXPECT_TRUE(observation.handshake_complete);
  ASSERT_TRUE(observation.server_hello);
  EXPECT_EQ(observation.server_hello->selected_version, 0x0304);
  EXPECT_FALSE(observation.cipher_suite_name.empty());
  ASSERT_EQ(observation.chain_der.size(), 1u);
  EXPECT_EQ(observation.chain_der[0], host_->certificate.der());
  EXPECT_TRUE(observation.timings.connect_ms && observation.timings.handshake_ms);
  EXPECT_EQ(server->server_names_seen(), std::vector<std::string>{"host.probe.test"});
  const auto assessment = assess(observation, registry_);
  EXPECT_EQ(assessment.verdict.kind, VerdictKind::kClean);
  EXPECT_TRUE(assessment.validation.browser_trusted);
}

TEST_F(ProbeTest, AnUntrustedChainIsCapturedWholeAndJudgedUntrusted) {
  const auto now = now_utc();
  const auto stranger = must(lab::make_identity(testing::ca_spec("Unknown CA", now), {}, nullptr));
  const auto leaf = must(lab::make_identity(testing::leaf_spec("host.probe.test", now), {}, &stranger));
  auto server = serve({.chain = {leaf.certificate, stranger.certificate}, .key = leaf.key});
  const auto observation = probe(*server, "host.probe.test");
  ASSERT_FALSE(observation.error);
  ASSERT_EQ(observation.chain_der.size(), 2u) << "the whole chain, even though it does not verify";
  EXPECT_EQ(observation.chain_der[1], stranger.certificate.der());
  const auto assessment = assess(observation, registry_);
  EXPECT_EQ(assessment.verdict.kind, VerdictKind::kUntrusted);
  EXPECT_EQ(assessment.validation.browser_error, "untrusted_root");
}

TEST_F(ProbeTest, AChainFromARegistryRootIsIntercepted) {
  lab::Forger forger(hierarchy_->intermediate, {.key_bits = 1024});
  const auto forged = forger.forge(host_->certificate);
  ASSERT_TRUE(forged);
  auto server = serve({.chain = {forged->certificate, hierarchy_->intermediate.certificate}, .key = forged->key});
  const auto observation = probe(*server, "facebook.com");
  ASSERT_FALSE(observation.error);
  auto registry = registry_;
  const auto root_only = InterceptorRegistry::from_metadata(
      R"({"entries": [{"id": "lab-qaznet", "name": "Lab Qaznet", "country": "KZ", "file": "root.pem"}]})", "test",
      {{"root.pem", lab::certificate_pem(hierarchy_->root.certificate)}});
  ASSERT_TRUE(root_only);
  registry.merge(*root_only);
  const auto assessment = assess(observation, registry);
  EXPECT_EQ(assessment.verdict.kind, VerdictKind::kIntercepted);
  ASSERT_TRUE(assessment.verdict.known_interceptor);
  EXPECT_EQ(assessment.verdict.known_interceptor->id, "lab-qaznet");
  EXPECT_EQ(assessment.verdict.known_interceptor->root_sha256, hierarchy_->root.certificate.sha256_hex());
  EXPECT_EQ(assessment.verdict.known_interceptor->chain_position, 1u);
  // Without the lab root in the registry the same chain is only untrusted.
  EXPECT_EQ(assess(observation, registry_).verdict.kind, VerdictKind::kUntrusted);
}

TEST_F(ProbeTest, Tls12OnlyServerNegotiatesTls12AndTheChainIsReadFromTheWire) {
  auto server = serve({.chain = {host_->certificate, public_ca_->certificate}, .key = host_->key, .max_version = 0x0303});
  const auto observation = probe(*server, "host.probe.test");
  ASSERT_FALSE(observation.error) << observation.error->message;
  ASSERT_TRUE(observation.server_hello);
  EXPECT_EQ(observation.server_hello->selected_version, 0x0303);
  EXPECT_EQ(observation.server_hello->legacy_version, 0x0303);
  ASSERT_EQ(observation.chain_der.size(), 2u);
  EXPECT_EQ(observation.chain_der[0], host_->certificate.der());
  EXPECT_NE(observation.cipher_suite_name.find("TLS_ECDHE"), std::string::npos) << observation.cipher_suite_name;
}

TEST_F(ProbeTest, Tls13OnlyServerAndClientVersionChoice) {
  auto server = serve({.chain = {host_->certificate}, .key = host_->key, .min_version = 0x0304});
  const auto tls13 = probe(*server, "host.probe.test");
  ASSERT_FALSE(tls13.error);
  EXPECT_EQ(tls13.server_hello->selected_version, 0x0304);
  const auto refused = probe(*server, "host.probe.test", {.min_version = 0x0303, .max_version = 0x0303});
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->code, ErrorCode::kTlsAlert) << refused.error->message;
  EXPECT_NE(refused.error->message.find("protocol_version"), std::string::npos) << refused.error->message;
  EXPECT_TRUE(refused.chain_der.empty());
}

TEST_F(ProbeTest, AServerThatClosesMidHandshake) {
  auto server = serve({.behavior = lab::ServerBehavior::kCloseAfterClientHello});
  const auto observation = probe(*server, "host.probe.test");
  ASSERT_TRUE(observation.error);
  EXPECT_EQ(observation.error->code, ErrorCode::kClosedDuringHandshake) << observation.error->message;
  EXPECT_EQ(assess(observation, registry_).verdict.kind, VerdictKind::kError);
}

TEST_F(ProbeTest, APortThatRefuses) {
  const auto port = lab::unused_loopback_port();
  ASSERT_TRUE(port);
  auto context = TlsClientContext::create({});
  const auto endpoint = parse_endpoint("127.0.0.1:" + std::to_string(*port), 443);
  const auto observation = TlsConnection::run(*context, *endpoint, "host.probe.test");
  ASSERT_TRUE(observation.error);
  EXPECT_EQ(observation.error->code, ErrorCode::kConnectionRefused);
  EXPECT_FALSE(observation.timings.handshake_ms);
}

TEST_F(ProbeTest, ASilentPortTimesOutWithinTheHandshakeTimeout) {
  auto server = serve({.behavior = lab::ServerBehavior::kSilent});
  const auto started = std::chrono::steady_clock::now();
  const auto observation = probe(*server, "host.probe.test", {.handshake_timeout = std::chrono::milliseconds(300)});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(observation.error);
  EXPECT_EQ(observation.error->code, ErrorCode::kHandshakeTimeout);
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::seconds(5)) << "the timeout bounds the wait";
}

TEST_F(ProbeTest, TheEngineStopsWithinAPollWhenItsStopFlagIsSetAndDropsWhatIsInFlight) {
  auto server = serve({.behavior = lab::ServerBehavior::kSilent});
  auto context = TlsClientContext::create({.handshake_timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(context);
  std::atomic<bool> stop{false};
  Engine engine(*context, {.concurrency = 4, .host_rate = 0, .stop = &stop});
  auto endpoint = parse_endpoint(server->address(), 443);
  ASSERT_TRUE(endpoint);
  size_t submitted = 0, completed = 0;
  std::thread signal([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  const auto started = std::chrono::steady_clock::now();
  engine.run(
      [&] {
        if (submitted == 4) return Engine::FeedResult::kLater;   // more would come: only the flag ends the run
        engine.submit({*endpoint, "host.probe.test", submitted++});
        return Engine::FeedResult::kSubmitted;
      },
      [&](uint64_t, Observation) { ++completed; });
  const auto elapsed = std::chrono::steady_clock::now() - started;
  signal.join();
  EXPECT_EQ(submitted, 4u);
  EXPECT_EQ(completed, 0u) << "the silent server never answered: nothing is reported as measured";
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::seconds(5)) << "not the 30 s handshake timeout";
}

TEST_F(ProbeTest, GarbageAndHttpAreNotTls) {
  for (auto behavior : {lab::ServerBehavior::kGarbage, lab::ServerBehavior::kHttp}) {
    auto server = serve({.behavior = behavior});
    const auto observation = probe(*server, "host.probe.test");
    ASSERT_TRUE(observation.error);
    EXPECT_EQ(observation.error->code, ErrorCode::kNotTls) << observation.error->message;
  }
}

TEST_F(ProbeTest, NoSniMeansNoServerNameExtension) {
  auto server = serve({.chain = {host_->certificate}, .key = host_->key});
  const auto observation = probe(*server, "");
  ASSERT_FALSE(observation.error);
  EXPECT_EQ(server->server_names_seen(), std::vector<std::string>{""});
}

TEST(CertificateMessage, ParsesTls12AndTls13Layouts) {
  const std::vector<uint8_t> first = {0x30, 0x01, 0xAA};
  const std::vector<uint8_t> second = {0x30, 0x02, 0xBB, 0xCC};
  // TLS 1.2: list length, then (length, certificate)...
  std::vector<uint8_t> tls12 = {11, 0, 0, 16, 0, 0, 13, 0, 0, 3, 0x30, 0x01, 0xAA, 0, 0, 4, 0x30, 0x02, 0xBB, 0xCC};
  EXPECT_EQ(parse_certificate_message(tls12, false), (std::vector<std::vector<uint8_t>>{first, second}));
  // TLS 1.3: context, list length, then (length, certificate, extensions)...
  std::vector<uint8_t> tls13 = {11, 0, 0, 22, 0, 0, 0, 18, 0, 0, 3, 0x30, 0x01, 0xAA, 0, 0,
                                0, 0, 4, 0x30, 0x02, 0xBB, 0xCC, 0, 0};
  EXPECT_EQ(parse_certificate_message(tls13, true), (std::vector<std::vector<uint8_t>>{first, second}));
  // Truncated: what was complete is kept.
  tls12.resize(tls12.size() - 2);
  EXPECT_EQ(parse_certificate_message(tls12, false), (std::vector<std::vector<uint8_t>>{first}));
}

}  // namespace
}  // namespace mitmscope
