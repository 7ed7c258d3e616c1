#include "x509/forging_family.h"

#include <gtest/gtest.h>

#include "lab/forger.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::must;

// Forged leaves made the way each product makes them (docs/LAB.md, measured there), against one genuine host.
class ForgingFamilyTest : public ::testing::Test {
 protected:
  // EC keys: the traits do not depend on the key type, and RSA key generation is slow under the sanitizers.
  static constexpr lab::KeySpec kEc{.type = lab::KeySpec::Type::kEcP256};
  void SetUp() override {
    now_ = now_utc();
    public_ca_ = must(lab::make_identity(testing::ca_spec("Public CA", now_), kEc, nullptr));
    auto spec = testing::leaf_spec("h198-18-0-1.as9198.kz.lab", now_);
    genuine_ = must(lab::make_identity(spec, kEc, &*public_ca_));
    product_ca_ = must(lab::make_identity(testing::ca_spec("Product CA", now_), kEc, nullptr));
  }
  // A leaf signed by the product's CA; `ca_key`: for the CA's own key (squid, mitmproxy).
  Certificate forged(lab::CertificateSpec spec, bool ca_key) {
    if (ca_key) {
      auto certificate = lab::issue_certificate(spec, product_ca_->key.get(), &*product_ca_);
      EXPECT_TRUE(certificate);
      return *certificate;
    }
    return must(lab::make_identity(spec, kEc, &*product_ca_)).certificate;
  }
  lab::CertificateSpec sni_named(const std::string& sni) {
    auto spec = testing::leaf_spec(sni, now_);
    spec.subject = {{"CN", sni}};
    spec.dns_names = {};
    spec.not_before = now_ - std::chrono::days{2};   // mitmproxy: its own validity
    spec.not_after = now_ + std::chrono::days{365};
    return spec;
  }
  std::vector<std::string> ids(const Chain& chain, const Certificate* issuer = nullptr) {
    std::vector<std::string> out;
    const auto traits = forgery_traits(chain, "facebook.com", &genuine_->certificate, issuer);
    for (const auto& match : matching_families(traits, builtin_forging_families())) out.push_back(match.family->id);
    return out;
  }
  UtcSeconds now_{};
  std::optional<lab::Identity> public_ca_, genuine_, product_ca_;
};

TEST_F(ForgingFamilyTest, TheShippedFamiliesParseWithTheirProvenance) {
  const auto& families = builtin_forging_families();
  ASSERT_EQ(families.size(), 5u);
  for (const auto& family : families) EXPECT_FALSE(family.provenance.empty()) << family.id;
  EXPECT_FALSE(parse_forging_families(R"({"format": "mitmscope-forging-families/1", "families": [{"id": "x"}]})", "f.json"));
  EXPECT_FALSE(parse_forging_families(
      R"({"format": "mitmscope-forging-families/1", "families": [{"id": "x", "provenance": "p", "naming": "odd"}]})", "f.json"));
}

TEST_F(ForgingFamilyTest, MitmproxyLeafAloneNamedAfterTheSniWithTheCasKey) {
  const Certificate leaf = forged(sni_named("facebook.com"), true);
  // mitmproxy sends the leaf alone: the issuer is the registry's certificate.
  EXPECT_EQ(ids({leaf}, &product_ca_->certificate), std::vector<std::string>{"mitmproxy-8.1"});
  const auto traits = forgery_traits({leaf}, "facebook.com", &genuine_->certificate, &product_ca_->certificate);
  EXPECT_EQ(traits.issuer_key, true);
  EXPECT_EQ(traits.naming, LeafNaming::kSniOnly);
  EXPECT_EQ(traits.validity, LeafValidity::kOwn);
}

TEST_F(ForgingFamilyTest, SquidMimicCopiesEverythingButTheKey) {
  auto spec = testing::leaf_spec("h198-18-0-1.as9198.kz.lab", now_);
  spec.not_before = *genuine_->certificate.not_before();
  spec.not_after = *genuine_->certificate.not_after();
  spec.subject_key_id = false;
  const Certificate leaf = forged(spec, true);
  EXPECT_EQ(ids({leaf, product_ca_->certificate, product_ca_->certificate}), std::vector<std::string>{"squid-5.7-stare"});
}

TEST_F(ForgingFamilyTest, SslsplitAddsTheSniToTheGenuineNames) {
  auto spec = testing::leaf_spec("h198-18-0-1.as9198.kz.lab", now_);
  spec.dns_names = {"h198-18-0-1.as9198.kz.lab", "facebook.com"};
  spec.not_after = now_ + std::chrono::days{365};   // its own validity: a year from when it was made
  const Certificate leaf = forged(spec, false);
  EXPECT_EQ(ids({leaf, product_ca_->certificate}), std::vector<std::string>{"sslsplit-0.5.5"});
}

TEST_F(ForgingFamilyTest, TheLabsKazakhDeviceIsThePublishedOne) {
  auto hierarchy = lab::make_interceptor_hierarchy(now_, 2048);
  ASSERT_TRUE(hierarchy);
  lab::Forger forger(hierarchy->intermediate, lab::ForgingRules{});
  const auto forged_leaf = forger.forge(genuine_->certificate);
  ASSERT_TRUE(forged_leaf);
  EXPECT_EQ(ids({forged_leaf->certificate, hierarchy->intermediate.certificate}), std::vector<std::string>{"kz-2019"});
  // Nothing known, nothing claimed.
  EXPECT_TRUE(matching_families(ForgeryTraits{}, builtin_forging_families()).empty());
}

}  // namespace
}  // namespace mitmscope
