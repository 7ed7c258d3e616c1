#include "x509/forging.h"

#include <gtest/gtest.h>

#include "lab/forger.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::must;

class ForgingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto now = now_utc();
    public_ca_ = must(lab::make_identity(testing::ca_spec("Public CA", now), {}, nullptr));
    auto spec = testing::leaf_spec("www.example-bank.kz", now);
    spec.subject = {{"C", "KZ"}, {"O", "Example Bank"}, {"CN", "www.example-bank.kz"}};
    spec.dns_names = {"www.example-bank.kz", "example-bank.kz"};
    genuine_ = must(lab::make_identity(spec, {}, &*public_ca_));
    auto hierarchy = lab::make_interceptor_hierarchy(now, 2048);
    ASSERT_TRUE(hierarchy);
    hierarchy_ = std::move(*hierarchy);
  }
  const Certificate& genuine() const { return genuine_->certificate; }
  std::optional<lab::Identity> public_ca_;
  std::optional<lab::Identity> genuine_;
  std::optional<lab::InterceptorHierarchy> hierarchy_;
};

TEST_F(ForgingTest, RecoversTheKazakhRulesFromOneForgedPair) {
  lab::Forger forger(hierarchy_->intermediate, lab::ForgingRules{});
  const auto forged = forger.forge(genuine());
  ASSERT_TRUE(forged);
  const auto analysis = analyze_forging(forged->certificate, genuine());
  EXPECT_TRUE(analysis.same_subject);
  EXPECT_TRUE(analysis.same_subject_alt_names);
  EXPECT_FALSE(analysis.same_issuer);
  EXPECT_EQ(analysis.presented_issuer, "C=KZ, CN=Security Certificate");
  EXPECT_FALSE(analysis.same_key);
  EXPECT_EQ(analysis.not_before_shift_hours, -6.0);
  EXPECT_EQ(analysis.not_after_shift_hours, -6.0);
  EXPECT_EQ(analysis.presented_key.type, "RSA");
  EXPECT_EQ(analysis.presented_key.bits, 2048);
  EXPECT_EQ(analysis.presented_key.rsa_exponent, "3");
  EXPECT_EQ(analysis.genuine_key.rsa_exponent, "65537");
  EXPECT_FALSE(analysis.serial_length_changed);
  // One pair bounds the random part: at most 33 bits differ and everything above is kept.
  EXPECT_LE(analysis.serial_trailing_bits_differing, 33);
  EXPECT_GE(analysis.serial_leading_bits_kept, analysis.serial_bits - 33);
  std::vector<std::string> dropped;
  for (const auto& extension : analysis.extensions_dropped) dropped.push_back(extension.name);
  EXPECT_EQ(dropped, (std::vector<std::string>{"keyUsage", "extendedKeyUsage", "subjectKeyIdentifier",
                                               "authorityKeyIdentifier"}));
  EXPECT_TRUE(analysis.extensions_added.empty());
  ASSERT_EQ(analysis.extensions_kept.size(), 1u);
  EXPECT_EQ(analysis.extensions_kept.front().name, "subjectAltName");
}

TEST_F(ForgingTest, ManyPairsRecoverExactlyThirtyThreeRandomSerialBits) {
  lab::Forger forger(hierarchy_->intermediate, lab::ForgingRules{});
  std::vector<ForgingAnalysis> analyses;
  // Each pair shows 33 differing bits only when its top random bit differs (p = 1/2);
  // over 32 pairs the profile misses it with probability 2^-32.
  for (int i = 0; i < 32; ++i) {
    const auto forged = forger.forge(genuine());
    ASSERT_TRUE(forged);
    analyses.push_back(analyze_forging(forged->certificate, genuine()));
  }
  const auto profile = summarize_forging(analyses);
  EXPECT_EQ(profile.pairs, 32u);
  EXPECT_EQ(profile.serial_random_trailing_bits, 33);
  EXPECT_EQ(profile.validity_shift_hours, -6.0);
  EXPECT_TRUE(profile.copies_subject);
  EXPECT_TRUE(profile.copies_subject_alt_names);
  EXPECT_EQ(profile.key_types, std::vector<std::string>{"RSA-2048 e=3"});
  EXPECT_EQ(profile.distinct_presented_keys, 1u) << "the key is minted once per host and reused";
  EXPECT_EQ(profile.extensions_always_dropped,
            (std::vector<std::string>{"2.5.29.14", "2.5.29.15", "2.5.29.35", "2.5.29.37"}));
  EXPECT_TRUE(profile.extensions_always_added.empty());
}

TEST_F(ForgingTest, SerialComparisonIsExactOnCraftedSerials) {
  const auto now = now_utc();
  const auto serial = genuine().serial_bytes();
  auto craft = [&](std::vector<uint8_t> presented_serial) {
    auto spec = testing::leaf_spec("www.example-bank.kz", now);
    spec.serial = std::move(presented_serial);
    return must(lab::make_identity(spec, {}, &*public_ca_)).certificate;
  };
  // Flip bit 32 (the 33rd from the end) and bit 0: exactly 33 trailing bits differ.
  auto flipped = serial;
  flipped[flipped.size() - 5] ^= 0x01;
  flipped.back() ^= 0x01;
  const auto flipped_analysis = analyze_forging(craft(flipped), genuine());
  EXPECT_EQ(flipped_analysis.serial_trailing_bits_differing, 33);
  EXPECT_EQ(flipped_analysis.serial_leading_bits_kept, flipped_analysis.serial_bits - 33);
  const auto same_analysis = analyze_forging(craft(serial), genuine());
  EXPECT_EQ(same_analysis.serial_trailing_bits_differing, 0);
  EXPECT_EQ(same_analysis.serial_leading_bits_kept, same_analysis.serial_bits);
  auto longer = serial;
  longer.insert(longer.begin(), 0x7f);
  EXPECT_TRUE(analyze_forging(craft(longer), genuine()).serial_length_changed);
}

TEST_F(ForgingTest, TheLaterPhaseShiftAndTheEarlyKeySizeAreSeenAsRuleChanges) {
  lab::Forger forger(hierarchy_->intermediate, lab::ForgingRules{.key_bits = 1024});
  const auto early = forger.forge(genuine());
  forger.set_rules(lab::ForgingRules{.validity_shift_hours = -24});
  const auto late = forger.forge(genuine());
  ASSERT_TRUE(early && late);
  const std::vector<ForgingAnalysis> analyses = {analyze_forging(early->certificate, genuine()),
                                                 analyze_forging(late->certificate, genuine())};
  EXPECT_EQ(analyses[0].presented_key.bits, 1024);
  EXPECT_EQ(analyses[1].not_before_shift_hours, -24.0);
  const auto profile = summarize_forging(analyses);
  EXPECT_FALSE(profile.validity_shift_hours) << "two different shifts: no single rule";
  EXPECT_EQ(profile.validity_shifts_seen, (std::vector<double>{-6.0, -24.0}));
  EXPECT_EQ(profile.key_types, (std::vector<std::string>{"RSA-1024 e=3", "RSA-2048 e=3"}));
}

TEST_F(ForgingTest, AnIdenticalCertificateShowsNoForging) {
  const auto analysis = analyze_forging(genuine(), genuine());
  EXPECT_TRUE(analysis.same_certificate);
  EXPECT_TRUE(analysis.same_key);
  EXPECT_EQ(analysis.not_before_shift_hours, 0.0);
  EXPECT_TRUE(analysis.extensions_dropped.empty());
  EXPECT_EQ(analysis.serial_trailing_bits_differing, 0);
}

}  // namespace
}  // namespace mitmscope
