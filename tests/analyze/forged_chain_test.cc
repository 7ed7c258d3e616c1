#include "analyze/forged_chain.h"

#include <gtest/gtest.h>

#include "lab/pki.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::must;

class ForgedChainTest : public ::testing::Test {
 protected:
  UtcSeconds now_ = now_utc();
  lab::Identity root_ = must(lab::make_identity(testing::ca_spec("Qaznet Trust Network", now_), testing::kEcKey, nullptr));
  lab::Identity intermediate_ = must(lab::make_identity(testing::ca_spec("Security Certificate", now_), testing::kEcKey, &root_));
  lab::Identity leaf_ = must(lab::make_identity(testing::leaf_spec("facebook.com", now_), testing::kEcKey, &intermediate_));
};

TEST_F(ForgedChainTest, ARootTheInterceptorDidNotSendIsFoundInTheRegistryBySignature) {
  testing::TempDirectory directory;
  testing::write_file(directory.path() / "qaznet.pem", lab::certificate_pem(root_.certificate));
  const auto registry = InterceptorRegistry::load_directory(directory.path());
  ASSERT_TRUE(registry) << registry.error().message;
  const Certificate sent[] = {leaf_.certificate, intermediate_.certificate};
  const auto links = chain_links(sent, &*registry);
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[0].role, ChainRole::kRoot);
  EXPECT_EQ(links[0].certificate, root_.certificate);
  EXPECT_EQ(links[0].source, "registry: qaznet");
  EXPECT_EQ(links[1].role, ChainRole::kIntermediate);
  EXPECT_EQ(links[1].source, "stored with the result");
  EXPECT_EQ(links[2].role, ChainRole::kLeaf);
  EXPECT_EQ(links[2].certificate, leaf_.certificate);
}

TEST_F(ForgedChainTest, WithoutARegistryOrAMatchTheChainIsWhatWasSent) {
  const Certificate sent[] = {leaf_.certificate, intermediate_.certificate};
  EXPECT_EQ(chain_links(sent, nullptr).size(), 2u);
  const auto other = must(lab::make_identity(testing::ca_spec("Unrelated Root", now_), testing::kEcKey, nullptr));
  testing::TempDirectory directory;
  testing::write_file(directory.path() / "other.pem", lab::certificate_pem(other.certificate));
  const auto registry = InterceptorRegistry::load_directory(directory.path());
  ASSERT_TRUE(registry);
  EXPECT_EQ(chain_links(sent, &*registry).size(), 2u) << "a registry root that did not sign the intermediate is not drawn";
}

TEST_F(ForgedChainTest, ASentRootEndsTheChainAndNothingAboveItIsLookedUp) {
  const Certificate sent[] = {leaf_.certificate, intermediate_.certificate, root_.certificate, leaf_.certificate};
  const auto links = chain_links(sent, nullptr);
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[0].role, ChainRole::kRoot);
  EXPECT_EQ(links[0].source, "stored with the result");
}

}  // namespace
}  // namespace mitmscope
