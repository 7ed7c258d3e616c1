// The scan's judgements on recorded answers: the host's template, a confirmed anomaly, and a device that forges
// every name. The answers are observations as the engine records them (chain as DER, ServerHello fields), made
// from a small PKI: a public root the trust store holds, an interception root the registry holds, and an
// unknown CA.
#include "detect/anomaly.h"

#include <gtest/gtest.h>

#include "lab/pki.h"
#include "tls/server_hello.h"
#include "x509/shape.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::ca_spec;
using testing::leaf_spec;
using testing::must;
constexpr auto& kEc = testing::kEcKey;
constexpr uint16_t kTls13 = 0x0304, kTls12 = 0x0303;

class AnomalyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const UtcSeconds now = now_utc();
    world_ = new World{must(lab::make_identity(ca_spec("Public Root", now), kEc, nullptr)),
                       must(lab::make_identity(ca_spec("Interception Root", now), kEc, nullptr)),
                       must(lab::make_identity(ca_spec("Unknown CA", now), kEc, nullptr))};
  }
  static void TearDownTestSuite() { delete world_; }

  void SetUp() override {
    trust_ = TrustStore::from_certificates({world_->public_root.certificate}, "test roots").value();
    registry_ = InterceptorRegistry::from_metadata(
                    R"({"entries": [{"id": "test-root", "name": "Test Interception Root", "country": "KZ", "file": "root.pem"}]})",
                    "test", {{"root.pem", lab::certificate_pem(world_->interception_root.certificate)}})
                    .value();
  }

  // The answer for `name` with a leaf issued by `issuer`, as the engine records it.
  static Observation answer(const std::string& name, const lab::Identity& issuer, uint16_t version = kTls13) {
    const auto leaf = must(lab::make_identity(leaf_spec(name, now_utc()), kEc, &issuer));
    Observation observation;
    observation.time = now_utc();
    observation.sni = name;
    observation.handshake_complete = true;
    observation.server_hello = ServerHello{.legacy_version = kTls12, .selected_version = version, .cipher_suite = 0x1301};
    observation.server_hello->extensions = {{43, {0x03, 0x04}}, {51, {}}};
    observation.chain_der = {leaf.certificate.der(), issuer.certificate.der()};
    return observation;
  }

  static Observation refused() {
    Observation observation;
    observation.time = now_utc();
    observation.error = Error{ErrorCode::kConnectionReset, "connection reset by peer"};
    return observation;
  }

  AssessmentContext context() const { return {trust_, registry_, std::nullopt}; }

  struct World {
    lab::Identity public_root, interception_root, unknown_ca;
  };
  static World* world_;
  TrustStore trust_ = TrustStore::from_certificates({}, "none").value();
  InterceptorRegistry registry_;
};
AnomalyTest::World* AnomalyTest::world_ = nullptr;

TEST_F(AnomalyTest, TheTemplateIsTheControlsAnswersAndNamesWhatDiffers) {
  const auto genuine = answer("host.example", world_->public_root);
  const auto host_template = HostTemplate::build({refused(), genuine, genuine});
  ASSERT_TRUE(host_template);
  EXPECT_EQ(host_template->answers().size(), 1u);   // the failed control is left out, the repeat counted once
  EXPECT_EQ(host_template->genuine_chain(), genuine.chain_der);
  EXPECT_TRUE(host_template->matches(genuine));
  auto older = genuine;
  older.server_hello->selected_version = kTls12;
  EXPECT_FALSE(host_template->matches(older));
  EXPECT_EQ(host_template->differences(older), std::vector<std::string>{"TLS version differs"});
  const auto forged = answer("host.example", world_->interception_root);
  EXPECT_EQ(host_template->differences(forged).front(), "certificate differs");
  EXPECT_EQ(host_template->differences(refused()).front(), "connection_reset: connection reset by peer");
  EXPECT_FALSE(HostTemplate::build({refused(), refused()}));
}

TEST_F(AnomalyTest, AKnownInterceptorsChainIsInterceptionWithTheForgingAnalysed) {
  const auto host_template = HostTemplate::build({answer("host.example", world_->public_root)}).value();
  const auto result = judge_anomaly(answer("facebook.com", world_->interception_root), host_template, 5,
                                    TemplateSource::kControls, context());
  EXPECT_EQ(result.verdict, ScanVerdict::kIntercepted);
  ASSERT_TRUE(result.assessment && result.assessment->verdict.known_interceptor);
  EXPECT_EQ(result.assessment->verdict.known_interceptor->id, "test-root");
  ASSERT_TRUE(result.forging);
  EXPECT_FALSE(result.forging->same_issuer);
  EXPECT_EQ(result.reasons[1], "all 5 tries differ from the template; a control re-test right after matched");
}

TEST_F(AnomalyTest, AnUntrustedChangedChainWithoutARegistryEntryIsStillInterception) {
  const auto host_template = HostTemplate::build({answer("host.example", world_->public_root)}).value();
  const auto result =
      judge_anomaly(answer("vk.com", world_->unknown_ca), host_template, 3, TemplateSource::kTestNames, context());
  EXPECT_EQ(result.verdict, ScanVerdict::kIntercepted);
  EXPECT_FALSE(result.assessment->verdict.known_interceptor);
  EXPECT_NE(result.reasons.back().find("not browser-trusted"), std::string::npos);
  EXPECT_NE(result.reasons[1].find("a template name re-test"), std::string::npos);
  EXPECT_TRUE(result.forging);
}

TEST_F(AnomalyTest, ABrowserTrustedChangedChainIsVariationNotInterception) {
  const auto host_template = HostTemplate::build({answer("host.example", world_->public_root)}).value();
  const auto result =
      judge_anomaly(answer("cdn.example", world_->public_root), host_template, 5, TemplateSource::kControls, context());
  EXPECT_EQ(result.verdict, ScanVerdict::kMismatch);
  EXPECT_FALSE(result.forging);
}

TEST_F(AnomalyTest, NoCertificateIsAnErrorNotAVerdictOnInterception) {
  const auto host_template = HostTemplate::build({answer("host.example", world_->public_root)}).value();
  const auto result = judge_anomaly(refused(), host_template, 5, TemplateSource::kControls, context());
  EXPECT_EQ(result.verdict, ScanVerdict::kError);
  EXPECT_FALSE(result.assessment);
}

TEST_F(AnomalyTest, BehindADeviceThatForgesEveryNameEachNameIsJudgedByItsOwnChain) {
  const std::string evidence = "every name, controls included, is answered with a chain of a known interceptor";
  const auto forged = judge_alone(answer("facebook.com", world_->interception_root), evidence, context());
  EXPECT_EQ(forged.verdict, ScanVerdict::kIntercepted);
  EXPECT_EQ(forged.reasons.front(), evidence);
  const auto let_through = judge_alone(answer("bank.example", world_->public_root), evidence, context());
  EXPECT_EQ(let_through.verdict, ScanVerdict::kClean);
  auto plain = refused();
  plain.error = Error{ErrorCode::kNotTls, "not TLS"};
  plain.plain_answer = parse_plain_answer(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>("HTTP/1.1 409 Conflict\r\nServer: squid/5.7\r\n\r\n"), 44));
  const auto blocked = judge_alone(plain, evidence, context());
  EXPECT_EQ(blocked.verdict, ScanVerdict::kError);
  EXPECT_NE(blocked.reasons.front().find("409 Conflict"), std::string::npos);
}

TEST_F(AnomalyTest, FingerprintsAreComputedWhenTheAnswerIsJudged) {
  const auto observation = answer("one.example", world_->public_root);
  const auto plain = assess_observation(observation, context());
  EXPECT_EQ(plain.fingerprints.ja3s_string, "771,4865,43-51");
  EXPECT_EQ(plain.fingerprints.ja3s, ja3s(*observation.server_hello));
  EXPECT_TRUE(plain.fingerprints.ja4s.empty()) << "the FoxIO fingerprints only when asked for";
  EXPECT_TRUE(plain.fingerprints.ja4x.empty());
  auto foxio_context = context();
  foxio_context.foxio = true;
  const auto foxio = assess_observation(observation, foxio_context);
  EXPECT_EQ(foxio.fingerprints.ja4s, ja4s(*observation.server_hello));
  ASSERT_EQ(foxio.fingerprints.ja4x.size(), 2u);
  EXPECT_EQ(foxio.fingerprints.ja4x[1], ja4x(world_->public_root.certificate));
  EXPECT_TRUE(assess_observation(refused(), foxio_context).fingerprints.ja3s.empty());
}

TEST_F(AnomalyTest, AChainIsTrustedAsAChainWhateverTheName) {
  std::string why;
  EXPECT_TRUE(chain_trusted(answer("one.example", world_->public_root).chain_der, context(), &why));
  EXPECT_FALSE(chain_trusted(answer("one.example", world_->unknown_ca).chain_der, context(), &why));
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace mitmscope
