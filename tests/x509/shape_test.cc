#include "x509/shape.h"

#include <gtest/gtest.h>

#include "lab/forger.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::must;

TEST(Shape, Ja4xMatchesTheWorkedExampleOfItsSpecification) {
  // FoxIO's JA4X.md: issuer and subject RDNs 550403,550406,550408,55040a hash to
  // 96a6439c8f5c; extensions 551d0f,551d25,551d11 hash to aae71e8db6d7.
  const auto now = now_utc();
  lab::CertificateSpec spec = testing::leaf_spec("ja4x.test", now);
  spec.subject = {{"CN", "ja4x.test"}, {"C", "US"}, {"ST", "CA"}, {"O", "Example"}};
  spec.subject_key_id = false;  // keyUsage, extendedKeyUsage, subjectAltName, in that order
  const auto identity = must(lab::make_identity(spec, {}, nullptr));
  EXPECT_EQ(ja4x_raw(identity.certificate),
            "550403,550406,550408,55040a_550403,550406,550408,55040a_551d0f,551d25,551d11");
  EXPECT_EQ(ja4x(identity.certificate), "96a6439c8f5c_96a6439c8f5c_aae71e8db6d7");
  const auto shape = certificate_shape(identity.certificate);
  EXPECT_EQ(shape.subject_attributes, (std::vector<std::string>{"2.5.4.3", "2.5.4.6", "2.5.4.8", "2.5.4.10"}));
  EXPECT_EQ(shape.extensions, (std::vector<std::string>{"2.5.29.15", "2.5.29.37", "2.5.29.17"}));
}

TEST(Shape, ForgedLeavesOfDifferentHostsShareAShapeThatGenuineOnesDoNot) {
  const auto now = now_utc();
  const auto ca = must(lab::make_identity(testing::ca_spec("Shape CA", now), {}, nullptr));
  auto hierarchy = lab::make_interceptor_hierarchy(now, 2048);
  ASSERT_TRUE(hierarchy);
  lab::Forger forger(hierarchy->intermediate, {.key_bits = 1024});
  const auto first = must(lab::make_identity(testing::leaf_spec("one.example", now), {}, &ca));
  const auto second = must(lab::make_identity(testing::leaf_spec("two.example", now), {}, &ca));
  const auto forged_first = forger.forge(first.certificate);
  const auto forged_second = forger.forge(second.certificate);
  ASSERT_TRUE(forged_first && forged_second);
  EXPECT_EQ(certificate_shape(forged_first->certificate).shape_id, certificate_shape(forged_second->certificate).shape_id);
  EXPECT_NE(certificate_shape(forged_first->certificate).shape_id, certificate_shape(first.certificate).shape_id);
  EXPECT_EQ(certificate_shape(forged_first->certificate).extensions, std::vector<std::string>{"2.5.29.17"});
  EXPECT_EQ(certificate_shape(first.certificate).shape_id, certificate_shape(second.certificate).shape_id);
}

}  // namespace
}  // namespace mitmscope
