#include "ooni/verdict_rules.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace mitmscope::ooni {
namespace {

constexpr size_t kThreshold = 3;

// An untrusted handshake whose DNS agreed with the control and whose control succeeded: the forging-CA
// conditions. Each test changes what its rule looks at.
HandshakeEvidence agreed() {
  return {.dns_consistent = Tri::kYes, .control_tls_ok = Tri::kYes, .failure = "ssl_unknown_authority"};
}

TEST(VerdictRules, KnownInterceptorWinsOverEveryOtherRule) {
  auto evidence = agreed();
  evidence.known_interceptor = true;
  evidence.leaf_self_signed = true;
  evidence.dns_consistent = Tri::kNo;
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kKnownInterceptor);
}

TEST(VerdictRules, ForgingCaAtTheThresholdOfUnrelatedDomains) {
  auto evidence = agreed();
  evidence.forged_domains = kThreshold;
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kForgingCa);
  evidence.forged_domains = kThreshold - 1;
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kIssuerOnFewDomains);
}

TEST(VerdictRules, AnUnparseableLeafIsInconclusive) {
  auto evidence = agreed();
  evidence.leaf_parsed = false;
  evidence.forged_domains = 10;
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kUnparseableCertificate);
  EXPECT_FALSE(counts_for_forging_rule(evidence));
}

TEST(VerdictRules, ASelfSignedCertificateIsAServiceNotAForgingCa) {
  auto evidence = agreed();
  evidence.leaf_self_signed = true;
  evidence.forged_domains = 10;
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kSelfSignedService);
  EXPECT_FALSE(counts_for_forging_rule(evidence));
}

TEST(VerdictRules, SignalsOwnCaPassedByTheSignalTest) {
  HandshakeEvidence evidence{.test_name = "signal"};
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kPinnedByTest);
  evidence.failure = "ssl_unknown_authority";   // the test's own check failed: not pinned
  EXPECT_NE(decide_category(evidence, kThreshold), OoniCategory::kPinnedByTest);
}

TEST(VerdictRules, InconsistentDnsIsNotInterceptionOnThePath) {
  auto evidence = agreed();
  evidence.dns_consistent = Tri::kNo;
  evidence.forged_domains = 10;
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kDnsInconsistent);
  EXPECT_FALSE(counts_for_forging_rule(evidence));
}

TEST(VerdictRules, AnExpiredServerCertificateWithoutAWorkingControl) {
  HandshakeEvidence evidence{.dns_consistent = Tri::kYes, .failure = "ssl_invalid_certificate"};
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kServerCertificateInvalid);
  evidence = {.dns_consistent = Tri::kYes, .validation_error = "not_yet_valid"};
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kServerCertificateInvalid);
  evidence.control_tls_ok = Tri::kYes;   // the control got through: the path, not the server
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kIssuerOnFewDomains);
}

TEST(VerdictRules, ACertificateForAnotherNameWithoutAWorkingControl) {
  HandshakeEvidence evidence{.failure = "ssl_invalid_hostname"};
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kServerHostnameMismatch);
}

TEST(VerdictRules, TheControlFailedToo) {
  HandshakeEvidence evidence{.dns_consistent = Tri::kYes, .control_tls_ok = Tri::kNo, .failure = "ssl_unknown_authority"};
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kControlFailedToo);
  EXPECT_FALSE(counts_for_forging_rule(evidence));
}

TEST(VerdictRules, BelowTheThresholdWithAgreeingControlIsInconclusive) {
  auto evidence = agreed();
  evidence.forged_domains = 1;
  EXPECT_TRUE(counts_for_forging_rule(evidence));
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kIssuerOnFewDomains);
  EXPECT_EQ(category_verdict(OoniCategory::kIssuerOnFewDomains), OoniVerdict::kInconclusive);
}

TEST(VerdictRules, NothingToCompareWithIsInconclusive) {
  HandshakeEvidence evidence{.failure = "ssl_unknown_authority"};
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kNoControl);
  evidence.dns_consistent = Tri::kYes;   // DNS agreed but no control handshake
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kNoControl);
  EXPECT_FALSE(counts_for_forging_rule(evidence));
}

TEST(VerdictRules, WithoutAnyControlAnIssuerProvenElsewhereIsAForgingCa) {
  HandshakeEvidence evidence{.forged_domains = kThreshold};  // RIPE Atlas, ZGrab2: no DNS view, no control
  EXPECT_FALSE(counts_for_forging_rule(evidence)) << "it does not prove the issuer itself";
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kForgingCa);
  evidence.forged_domains = kThreshold - 1;
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kNoControl);
  evidence.forged_domains = kThreshold;
  evidence.control_tls_ok = Tri::kNo;   // a control that failed is a control: the usual rules
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kControlFailedToo);
}

TEST(VerdictRules, AnAnswerEqualToTheHostsTemplateIsTheHostsOwn) {
  auto evidence = agreed();
  evidence.matches_template = Tri::kYes;
  evidence.forged_domains = 10;
  EXPECT_FALSE(counts_for_forging_rule(evidence));
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kMatchesTemplate);
  EXPECT_EQ(category_verdict(OoniCategory::kMatchesTemplate), OoniVerdict::kNotIntercepted);
  evidence.matches_template = Tri::kNo;
  EXPECT_TRUE(counts_for_forging_rule(evidence));
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kForgingCa);
}

TEST(VerdictRules, ALoneLeafNobodyRejectedDoesNotCountForTheForgingRule) {
  auto evidence = agreed();
  evidence.failure = {};
  evidence.untrusted_shown = false;   // Censored Planet: the leaf only, no validation by the prober
  EXPECT_FALSE(counts_for_forging_rule(evidence));
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kLoneLeaf);
  EXPECT_EQ(category_verdict(OoniCategory::kLoneLeaf), OoniVerdict::kInconclusive);
  evidence.forged_domains = kThreshold;   // the issuer proven by handshakes that showed it untrusted
  EXPECT_EQ(decide_category(evidence, kThreshold), OoniCategory::kForgingCa);
}

TEST(VerdictRules, ATrustedChainNeverCountsForTheForgingRule) {
  auto evidence = agreed();
  evidence.trusted = true;
  EXPECT_FALSE(counts_for_forging_rule(evidence));
}

TEST(VerdictRules, EveryCategoryHasItsOwnNameAndAVerdict) {
  std::set<std::string> names;
  for (OoniCategory category : kEveryCategory) {
    const std::string name(category_name(category));
    EXPECT_NE(name, "unknown");
    names.insert(name);
    const OoniVerdict verdict = category_verdict(category);
    EXPECT_TRUE(verdict == OoniVerdict::kIntercepted || verdict == OoniVerdict::kNotIntercepted ||
                verdict == OoniVerdict::kInconclusive);
  }
  EXPECT_EQ(names.size(), std::size(kEveryCategory));
  EXPECT_EQ(category_verdict(OoniCategory::kKnownInterceptor), OoniVerdict::kIntercepted);
  EXPECT_EQ(category_verdict(OoniCategory::kForgingCa), OoniVerdict::kIntercepted);
  EXPECT_EQ(category_verdict(OoniCategory::kSelfSignedService), OoniVerdict::kNotIntercepted);
}

}  // namespace
}  // namespace mitmscope::ooni
