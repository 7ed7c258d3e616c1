#include "x509/trust_store.h"

#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include "detect/chain_verdict.h"
#include "support/test_pki.h"
#include "x509/certificate_reader.h"
#include "x509/registry.h"

namespace mitmscope {
namespace {

using testing::must;

const TrustStore& mozilla() {
  static const TrustStore store = [] {
    auto loaded = TrustStore::load_mozilla_default();
    if (!loaded) {
      ADD_FAILURE() << loaded.error().message;
      std::abort();
    }
    return *loaded;
  }();
  return store;
}

const InterceptorRegistry& builtin() {
  static const InterceptorRegistry registry = *InterceptorRegistry::builtin();
  return registry;
}

struct OoniHandshake {
  std::string server_name;
  std::string failure;
  Chain chain;
};

struct OoniMeasurement {
  UtcSeconds time;
  std::vector<OoniHandshake> handshakes;
};

OoniMeasurement read_ooni(const std::string& name) {
  std::ifstream stream(testing::test_data("ooni-samples/" + name));
  const auto document = nlohmann::json::parse(stream);
  OoniMeasurement measurement{*parse_utc(document["measurement_start_time"].get<std::string>()), {}};
  for (const auto& handshake : document["test_keys"]["tls_handshakes"]) {
    OoniHandshake entry{handshake["server_name"].get<std::string>(),
                        handshake["failure"].is_null() ? "" : handshake["failure"].get<std::string>(), {}};
    if (handshake["peer_certificates"].is_array()) {
      for (const auto& certificate : handshake["peer_certificates"]) {
        auto parsed = certificate_from_base64(certificate["data"].get<std::string>());
        EXPECT_TRUE(parsed) << name;
        if (parsed) entry.chain.push_back(*parsed);
      }
    }
    measurement.handshakes.push_back(std::move(entry));
  }
  return measurement;
}

TEST(TrustStore, LoadsTheMozillaRootsAsSeparateFiles) {
  EXPECT_GT(mozilla().size(), 100u);
  EXPECT_EQ(mozilla().description(), kMozillaRootsDirectory);
}

TEST(TrustStore, RealOoniChainsValidateAsOfTheirMeasurementTime) {
  for (const char* file : {"real_IT_AS30722_webconnectivity-0.5.28_2024-01-23_csmonitor.com_fullchains.json",
                           "real_IT_AS30722_webconnectivity-0.5.26_2023-11-30_nexa.polito.it.json"}) {
    const auto measurement = read_ooni(file);
    ASSERT_FALSE(measurement.handshakes.empty()) << file;
    for (const auto& handshake : measurement.handshakes) {
      ASSERT_GE(handshake.chain.size(), 2u);
      const auto result = mozilla().validate(handshake.chain, {.hostname = handshake.server_name, .at = measurement.time});
      EXPECT_TRUE(result.browser_trusted) << file << " " << handshake.server_name << " " << result.browser_error;
      EXPECT_TRUE(result.hostname_matches);
      EXPECT_TRUE(mozilla().contains(result.path.back())) << "the path must end at a Mozilla root";
      EXPECT_FALSE(builtin().attribute(handshake.chain));
      // Fifty years later the same chain has expired: the time matters.
      const auto later = mozilla().validate(handshake.chain, {.hostname = handshake.server_name,
                                                              .at = measurement.time + std::chrono::years{50}});
      EXPECT_FALSE(later.browser_trusted);
      EXPECT_TRUE(later.has_issue("expired"));
    }
  }
}

TEST(TrustStore, SignalsPinnedCertificateIsUntrustedButNotAnInterceptor) {
  const auto measurement = read_ooni("real_AM_AS44395_signal_2022-10-27_ssl_unknown_authority.json");
  ASSERT_EQ(measurement.handshakes.size(), 6u);
  for (const auto& handshake : measurement.handshakes) {
    ASSERT_EQ(handshake.chain.size(), 1u);
    const auto assessment = assess_chain(handshake.chain, handshake.server_name, {mozilla(), builtin(), measurement.time},
                                         measurement.time);
    EXPECT_EQ(assessment.verdict.kind, VerdictKind::kUntrusted) << handshake.server_name;
    EXPECT_FALSE(assessment.attribution);
    EXPECT_TRUE(assessment.attribution.collisions.empty());
    EXPECT_TRUE(assessment.validation.has_issue("unknown_authority") || assessment.validation.has_issue("self_signed"))
        << assessment.validation.browser_error;
  }
}

TEST(TrustStore, TheIranianCertificateIsExpiredNotAnInterceptor) {
  const auto measurement = read_ooni("real_IR_AS197207_webconnectivity_2022-08-15_yooz.ir_ssl_invalid_certificate.json");
  ASSERT_EQ(measurement.handshakes.size(), 1u);
  const auto& handshake = measurement.handshakes.front();
  EXPECT_EQ(handshake.failure, "ssl_invalid_certificate");
  const auto assessment = assess_chain(handshake.chain, handshake.server_name, {mozilla(), builtin(), measurement.time},
                                       measurement.time);
  EXPECT_EQ(assessment.verdict.kind, VerdictKind::kUntrusted);
  EXPECT_FALSE(assessment.attribution);
  EXPECT_TRUE(assessment.validation.has_issue("expired")) << assessment.validation.browser_error;
  EXPECT_LT(*handshake.chain.front().not_after(), measurement.time);
}

TEST(TrustStore, JudgesAtTheRequestedTime) {
  const auto now = now_utc();
  auto root_spec = testing::ca_spec("Time Root", now);
  root_spec.not_before = *parse_utc("2015-01-01");
  const auto root = must(lab::make_identity(root_spec, {}, nullptr));
  auto leaf_spec = testing::leaf_spec("google.com", now);
  leaf_spec.not_before = *parse_utc("2019-07-01");
  leaf_spec.not_after = *parse_utc("2019-09-01");
  const auto leaf = must(lab::make_identity(leaf_spec, {}, &root));
  const auto store = TrustStore::from_certificates({root.certificate}, "test root");
  ASSERT_TRUE(store);
  const Chain chain{leaf.certificate};
  EXPECT_TRUE(store->validate(chain, {.hostname = "google.com", .at = *parse_utc("2019-07-20")}).browser_trusted);
  const auto today = store->validate(chain, {.hostname = "google.com"});
  EXPECT_FALSE(today.browser_trusted);
  EXPECT_EQ(today.browser_error, "expired");
  const auto early = store->validate(chain, {.hostname = "google.com", .at = *parse_utc("2019-06-01")});
  EXPECT_EQ(early.browser_error, "not_yet_valid");
  const auto wrong_name = store->validate(chain, {.hostname = "facebook.com", .at = *parse_utc("2019-07-20")});
  EXPECT_FALSE(wrong_name.browser_trusted);
  EXPECT_TRUE(wrong_name.has_issue("hostname_mismatch"));
  EXPECT_FALSE(wrong_name.hostname_matches);
}

TEST(TrustStore, CollectsEveryProblemNotOnlyTheFirst) {
  const auto now = now_utc();
  const auto stranger = must(lab::make_identity(testing::ca_spec("Stranger Root", now), {}, nullptr));
  auto leaf_spec = testing::leaf_spec("google.com", now);
  leaf_spec.not_after = now - std::chrono::days{1};
  leaf_spec.not_before = now - std::chrono::days{30};
  const auto leaf = must(lab::make_identity(leaf_spec, {}, &stranger));
  const auto result = mozilla().validate(Chain{leaf.certificate}, {.hostname = "example.com"});
  EXPECT_TRUE(result.has_issue("unknown_authority"));
  EXPECT_TRUE(result.has_issue("expired"));
  EXPECT_TRUE(result.has_issue("hostname_mismatch"));
}

TEST(TrustStore, ReplacementStoresComeFromAFileOrADirectoryAndErrorsNameThePath) {
  const auto now = now_utc();
  const auto root = must(lab::make_identity(testing::ca_spec("Dir Root", now), {}, nullptr));
  testing::TempDirectory directory;
  testing::write_file(directory.path() / "root.crt", lab::certificate_pem(root.certificate));
  testing::write_file(directory.path() / "README.txt", "not a certificate");
  const auto from_directory = TrustStore::load(directory.path());
  ASSERT_TRUE(from_directory) << from_directory.error().message;
  EXPECT_EQ(from_directory->size(), 1u);
  const auto from_file = TrustStore::load(directory.path() / "root.crt");
  ASSERT_TRUE(from_file);
  EXPECT_TRUE(from_file->contains(root.certificate));
  testing::write_file(directory.path() / "bad.pem", "-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n");
  const auto bad = TrustStore::load(directory.path());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("bad.pem"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(TrustStore::load(directory.path() / "missing.pem"));
}

}  // namespace
}  // namespace mitmscope
