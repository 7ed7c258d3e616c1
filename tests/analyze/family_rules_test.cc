// Interceptor families, the pure rules (analyze/family_rules.h): each grouping rule on its own, the groups they
// make, and the evidence that spans a group.
#include "analyze/family_rules.h"

#include <gtest/gtest.h>

#include "lab/pki.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

UtcSeconds at(const char* text) { return parse_utc(text).value(); }

FamilyCandidate candidate(std::string name, std::string spki = {}, std::string parent = {},
                          std::optional<UtcSeconds> made = std::nullopt) {
  return {.issuer_key = "sha256:" + name, .name = std::move(name), .spki = std::move(spki), .parent = std::move(parent), .made = made};
}

TEST(FamilyRules, TheSameKeyIsOneFamily) {
  const auto links = family_links({candidate("A", "k1"), candidate("B", "k1"), candidate("C", "k2")});
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].a, 0u);
  EXPECT_EQ(links[0].b, 1u);
  EXPECT_NE(links[0].evidence.find("the same key"), std::string::npos);
}

TEST(FamilyRules, OneNameMadeMinutesApartIsOneFamilyButNotAYearApart) {
  const auto near = family_links({candidate("ISCA", "k1", "", at("2020-02-20T10:00:00Z")),
                                  candidate("ISCA", "k2", "", at("2020-02-20T10:07:00Z"))});
  ASSERT_EQ(near.size(), 1u);
  EXPECT_NE(near[0].evidence.find("made 7 minutes apart"), std::string::npos) << near[0].evidence;
  EXPECT_TRUE(family_links({candidate("ISCA", "k1", "", at("2020-02-20")), candidate("ISCA", "k2", "", at("2021-02-20"))}).empty());
}

TEST(FamilyRules, CasSignedByCasOfOneNameAreOneFamily) {
  const auto links = family_links({candidate("Intermediate 1", "k1", "ISCA Root"), candidate("Intermediate 2", "k2", "ISCA Root"),
                                   candidate("Other", "k3", "Other Root")});
  ASSERT_EQ(links.size(), 1u);
  EXPECT_NE(links[0].evidence.find("signed by CAs named ISCA Root"), std::string::npos);
}

TEST(FamilyRules, OneLeafProfileIsOneFamilyAndAnyDifferenceIsNot) {
  const LeafProfile profile{"RSA 2048 e=65537", 365, 16, "0123456789abcdef"};
  auto a = candidate("Corporate Proxy CA", "k1"), b = candidate("Another Proxy CA", "k2");
  a.profile = profile;
  b.profile = profile;
  EXPECT_EQ(family_links({a, b}).size(), 1u);
  b.profile->validity_days = 366;
  EXPECT_TRUE(family_links({a, b}).empty());
  b.profile = std::nullopt;   // never archived a parseable leaf: nothing to compare
  EXPECT_TRUE(family_links({a, b}).empty());
}

TEST(FamilyRules, GroupsAreConnectedComponents) {
  const std::vector<FamilyLink> links = {{0, 2, ""}, {2, 4, ""}, {1, 3, ""}};
  EXPECT_EQ(family_groups(6, links), (std::vector<std::vector<size_t>>{{0, 2, 4}, {1, 3}, {5}}));
}

TEST(FamilyRules, ACaIsDescribedByItsNameKeyParentAndDate) {
  const lab::KeySpec ec{lab::KeySpec::Type::kEcP256};
  auto make = [&](const char* name, const lab::Identity* issuer) {
    lab::CertificateSpec spec;
    spec.subject = {{"CN", name}};
    spec.is_ca = true;
    spec.not_before = at("2020-02-20T10:00:00Z");
    spec.not_after = at("2030-02-20T10:00:00Z");
    return testing::must(lab::make_identity(spec, ec, issuer));
  };
  const auto root = make("Family Root", nullptr);
  const auto intermediate = make("Family Intermediate", &root);
  const FamilyCandidate described = describe_ca(intermediate.certificate);
  EXPECT_EQ(described.name, intermediate.certificate.subject());
  EXPECT_EQ(described.parent, root.certificate.subject());
  EXPECT_EQ(described.spki, intermediate.certificate.spki_sha256_hex());
  EXPECT_EQ(described.made, at("2020-02-20T10:00:00Z"));
  EXPECT_TRUE(describe_ca(root.certificate).parent.empty()) << "a self-signed root has no CA above it";
}

TEST(FamilyRules, SpanningEvidenceHasOneLinkPerJoinedMember) {
  const std::vector<FamilyLink> links = {{0, 1, "a"}, {1, 2, "b"}, {0, 2, "c"}, {3, 4, "d"}};
  EXPECT_EQ(spanning_evidence({0, 1, 2}, links), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spanning_evidence({3, 4}, links), (std::vector<std::string>{"d"}));
  EXPECT_TRUE(spanning_evidence({5}, links).empty());
}

}  // namespace
}  // namespace mitmscope
