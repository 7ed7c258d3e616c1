// Interceptor families (ooni/families.h): each grouping rule on its own, and families found in an analysis of a
// campaign that no registry entry knows.
#include "ooni/families.h"

#include <gtest/gtest.h>

#include "core/base64.h"
#include "lab/pki.h"
#include "ooni/analysis.h"
#include "lab/source_records.h"
#include "support/test_pki.h"

namespace mitmscope::ooni {
namespace {

UtcSeconds at(const char* text) { return parse_utc(text).value(); }

// A national interception under two roots of one name that no registry knows, a corporate proxy with its own
// profile, and a private CA on one name.
class FamiliesTest : public ::testing::Test {
 protected:
  static lab::Identity ca(const char* name, const lab::Identity* issuer, UtcSeconds from, const lab::KeySpec& key) {
    lab::CertificateSpec spec;
    spec.subject = {{"CN", name}};
    spec.is_ca = true;
    spec.not_before = from;
    spec.not_after = from + std::chrono::days{3650};
    return testing::must(lab::make_identity(spec, key, issuer));
  }
  static std::string leaf(const std::string& name, const lab::Identity& issuer, int days, const lab::KeySpec& key) {
    lab::CertificateSpec spec;
    spec.subject = {{"CN", name}};
    spec.dns_names = {name};
    spec.not_before = at("2022-01-01");
    spec.not_after = at("2022-01-01") + std::chrono::days{days};
    return base64_encode(testing::must(lab::make_identity(spec, key, &issuer)).certificate.der());
  }
  static std::string b64(const lab::Identity& identity) { return base64_encode(identity.certificate.der()); }
};

TEST_F(FamiliesTest, AnUnknownNationalRootAndAProxyAreTwoFamiliesWithTheirEvidence) {
  const lab::KeySpec rsa{lab::KeySpec::Type::kRsa, 2048, 65537};
  const lab::KeySpec ec{lab::KeySpec::Type::kEcP256};
  const auto root_a = ca("Information Security Certification Authority", nullptr, at("2020-02-20T10:00:00Z"), ec);
  const auto root_b = ca("Information Security Certification Authority", nullptr, at("2020-02-20T10:04:00Z"), ec);
  const auto first = ca("Security Certificate 1", &root_a, at("2021-01-01"), ec);
  const auto second = ca("Security Certificate 2", &root_b, at("2021-06-01"), ec);
  const auto proxy_root = ca("Corporate Proxy Root", nullptr, at("2020-01-01"), ec);
  const auto proxy = ca("Corporate Proxy CA", &proxy_root, at("2020-01-01"), ec);
  const auto private_ca = ca("Intranet CA", nullptr, at("2020-01-01"), ec);
  std::string ooni;
  auto add = [&](const std::string& sni, std::vector<std::string> chain, const char* time) {
    lab::SourceRecord record{.time = at(time), .country = "KZ", .server_ip = "198.51.100.7", .sni = sni, .chain = std::move(chain)};
    ooni += lab::ooni_json(record).dump() + "\n";
  };
  for (const char* name : {"a.example", "b.example", "c.example"}) {
    add(name, {leaf(name, first, 90, rsa), b64(first)}, "2022-02-01T00:00:00Z");
    add(name, {leaf(name, second, 90, rsa), b64(second)}, "2022-08-01T00:00:00Z");
    add(std::string("proxied-") + name, {leaf(std::string("proxied-") + name, proxy, 30, ec), b64(proxy)}, "2022-03-01T00:00:00Z");
  }
  add("intranet.example", {leaf("intranet.example", private_ca, 365, ec), b64(private_ca)}, "2022-04-01T00:00:00Z");
  testing::TempDirectory directory;
  testing::write_file(directory.path() / "ooni.jsonl", ooni);
  auto files = find_input_files({directory.path().string()}, {});
  ASSERT_TRUE(files);
  const auto trust = TrustStore::from_certificates({}, "none").value();
  const InterceptorRegistry registry;
  const auto result = analyze_files(*files, trust, registry, {}, 1);
  ASSERT_EQ(result.families.size(), 2u);
  const IssuerFamily& national = result.families[0];   // first use 2022-02-01
  EXPECT_EQ(national.id, "family-1");
  EXPECT_EQ(national.issuer_names, (std::vector<std::string>{"CN=Security Certificate 1", "CN=Security Certificate 2"}));
  EXPECT_TRUE(national.registry.empty()) << "no registry entry knows it";
  // OONI's probes archive the leaf alone when they reject it: the intermediates are never seen, so their roots'
  // shared name cannot show; the leaves' profile does.
  ASSERT_EQ(national.evidence.size(), 1u);
  EXPECT_NE(national.evidence[0].find("mint leaves of one profile: RSA 2048 e=65537, 90 days"), std::string::npos)
      << national.evidence[0];
  EXPECT_EQ(national.handshakes, 6u);
  EXPECT_EQ(national.intercepted, 6u);
  EXPECT_EQ(national.first_seen, at("2022-02-01T00:00:00Z"));
  EXPECT_EQ(national.last_seen, at("2022-08-01T00:00:00Z"));
  EXPECT_EQ(national.sources, (std::map<std::string, size_t>{{"ooni", 6}}));
  const IssuerFamily& corporate = result.families[1];
  EXPECT_EQ(corporate.issuer_names, (std::vector<std::string>{"CN=Corporate Proxy CA"}));
  EXPECT_EQ(corporate.domains.size(), 3u);
}

}  // namespace
}  // namespace mitmscope::ooni
