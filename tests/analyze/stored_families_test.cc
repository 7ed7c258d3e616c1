// Interceptor families over a store (analyze/stored_families.h): members grouped by the family rules with their
// uses summed, and the members read from a real store, whatever measured them.
#include "analyze/stored_families.h"

#include <gtest/gtest.h>

#include "lab/pki.h"
#include "report/campaign_report.h"
#include "store/sqlite_store.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::must;

FamilyMember member(std::string sha256, std::string name, const char* made, const char* first_seen, size_t results,
                    std::map<std::string, size_t> sources) {
  FamilyMember out;
  out.candidate = {.issuer_key = sha256, .name = std::move(name), .spki = "key-" + sha256, .made = parse_utc(made).value()};
  out.use = {sha256, {}, results, first_seen, first_seen};
  out.reach = {sha256, {"vk.com", sha256 + ".example"}, {"AS9198"}, std::move(sources)};
  return out;
}

TEST(StoredFamilies, MembersOfOneNameMadeMinutesApartAreOneFamilyWithTheirUsesSummed) {
  const std::vector<FamilyMember> members = {
      member("bb", "CN=Proxy CA", "2021-01-01T00:00:00Z", "2021-02-01T00:00:00Z", 5, {{"scan", 5}}),
      member("aa", "CN=ISCA", "2020-02-20T10:00:00Z", "2020-03-01T00:00:00Z", 10, {{"atlas-sslcert", 4}, {"scan", 6}}),
      member("cc", "CN=ISCA", "2020-02-20T10:04:00Z", "2020-04-01T00:00:00Z", 3, {{"hyperquack-v2", 3}}),
  };
  const auto families = group_members(members);
  ASSERT_EQ(families.size(), 2u);
  const StoredFamily& isca = families[0];
  EXPECT_EQ(isca.id, "family-1") << "numbered by first use";
  ASSERT_EQ(isca.members.size(), 2u);
  EXPECT_EQ(isca.members[0]->use.sha256, "aa");
  EXPECT_EQ(isca.members[1]->use.sha256, "cc");
  EXPECT_EQ(isca.results, 13u);
  EXPECT_EQ(isca.first_seen, "2020-03-01T00:00:00Z");
  EXPECT_EQ(isca.last_seen, "2020-04-01T00:00:00Z");
  EXPECT_EQ(isca.names, (std::set<std::string>{"aa.example", "cc.example", "vk.com"}));
  EXPECT_EQ(isca.sources, (std::map<std::string, size_t>{{"atlas-sslcert", 4}, {"hyperquack-v2", 3}, {"scan", 6}}));
  ASSERT_EQ(isca.evidence.size(), 1u);
  EXPECT_NE(isca.evidence[0].find("made 4 minutes apart"), std::string::npos) << isca.evidence[0];
  EXPECT_EQ(families[1].id, "family-2");
  EXPECT_EQ(families[1].members.size(), 1u);
  EXPECT_TRUE(families[1].evidence.empty());
}

// Two intermediates of one root, each forging for other names from other sources, and a corporate proxy: the store
// gives each member its certificate's description, its leaves' profile and its attribution.
TEST(StoredFamilies, MembersComeFromTheStoreAndTheReportListsTheirFamilies) {
  testing::TempDirectory directory;
  auto store = SqliteStore::open(directory.path() / "store.db");
  ASSERT_TRUE(store);
  const UtcSeconds now = now_utc();
  const auto root = must(lab::make_identity(testing::ca_spec("National Root", now), testing::kEcKey, nullptr));
  const auto first = must(lab::make_identity(testing::ca_spec("Intermediate One", now), testing::kEcKey, &root));
  const auto second = must(lab::make_identity(testing::ca_spec("Intermediate Two", now), testing::kEcKey, &root));
  const auto proxy = must(lab::make_identity(testing::ca_spec("Proxy CA", now), lab::KeySpec{}, nullptr));
  auto stored = [&](const char* ip, const char* sni, const char* time, const lab::Identity& issuer, const char* source) {
    // The proxy mints RSA leaves: another leaf profile than the national intermediates' EC ones.
    const lab::KeySpec key = &issuer == &proxy ? lab::KeySpec{} : testing::kEcKey;
    const auto leaf = must(lab::make_identity(testing::leaf_spec(sni, now), key, &issuer));
    StoredResult result{ip, 443, sni, time, "intercepted", "{}",
                        {{leaf.certificate.sha256_hex(), leaf.certificate.der()},
                         {issuer.certificate.sha256_hex(), issuer.certificate.der()}}};
    result.facts.outcome = Outcome::kIntercepted;
    result.facts.networks = {"AS9198"};
    result.facts.source = source;
    if (&issuer != &proxy) result.facts.interceptor = "national-root";
    return result;
  };
  auto scan = (*store)->begin_scan("{}", false);
  ASSERT_TRUE(scan);
  const std::vector<StoredResult> results = {
      stored("10.0.0.1", "vk.com", "2020-03-01T00:00:00Z", first, "atlas-sslcert"),
      stored("10.0.0.2", "facebook.com", "2020-03-02T00:00:00Z", second, "scan"),
      stored("10.0.0.3", "google.com", "2020-03-03T00:00:00Z", proxy, "zgrab2"),
  };
  ASSERT_TRUE((*store)->add_results(scan->id, results));
  const auto issuers = issuer_validity(**store);
  ASSERT_TRUE(issuers) << issuers.error().message;
  const auto members = family_members(**store, *issuers);
  ASSERT_TRUE(members) << members.error().message;
  ASSERT_EQ(members->size(), 3u);
  EXPECT_EQ((*members)[0].candidate.name, first.certificate.subject());
  EXPECT_EQ((*members)[0].candidate.parent, root.certificate.subject());
  EXPECT_EQ((*members)[0].known_as, "national-root");
  ASSERT_TRUE((*members)[0].candidate.profile);
  EXPECT_EQ((*members)[0].candidate.profile->key, "EC prime256v1");

  auto tables = build_report_tables(**store);
  ASSERT_TRUE(tables) << tables.error().message;
  const auto json = tables_json(*tables);
  ASSERT_EQ(json["families"].size(), 2u) << json["families"].dump();
  const auto& national = json["families"][0];
  EXPECT_EQ(national["issuers"], 2);
  EXPECT_EQ(national["known_as"], "national-root");
  EXPECT_EQ(national["results"], 2);
  EXPECT_EQ(national["names"], 2);
  EXPECT_EQ(national["sources"], "atlas-sslcert 1, scan 1");
  EXPECT_NE(national["evidence"].get<std::string>().find("signed by CAs named"), std::string::npos);
  EXPECT_EQ(json["families"][1]["known_as"], "unknown");
  EXPECT_EQ(json["families"][1]["sources"], "zgrab2 1");
  EXPECT_EQ(json["families"][0]["issuer_sha256"][0], first.certificate.sha256_hex());
  EXPECT_EQ(tables_markdown(*tables).find("issuer_sha256"), std::string::npos) << "the members' SHA-256 are for programs";
}

}  // namespace
}  // namespace mitmscope
