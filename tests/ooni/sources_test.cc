// The other public data sources (ooni/sources.h): real samples parse and their traps stay traps; a campaign generated
// under a test root is found exactly in every format and in a mix of them; bad records are reported and skipped.
#include "ooni/sources.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include <fmt/ranges.h>

#include "core/base64.h"
#include "lab/pki.h"
#include "ooni/analysis.h"
#include "lab/source_records.h"
#include "support/test_pki.h"
#include "x509/trust_store.h"

namespace mitmscope::ooni {
namespace {

using lab::RecordFormat;
using lab::SourceRecord;

UtcSeconds at(const char* text) { return parse_utc(text).value(); }

const JudgedHandshake* judged_for(const AnalysisResult& result, std::string_view sni) {
  for (const auto& judged : result.judged) {
    if (judged.handshake->sni == sni) return &judged;
  }
  return nullptr;
}

TEST(SourceSamples, RealSamplesOfEverySourceParseAndTheirTrapsAreNotInterception) {
  auto trust = TrustStore::load_mozilla_default();
  ASSERT_TRUE(trust) << trust.error().message;
  const InterceptorRegistry registry = InterceptorRegistry::builtin().value();
  auto files = find_input_files({testing::test_data("source-samples").string()}, {});
  ASSERT_TRUE(files) << files.error().message;
  const auto result = analyze_files(*files, *trust, registry, {}, 2);
  EXPECT_TRUE(result.errors.empty()) << result.errors.front().reason;
  const std::map<std::string, uint64_t> sources = {{"atlas-sslcert", 1}, {"hyperquack-v1", 1}, {"hyperquack-v2", 1},
                                                   {"satellite", 1}, {"zgrab2", 1}};
  EXPECT_EQ(result.totals.sources, sources);
  // RIPE Atlas (COMODO chain for reviwiki.info, 2018) and Satellite (DigiCert chain for adobe.com, 2022): trusted at
  // their own time, so clean; the Hyperquack v2 sample holds only a control response, so no handshake.
  EXPECT_EQ(result.totals.handshakes, 4u);
  EXPECT_EQ(result.totals.verdicts.at("clean"), 2u);
  EXPECT_FALSE(result.totals.verdicts.contains("intercepted"));
  const auto* localhost = judged_for(result, "target");   // ZGrab2's self-signed CN=localhost on a postgres port
  ASSERT_NE(localhost, nullptr);
  EXPECT_EQ(localhost->category, OoniCategory::kSelfSignedService);
  EXPECT_EQ(localhost->handshake->tls_version, "TLSv1.2");
  EXPECT_EQ(localhost->handshake->cipher_suite, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA");
  // Hyperquack v1: a Lebanese bank's Entrust certificate for www.arabhra.org; the leaf alone cannot show its chain.
  const auto* mismatch = judged_for(result, "www.arabhra.org");
  ASSERT_NE(mismatch, nullptr);
  EXPECT_EQ(mismatch->verdict, OoniVerdict::kInconclusive);
  EXPECT_EQ(mismatch->handshake->address, "213.175.166.157:443");
  EXPECT_EQ(mismatch->handshake->vantage, "213.175.166.157");
  EXPECT_EQ(mismatch->handshake->matches_template, Tri::kNo);
  EXPECT_EQ(mismatch->handshake->time, at("2020-11-06T20:24:21Z").time_since_epoch().count());
}

TEST(SourceSamples, AnAtlasResultForAnAddressHasNoServerName) {
  // RIPE Atlas writes the address as dst_name when no name was measured; no SNI was sent then.
  SourceReader reader;
  for (const char* address : {"192.0.2.9", "2001:db8::a"}) {
    std::string json = fmt::format(R"({{"type":"sslcert","prb_id":7,"timestamp":1600000000,"dst_addr":"{0}","dst_name":"{0}","cert":[]}})", address);
    const size_t length = json.size();
    json.append(64, ' ');
    std::string sni = "unset";
    auto read = reader.read(json.data(), length, json.size(),
                            [&](size_t, Result<MeasurementFacts*> facts) { sni = facts ? std::string((*facts)->handshakes.at(0).server_name) : "error"; },
                            [](size_t, std::string_view) {});
    ASSERT_TRUE(read);
    EXPECT_EQ(sni, "") << address;
  }
}

TEST(SourceSamples, GoTimesAndPemBodies) {
  EXPECT_EQ(parse_go_time("2022-06-26 12:37:45.45643359 -0400 EDT m=+45402.040608357"), at("2022-06-26T16:37:45Z"));
  EXPECT_EQ(parse_go_time("2022-06-26T16:37:45Z"), at("2022-06-26T16:37:45Z"));
  EXPECT_FALSE(parse_go_time("yesterday at noon"));
  EXPECT_EQ(pem_body("-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\n-----END CERTIFICATE-----\n"), "AAAABBBB");
  EXPECT_EQ(pem_body("no armour"), "");
}

// A registered root with its intermediate, an unregistered one, a public CA for the traps, and the networks.
class SourceCampaignTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ca = testing::corpus_ca;
    world_ = new World{ca("Test Public Root", nullptr), ca("Test Interception Root", nullptr), ca("Unregistered Root", nullptr),
                       std::nullopt, std::nullopt, std::nullopt};
    world_->public_ca = ca("Test Public CA", &world_->public_root);
    world_->registered = ca("Security Certificate", &world_->registered_root);
    world_->unknown = ca("Unknown Intermediate", &world_->unknown_root);
    world_->private_ca = ca("Intranet CA", nullptr);
  }
  static void TearDownTestSuite() { delete world_; }

  void SetUp() override {
    trust_ = TrustStore::from_certificates({world_->public_root.certificate}, "test roots").value();
    registry_ = InterceptorRegistry::from_metadata(
                    R"({"entries": [{"id": "test-root", "name": "Test Interception Root", "country": "KZ", "file": "root.pem"}]})",
                    "test", {{"root.pem", lab::certificate_pem(world_->registered_root.certificate)}})
                    .value();
  }

  static std::string leaf(const std::string& name, const lab::Identity* issuer) {
    lab::CertificateSpec spec;
    spec.subject = {{"CN", name}};
    spec.dns_names = {name};
    spec.not_before = at("2021-01-01");
    spec.not_after = at("2029-01-01");
    auto identity = lab::make_identity(spec, {lab::KeySpec::Type::kEcP256}, issuer).value();
    return base64_encode(identity.certificate.der());
  }
  static std::string b64(const lab::Identity& identity) { return base64_encode(identity.certificate.der()); }
  // What `openssl req -x509` makes: CA:TRUE, its own issuer.
  static std::string self_signed(const std::string& name) {
    lab::CertificateSpec spec;
    spec.subject = {{"CN", name}};
    spec.is_ca = true;
    spec.not_before = at("2021-01-01");
    spec.not_after = at("2029-01-01");
    return base64_encode(lab::make_identity(spec, {lab::KeySpec::Type::kEcP256}, nullptr).value().certificate.der());
  }

  // Four targeted domains forged under `intermediate` from two networks, and three traps that are not interception:
  // a self-signed service, a server with another name's certificate, a private CA on one domain.
  static std::vector<SourceRecord> campaign(const lab::Identity& intermediate) {
    std::vector<SourceRecord> records;
    const char* domains[] = {"knews.kg", "rutracker.org", "xakep.ru", "regnum.ru"};
    for (size_t i = 0; i < std::size(domains); ++i) {
      records.push_back({.time = at("2022-03-01T10:00:00Z") + std::chrono::hours{i},
                         .vantage_ip = fmt::format("10.{}.0.{}", 1 + i % 2, 10 + i), .country = "KZ",
                         .server_ip = fmt::format("198.51.100.{}", 10 + i), .sni = domains[i],
                         .chain = {leaf(domains[i], &intermediate), b64(intermediate)}, .probe = static_cast<int>(1000 + i)});
    }
    auto trap = [&](const char* sni, std::vector<std::string> chain) {
      return SourceRecord{.time = at("2022-03-02T10:00:00Z"), .vantage_ip = "10.1.0.99", .country = "KZ",
                          .server_ip = "198.51.100.99", .sni = sni, .chain = std::move(chain), .probe = 1099};
    };
    records.push_back(trap("localhost", {self_signed("localhost")}));
    records.push_back(trap("www.bank.example", {leaf("other.example", &*world_->public_ca), b64(*world_->public_ca)}));
    records.push_back(trap("intranet.example", {leaf("intranet.example", &*world_->private_ca), b64(*world_->private_ca)}));
    return records;
  }

  AnalysisResult analyze(const std::vector<std::pair<RecordFormat, SourceRecord>>& records) {
    testing::TempDirectory directory;
    std::map<RecordFormat, std::string> files;
    for (const auto& [format, record] : records) files[format] += lab::record_json(format, record).dump() + "\n";
    for (const auto& [format, text] : files) {
      testing::write_file(directory.path() / fmt::format("records-{}.json", static_cast<int>(format)), text);
    }
    auto found = find_input_files({directory.path().string()}, {});
    EXPECT_TRUE(found);
    AnalysisOptions options;
    options.network_of = [](std::string_view address) -> std::optional<NetworkOf> {
      if (address.starts_with("10.1.")) return NetworkOf{9198, "Kazakhtelecom"};
      if (address.starts_with("10.2.")) return NetworkOf{48716, "PS Internet Company"};
      return std::nullopt;
    };
    return analyze_files(*found, trust_, registry_, options, 2);
  }
  std::vector<std::pair<RecordFormat, SourceRecord>> in(RecordFormat format, const std::vector<SourceRecord>& records) {
    std::vector<std::pair<RecordFormat, SourceRecord>> out;
    for (const auto& record : records) out.emplace_back(format, record);
    return out;
  }

  struct World {
    lab::Identity public_root, registered_root, unknown_root;
    std::optional<lab::Identity> public_ca, registered, unknown, private_ca;
  };
  static World* world_;
  TrustStore trust_ = TrustStore::from_certificates({}, "none").value();
  InterceptorRegistry registry_;
};
SourceCampaignTest::World* SourceCampaignTest::world_ = nullptr;

void expect_traps_are_not_interception(const AnalysisResult& result) {
  for (const char* trap : {"localhost", "www.bank.example", "intranet.example"}) {
    const auto* judged = judged_for(result, trap);
    ASSERT_NE(judged, nullptr) << trap;
    EXPECT_NE(judged->verdict, OoniVerdict::kIntercepted) << trap << ": " << category_name(judged->category);
  }
  EXPECT_EQ(judged_for(result, "localhost")->category, OoniCategory::kSelfSignedService);
}

TEST_F(SourceCampaignTest, AChainSourceFindsTheCampaignExactlyUnderItsRegisteredRoot) {
  for (RecordFormat format : {RecordFormat::kAtlas, RecordFormat::kSatellite, RecordFormat::kZgrab2}) {
    SCOPED_TRACE(static_cast<int>(format));
    const auto result = analyze(in(format, campaign(*world_->registered)));
    EXPECT_TRUE(result.errors.empty()) << result.errors.front().reason;
    EXPECT_EQ(result.totals.verdicts.at("intercepted"), 4u);
    ASSERT_EQ(result.issuers.size(), 1u);
    const IssuerRow& issuer = result.issuers[0];
    EXPECT_EQ(issuer.subject, "CN=Security Certificate");
    EXPECT_EQ(issuer.root_id, "test-root");
    EXPECT_EQ(issuer.count, 4u);
    EXPECT_EQ(issuer.domains, (std::set<std::string>{"knews.kg", "regnum.ru", "rutracker.org", "xakep.ru"}));
    // The network is the RIPE Atlas probe's, the address Satellite fetched from, the host ZGrab2 scanned.
    EXPECT_EQ(issuer.networks, (std::set<uint32_t>{9198, 48716}));
    EXPECT_EQ(issuer.first_seen, at("2022-03-01T10:00:00Z"));
    EXPECT_EQ(issuer.last_seen, at("2022-03-01T13:00:00Z"));
    expect_traps_are_not_interception(result);
  }
}

TEST_F(SourceCampaignTest, ALeafAloneIsCalledOnlyThroughItsIssuer) {
  for (RecordFormat format : {RecordFormat::kHyperquackV1, RecordFormat::kHyperquackV2}) {
    SCOPED_TRACE(static_cast<int>(format));
    auto records = campaign(*world_->registered);
    const auto alone = analyze(in(format, records));
    EXPECT_TRUE(alone.errors.empty()) << alone.errors.front().reason;
    // The intermediate is never archived and Censored Planet validates nothing: a lone leaf could be a public CA's,
    // so it proves no forging CA, whatever the template says. Inconclusive, not intercepted.
    EXPECT_FALSE(alone.totals.verdicts.contains("intercepted"));
    EXPECT_EQ(alone.totals.categories.at("inconclusive/lone_leaf"), 6u);  // the four, the two CA traps
    expect_traps_are_not_interception(alone);
    // With a chain source of the same campaign the leaves' issuer is in the corpus, signed by the registered root.
    auto mixed = in(format, records);
    for (const auto& record : in(RecordFormat::kAtlas, records)) mixed.push_back(record);
    const auto together = analyze(mixed);
    for (const char* domain : {"knews.kg", "rutracker.org", "xakep.ru", "regnum.ru"}) {
      for (const auto& judged : together.judged) {
        if (judged.handshake->sni == domain) {
          EXPECT_EQ(judged.category, OoniCategory::kKnownInterceptor) << domain;
        }
      }
    }
    // The same answers matching the host's template are the host's own certificates.
    for (auto& record : records) record.matches_template = true;
    EXPECT_FALSE(analyze(in(format, records)).totals.verdicts.contains("intercepted"));
  }
}

TEST_F(SourceCampaignTest, WithoutAControlAnUnknownIssuerStaysInconclusive) {
  const auto result = analyze(in(RecordFormat::kAtlas, campaign(*world_->unknown)));
  EXPECT_FALSE(result.totals.verdicts.contains("intercepted"));
  // The four, the private CA trap and the other name's certificate: nothing to compare them with.
  EXPECT_EQ(result.totals.categories.at("inconclusive/no_control"), 6u);
}

TEST_F(SourceCampaignTest, AnUnknownIssuerProvenByOoniIsAForgingCaInEverySource) {
  // OONI's probes rejected the leaves (ssl_unknown_authority) where DNS and the control agreed: that proves the
  // unknown issuer a forging CA. RIPE Atlas has no control and Hyperquack only the leaf, so neither proves it alone.
  const auto records = campaign(*world_->unknown);
  std::vector<std::pair<RecordFormat, SourceRecord>> others;
  for (RecordFormat format : {RecordFormat::kHyperquackV2, RecordFormat::kAtlas}) {
    for (const auto& record : records) others.emplace_back(format, record);
  }
  EXPECT_FALSE(analyze(others).totals.verdicts.contains("intercepted"));
  testing::TempDirectory directory;
  std::string ooni;
  for (const auto& record : records) ooni += lab::ooni_json(record).dump() + "\n";
  testing::write_file(directory.path() / "ooni.jsonl", ooni);
  std::map<RecordFormat, std::string> files;
  for (const auto& [format, record] : others) files[format] += lab::record_json(format, record).dump() + "\n";
  for (const auto& [format, text] : files) testing::write_file(directory.path() / fmt::format("{}.jsonl", static_cast<int>(format)), text);
  auto found = find_input_files({directory.path().string()}, {});
  ASSERT_TRUE(found);
  const auto result = analyze_files(*found, trust_, registry_, {}, 2);
  EXPECT_TRUE(result.errors.empty()) << result.errors.front().reason;
  EXPECT_EQ(result.totals.categories.at("intercepted/forging_ca"), 12u);   // four names in each of three sources
  ASSERT_EQ(result.issuers.size(), 1u);
  EXPECT_EQ(result.issuers[0].subject, "CN=Unknown Intermediate");   // archived by Atlas: the leaves' issuer found
  EXPECT_NE(judged_for(result, "intranet.example")->verdict, OoniVerdict::kIntercepted) << "one name: a private CA";
}

TEST_F(SourceCampaignTest, AMixedCampaignGivesOneIssuerAndPerSourceCountsThatAddUp) {
  std::vector<std::pair<RecordFormat, SourceRecord>> mixed;
  const auto records = campaign(*world_->registered);
  for (RecordFormat format : lab::kEveryRecordFormat) {
    for (const auto& record : records) mixed.emplace_back(format, record);
  }
  const auto result = analyze(mixed);
  EXPECT_TRUE(result.errors.empty()) << result.errors.front().reason;
  // The Hyperquack leaves are attributed too: the other sources archived their intermediate.
  EXPECT_EQ(result.totals.categories.at("intercepted/known_interceptor"), 4u * std::size(lab::kEveryRecordFormat));
  ASSERT_EQ(result.issuers.size(), 1u);
  EXPECT_EQ(result.issuers[0].root_id, "test-root");
  ASSERT_EQ(result.sources.size(), 5u);
  size_t intercepted = 0;
  for (const auto& source : result.sources) {
    EXPECT_EQ(source.intercepted, 4u) << source.key;
    EXPECT_EQ(source.measurements, records.size()) << source.key;
    intercepted += source.intercepted;
  }
  EXPECT_EQ(intercepted, result.issuers[0].count);
}

TEST_F(SourceCampaignTest, BadRecordsAreReportedWithTheirFieldAndTheRestIsKept) {
  testing::TempDirectory directory;
  auto good = lab::atlas_json(campaign(*world_->registered)[0]);
  auto no_time = good;
  no_time.erase("timestamp");
  testing::write_file(directory.path() / "atlas.json", nlohmann::json::array({good, no_time, good}).dump() + "\n");
  testing::write_file(directory.path() / "lines.jsonl", good.dump() + "\n{\"broken\n" + good.dump() + "\n");
  testing::write_file(directory.path() / "other.jsonl", "{\"name\": \"not a measurement\"}\n{\"name\": \"nor this\"}\n");
  auto files = find_input_files({directory.path().string()}, {});
  ASSERT_TRUE(files);
  const auto result = analyze_files(*files, trust_, registry_, {}, 1);
  EXPECT_EQ(result.totals.measurements, 4u);
  EXPECT_EQ(result.totals.verdicts.at("intercepted"), 4u);
  ASSERT_EQ(result.errors.size(), 3u);
  std::map<std::string, std::string> errors;
  for (const auto& error : result.errors) errors[std::filesystem::path(error.file).filename().string() + ":" + std::to_string(error.line)] = error.reason;
  EXPECT_NE(errors["atlas.json:1"].find("record 2: RIPE Atlas sslcert: field timestamp"), std::string::npos) << errors["atlas.json:1"];
  EXPECT_NE(errors["lines.jsonl:2"].find("not JSON"), std::string::npos) << errors["lines.jsonl:2"];
  EXPECT_NE(errors["other.jsonl:0"].find("other.jsonl: not a measurement of a known source"), std::string::npos)
      << errors["other.jsonl:0"];
  // The array's records are told apart (their measurement ids differ).
  std::set<uint32_t> records;
  for (const auto& judged : result.judged) {
    if (judged.handshake->file == 0) records.insert(judged.handshake->record);
  }
  EXPECT_EQ(records, (std::set<uint32_t>{1, 3}));
}

TEST_F(SourceCampaignTest, ANumberBeyondAnIntegerIsNoValueAndTheRecordIsKept) {
  // 1e300 has no int64 (converting it is undefined behaviour): the cipher suite is then unknown, the chain still read.
  const auto record = lab::hyperquack_v1_json(campaign(*world_->registered)[0]);
  auto hostile = record;
  auto& tls = hostile["Results"][0]["Received"]["tls"];
  tls["cipher_suite"] = 1e300;
  tls["version"] = -1e300;
  std::vector<AnalysisResult> results;
  results.reserve(2);   // the judged handshakes point into their result
  for (const auto& written : {record, hostile}) {
    testing::TempDirectory directory;
    testing::write_file(directory.path() / "hyperquack.jsonl", written.dump() + "\n");
    auto files = find_input_files({directory.path().string()}, {});
    ASSERT_TRUE(files);
    results.push_back(analyze_files(*files, trust_, registry_, {}, 1));
  }
  const auto& result = results[1];
  EXPECT_TRUE(result.errors.empty());
  ASSERT_EQ(result.judged.size(), 1u);
  ASSERT_EQ(results[0].judged.size(), 1u);
  EXPECT_EQ(result.judged[0].verdict, results[0].judged[0].verdict);
  EXPECT_EQ(results[0].judged[0].handshake->cipher_suite, "0xC02F") << "the same record with its numbers";
  EXPECT_EQ(result.judged[0].handshake->cipher_suite, "");
  EXPECT_EQ(result.judged[0].handshake->tls_version, "");
}

}  // namespace
}  // namespace mitmscope::ooni

namespace mitmscope::ooni {
namespace {

// An OONI tlsmiddlebox measurement shaped as ooni/spec's ts-037 sample: `iterative_trace` with a control and a target
// name's TTL-limited handshakes and a TCP traceroute.
nlohmann::json middlebox_hop(int ttl, const char* failure, const char* so_error, const std::vector<std::string>& chain,
                             const std::string& sni) {
  nlohmann::json certificates = nlohmann::json::array();
  for (const auto& certificate : chain) certificates.push_back({{"data", certificate}, {"format", "base64"}});
  return {{"ttl", ttl},
          {"handshake", {{"network", "tls"}, {"address", "198.51.100.20:443"}, {"cipher_suite", chain.empty() ? "" : "TLS_AES_128_GCM_SHA256"},
                         {"failure", failure ? nlohmann::json(failure) : nlohmann::json(nullptr)}, {"so_error", so_error},
                         {"no_tls_verify", true}, {"peer_certificates", certificates}, {"server_name", sni}, {"t", 1.5},
                         {"tls_version", chain.empty() ? "" : "TLSv1.3"}}}};
}

nlohmann::json middlebox_measurement(const std::vector<nlohmann::json>& control, const std::vector<nlohmann::json>& target,
                                     const char* target_sni, int distance) {
  nlohmann::json path = nlohmann::json::array();
  for (int ttl = 1; ttl < distance; ++ttl) {
    path.push_back({{"ttl", ttl}, {"icmp_error", {{"type", 11}, {"code", 0}, {"connected", ""}, {"source_ip_prefix", fmt::format("10.0.{}.0/24", ttl)}}}});
  }
  path.push_back({{"ttl", distance}, {"icmp_error", {{"type", 0}, {"connected", "yes"}, {"source_ip_prefix", ""}}}});
  return {{"measurement_start_time", "2022-09-01 16:37:55"}, {"probe_asn", "AS9198"}, {"probe_cc", "KZ"},
          {"probe_network_name", "Kazakhtelecom"}, {"report_id", "20220901T163755Z_tlsmiddlebox_KZ_9198_n1_test"},
          {"input", std::string("tlstrace://") + target_sni}, {"test_name", "tlsmiddlebox"}, {"test_version", "0.1.0"},
          {"test_keys", {{"iterative_trace", {{{"address", "198.51.100.20:443"},
                                               {"tcp_traceroute", {{"server_name", "example.com"}, {"iterations", path}}},
                                               {"control_trace", {{"server_name", "example.com"}, {"iterations", control}}},
                                               {"target_trace", {{"server_name", target_sni}, {"iterations", target}}}}}}}}};
}

TEST_F(SourceCampaignTest, TlsMiddleboxTracesAreLocatedAsTraceLocatesThem) {
  const std::vector<std::string> genuine = {leaf("example.com", &*world_->public_ca), b64(*world_->public_ca)};
  const std::vector<std::string> forged = {leaf("knews.kg", &*world_->registered), b64(*world_->registered)};
  auto expired = [](int ttl, const char* sni) { return middlebox_hop(ttl, "generic_timeout_error", "host_unreachable", {}, sni); };
  // The control passes hop 3 and reaches the server at 4; the target is answered at 3 with a forged chain.
  const auto injected = middlebox_measurement(
      {expired(1, "example.com"), expired(2, "example.com"), expired(3, "example.com"), middlebox_hop(4, nullptr, "", genuine, "example.com")},
      {expired(1, "knews.kg"), expired(2, "knews.kg"), middlebox_hop(3, nullptr, "", forged, "knews.kg")}, "knews.kg", 4);
  // ooni/spec's sample: the target reset at hop 4 while the control's handshakes went on to the server, 6 hops away.
  const auto reset = middlebox_measurement(
      {expired(1, "example.com"), expired(2, "example.com"), expired(3, "example.com"), expired(4, "example.com"),
       expired(5, "example.com"), middlebox_hop(6, nullptr, "", genuine, "example.com")},
      {expired(1, "1337x.be"), expired(2, "1337x.be"), expired(3, "1337x.be"), middlebox_hop(4, "connection_reset", "", {}, "1337x.be")},
      "1337x.be", 6);
  testing::TempDirectory directory;
  testing::write_file(directory.path() / "tlsmiddlebox.jsonl", injected.dump() + "\n" + reset.dump() + "\n");
  auto files = find_input_files({directory.path().string()}, {});
  ASSERT_TRUE(files);
  const auto result = analyze_files(*files, trust_, registry_, {}, 1);
  EXPECT_TRUE(result.errors.empty()) << result.errors.front().reason;
  EXPECT_EQ(result.totals.verdicts.at("intercepted"), 1u);   // the forged answer at hop 3; the genuine ones clean
  ASSERT_EQ(result.middlebox.size(), 2u);
  const InjectionPoint& first = result.middlebox[0].point;
  EXPECT_EQ(first.kind, InjectionKind::kInPath) << fmt::format("{}", fmt::join(first.reasons, "; "));
  EXPECT_EQ(first.injection_ttl, 3);
  EXPECT_EQ(first.router_before, "10.0.2.0/24");
  EXPECT_EQ(first.address_distance, 4);
  EXPECT_EQ(result.middlebox[0].trace->target_sni, "knews.kg");
  const InjectionPoint& second = result.middlebox[1].point;
  EXPECT_EQ(second.injection_ttl, 4) << fmt::format("{}", fmt::join(second.reasons, "; "));
  EXPECT_EQ(second.kind, InjectionKind::kInPath) << "the control went past hop 4: a device on the path, not a proxy";
}

}  // namespace
}  // namespace mitmscope::ooni
