#include "ooni/analysis.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "lab/pki.h"
#include "support/test_pki.h"
#include "core/base64.h"
#include "report/json_output.h"

namespace mitmscope::ooni {
namespace {

UtcSeconds at(const char* text) { return parse_utc(text).value(); }

// A small interception hierarchy: a registered root with one intermediate, an unregistered root
// with another, and a public CA for the clean traffic.
class AnalysisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ca = testing::corpus_ca;
    world_ = new World{ca("Test Public Root", nullptr), ca("Test Interception Root", nullptr), ca("Unregistered Root", nullptr),
                       std::nullopt, std::nullopt, std::nullopt};
    world_->public_intermediate = ca("Test Public CA", &world_->public_root);
    world_->registered_intermediate = ca("Registered Intermediate", &world_->registered_root);
    world_->unknown_intermediate = ca("Unknown Intermediate", &world_->unknown_root);
  }
  static void TearDownTestSuite() { delete world_; }

  void SetUp() override {
    trust_ = TrustStore::from_certificates({world_->public_root.certificate}, "test roots").value();
    const std::string pem = lab::certificate_pem(world_->registered_root.certificate);
    registry_ = InterceptorRegistry::from_metadata(
                    R"({"entries": [{"id": "test-root", "name": "Test Interception Root", "country": "KZ", "file": "root.pem"}]})",
                    "test", {{"root.pem", pem}})
                    .value();
  }

  static std::string leaf(const std::string& name, const lab::Identity& issuer) {
    lab::CertificateSpec spec;
    spec.subject = {{"CN", name}};
    spec.dns_names = {name};
    spec.not_before = at("2021-01-01");
    spec.not_after = at("2029-01-01");
    auto identity = lab::make_identity(spec, {lab::KeySpec::Type::kEcP256}, &issuer).value();
    return base64_encode(identity.certificate.der());
  }
  static std::string b64(const lab::Identity& identity) { return base64_encode(identity.certificate.der()); }

  struct Spec {
    std::string sni;
    std::vector<std::string> certificates;
    std::string failure = "ssl_unknown_authority";
    bool dns_consistent = true;
    bool control_ok = true;
    std::string cc = "KZ";
    std::string time = "2022-03-01 10:00:00";
    double t = 0.5;   // the handshake's offset from the measurement's start
  };
  static std::string line(const Spec& spec) {
    nlohmann::json certificates = nlohmann::json::array();
    for (const auto& data : spec.certificates) certificates.push_back({{"data", data}, {"format", "base64"}});
    const std::string address = "192.0.2.10:443";
    nlohmann::json m = {
        {"measurement_start_time", spec.time}, {"probe_cc", spec.cc}, {"probe_asn", "AS9198"},
        {"probe_network_name", "Kazakhtelecom"}, {"input", "https://" + spec.sni + "/"}, {"test_name", "web_connectivity"},
        {"report_id", "r1"},
        {"test_keys",
         {{"tls_handshakes", {{{"address", address}, {"server_name", spec.sni},
                               {"failure", spec.failure.empty() ? nlohmann::json(nullptr) : nlohmann::json(spec.failure)},
                               {"peer_certificates", certificates}, {"t", spec.t}}}},
          {"dns_consistency", spec.dns_consistent ? "consistent" : "inconsistent"},
          {"control", {{"dns", {{"addrs", {spec.dns_consistent ? "192.0.2.10" : "192.0.2.99"}}}},
                       {"tls_handshake", {{address, {{"server_name", spec.sni}, {"status", spec.control_ok},
                                                     {"failure", spec.control_ok ? nlohmann::json(nullptr) : nlohmann::json("ssl_unknown_authority")}}}}}}}}}};
    return m.dump();
  }

  AnalysisResult analyze(const std::vector<Spec>& specs, AnalysisOptions options = {}) {
    Analyzer analyzer(trust_, registry_, options, {"test.jsonl"}, 1);
    Block block;
    for (const auto& spec : specs) block.data += line(spec) + "\n";
    block.size = block.data.size();
    block.data.resize(block.size + kBlockPadding);
    analyzer.consume(block, 0);
    return analyzer.finish();
  }

  struct World {
    lab::Identity public_root, registered_root, unknown_root;
    std::optional<lab::Identity> public_intermediate, registered_intermediate, unknown_intermediate;
  };
  static World* world_;
  TrustStore trust_ = TrustStore::from_certificates({}, "none").value();
  InterceptorRegistry registry_;
};
AnalysisTest::World* AnalysisTest::world_ = nullptr;

TEST_F(AnalysisTest, LoneLeafIsAttributedThroughAnIntermediateSeenLater) {
  // The lone leaf comes first in the input; the full chain that shows its intermediate comes after.
  const auto result = analyze({
      {"knews.kg", {leaf("knews.kg", *world_->registered_intermediate)}},
      {"cont.ws", {leaf("cont.ws", *world_->registered_intermediate), b64(*world_->registered_intermediate)}, ""},
      {"www.bbc.com", {leaf("www.bbc.com", *world_->public_intermediate), b64(*world_->public_intermediate)}, ""},
  });
  EXPECT_EQ(result.totals.verdicts.at("clean"), 1u);
  ASSERT_EQ(result.judged.size(), 2u);
  for (const auto& judged : result.judged) {
    EXPECT_EQ(judged.verdict, OoniVerdict::kIntercepted);
    EXPECT_EQ(judged.category, OoniCategory::kKnownInterceptor);
    ASSERT_TRUE(judged.root);
    EXPECT_EQ(judged.root->id, "test-root");
  }
  EXPECT_TRUE(result.judged[0].issuer_from_corpus);
  EXPECT_FALSE(result.judged[1].issuer_from_corpus);
  ASSERT_EQ(result.issuers.size(), 1u);
  EXPECT_EQ(result.issuers[0].root_id, "test-root");
  EXPECT_EQ(result.issuers[0].count, 2u);
  EXPECT_EQ(result.issuers[0].subject, "CN=Registered Intermediate");
}

TEST_F(AnalysisTest, AHandshakeOffsetNoMeasurementHasCountsFromTheStart) {
  // Found by the ooni_measurement fuzzer: an offset of 7.8e123 s overflowed the conversion to whole seconds. (JSON
  // has no infinity or NaN; handshake_time's own test covers them.)
  Spec spec{"knews.kg", {leaf("knews.kg", *world_->registered_intermediate), b64(*world_->registered_intermediate)}};
  const int64_t start = at("2022-03-01 10:00:00").time_since_epoch().count();
  for (const double t : {7.77778e123, -3.0, 90000.0}) {
    spec.t = t;
    const auto result = analyze({spec});
    ASSERT_EQ(result.judged.size(), 1u) << t;
    EXPECT_EQ(result.judged[0].handshake->time, start) << t;
  }
  spec.t = 61.9;
  EXPECT_EQ(analyze({spec}).judged[0].handshake->time, start + 61);
}

TEST_F(AnalysisTest, ForgingCaNeedsSeveralUnrelatedDomains) {
  std::vector<Spec> specs;
  for (const char* domain : {"a.rutracker.org", "rutracker.org", "xakep.ru", "regnum.ru"}) {
    specs.push_back({domain, {leaf(domain, *world_->unknown_intermediate), b64(*world_->unknown_intermediate)}});
  }
  const auto three = analyze(specs);  // rutracker.org twice: three registrable domains
  ASSERT_EQ(three.judged.size(), 4u);
  for (const auto& judged : three.judged) {
    EXPECT_EQ(judged.verdict, OoniVerdict::kIntercepted);
    EXPECT_EQ(judged.category, OoniCategory::kForgingCa);
  }
  ASSERT_EQ(three.issuers.size(), 1u);
  EXPECT_EQ(three.issuers[0].root, "unknown");
  const auto strict = analyze(specs, {.min_forged_domains = 4});
  for (const auto& judged : strict.judged) {
    EXPECT_EQ(judged.verdict, OoniVerdict::kInconclusive);
    EXPECT_EQ(judged.category, OoniCategory::kIssuerOnFewDomains);
  }
}

TEST_F(AnalysisTest, TheForgingRuleNeedsConsistentDnsAndAWorkingControl) {
  std::vector<Spec> dns, control;
  for (const char* domain : {"one.example", "two.example", "three.example"}) {
    dns.push_back({domain, {leaf(domain, *world_->unknown_intermediate)}, "ssl_unknown_authority", false});
    control.push_back({domain, {leaf(domain, *world_->unknown_intermediate)}, "ssl_unknown_authority", true, false});
  }
  for (const auto& judged : analyze(dns).judged) EXPECT_EQ(judged.category, OoniCategory::kDnsInconsistent);
  for (const auto& judged : analyze(control).judged) EXPECT_EQ(judged.category, OoniCategory::kControlFailedToo);
}

TEST_F(AnalysisTest, FiltersAndRegistrableDomains) {
  const auto result = analyze({{"knews.kg", {leaf("knews.kg", *world_->registered_intermediate)}, "ssl_unknown_authority", true, true, "IT"},
                               {"knews.kg", {leaf("knews.kg", *world_->registered_intermediate)}, "ssl_unknown_authority", true, true, "KZ", "2019-01-01 00:00:00"}},
                              {.country = "KZ", .since = at("2020-01-01")});
  EXPECT_EQ(result.totals.filtered_out, 2u);
  EXPECT_TRUE(result.judged.empty());
  EXPECT_EQ(registrable_domain("kz.tsargrad.tv"), "tsargrad.tv");
  EXPECT_EQ(registrable_domain("www.bbc.co.uk"), "bbc.co.uk");
  EXPECT_EQ(registrable_domain("astrakhan.sm.news"), "sm.news");
  EXPECT_EQ(registrable_domain("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(registrable_domain("Example.COM."), "example.com");
}

TEST_F(AnalysisTest, AStopEndsTheReadingAndSaysTheAnswerIsPartial) {
  testing::TempDirectory directory;
  std::string lines;
  for (int i = 0; i < 50; ++i) lines += line({"knews.kg", {leaf("knews.kg", *world_->registered_intermediate)}}) + "\n";
  for (int file = 0; file < 4; ++file) std::ofstream(directory.path() / fmt::format("m{}.jsonl", file)) << lines;
  auto files = find_input_files({directory.path().string()}, {});
  ASSERT_TRUE(files);
  std::atomic<bool> stop{false};
  const auto whole = analyze_files(*files, trust_, registry_, {.stop = &stop}, 2);
  EXPECT_FALSE(whole.interrupted);
  EXPECT_EQ(whole.totals.measurements, 200u);
  stop = true;   // what SIGINT does
  const auto stopped = analyze_files(*files, trust_, registry_, {.stop = &stop}, 2);
  EXPECT_TRUE(stopped.interrupted);
  EXPECT_EQ(stopped.totals.measurements, 0u) << "stopped before the first block";
}

}  // namespace
}  // namespace mitmscope::ooni
