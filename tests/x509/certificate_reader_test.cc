#include "x509/certificate_reader.h"

#include <gtest/gtest.h>

#include "core/base64.h"
#include "report/json_output.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::must;

std::span<const uint8_t> bytes(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

class CertificateReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto now = now_utc();
    root_ = must(lab::make_identity(testing::ca_spec("Reader Root", now), {}, nullptr));
    leaf_ = must(lab::make_identity(testing::leaf_spec("reader.test", now), {}, &*root_));
  }
  const Certificate& root() const { return root_->certificate; }
  const Certificate& leaf() const { return leaf_->certificate; }
  std::optional<lab::Identity> root_;
  std::optional<lab::Identity> leaf_;
};

TEST_F(CertificateReaderTest, ReadsSeveralPemBlocksAndSkipsOtherBlocks) {
  const std::string text = "junk before\n" + lab::certificate_pem(leaf()) +
                           "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" +
                           lab::certificate_pem(root());
  const auto chain = parse_certificates(bytes(text), "chain.pem");
  ASSERT_TRUE(chain) << chain.error().message;
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0], leaf());
  EXPECT_EQ((*chain)[1], root());
}

TEST_F(CertificateReaderTest, ReadsOneAndSeveralConcatenatedDerCertificates) {
  const auto one = parse_certificates(leaf().der(), "leaf.der");
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front(), leaf());

  std::vector<uint8_t> both = leaf().der();
  both.insert(both.end(), root().der().begin(), root().der().end());
  const auto two = parse_certificates(both, "both.der");
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1], root());
}

TEST_F(CertificateReaderTest, ReadsBase64DerOneBlobOrOnePerLine) {
  const std::string single = base64_encode(leaf().der());
  const auto one = parse_certificates(bytes(single), "leaf.b64");
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(one->front(), leaf());

  const std::string lines = base64_encode(leaf().der()) + "\n" + base64_encode(root().der()) + "\n";
  const auto two = parse_certificates(bytes(lines), "chain.b64");
  ASSERT_TRUE(two) << two.error().message;
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1], root());
}

TEST_F(CertificateReaderTest, NamesTheSourceAndLineOfABadRecord) {
  const std::string lines = base64_encode(leaf().der()) + "\nthis is not base64 at all!\n";
  const auto bad_line = parse_certificates(bytes(lines), "list.txt");
  ASSERT_FALSE(bad_line);
  EXPECT_EQ(bad_line.error().code, ErrorCode::kParseError);
  EXPECT_NE(bad_line.error().message.find("list.txt: line 2"), std::string::npos) << bad_line.error().message;

  std::string pem = lab::certificate_pem(leaf()) + lab::certificate_pem(root());
  pem.insert(pem.find("-----BEGIN", 10) + 40, "!!");  // corrupt the second block's base64
  const auto bad_block = parse_certificates(bytes(pem), "corrupt.pem");
  ASSERT_FALSE(bad_block);
  EXPECT_NE(bad_block.error().message.find("PEM block 2"), std::string::npos) << bad_block.error().message;

  const std::string unterminated = lab::certificate_pem(leaf()).substr(0, 200);
  const auto truncated = parse_certificates(bytes(unterminated), "cut.pem");
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message.find("no END line"), std::string::npos) << truncated.error().message;

  std::vector<uint8_t> cut_der(leaf().der().begin(), leaf().der().end() - 10);
  const auto truncated_der = parse_certificates(cut_der, "cut.der");
  ASSERT_FALSE(truncated_der);
  EXPECT_NE(truncated_der.error().message.find("cut.der: byte offset 0"), std::string::npos);
}

TEST_F(CertificateReaderTest, RefusesEmptyInputAndMissingFiles) {
  EXPECT_FALSE(parse_certificates({}, "empty.pem"));
  const auto missing = read_certificate_file("/nonexistent/chain.pem");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kFileNotFound);
  EXPECT_NE(missing.error().message.find("/nonexistent/chain.pem"), std::string::npos);
}

TEST_F(CertificateReaderTest, ExposesTheFieldsAnalysisNeeds) {
  EXPECT_EQ(leaf().dns_names(), std::vector<std::string>{"reader.test"});
  EXPECT_EQ(leaf().common_name(), "reader.test");
  ASSERT_TRUE(leaf().authority_key_id());
  EXPECT_EQ(*leaf().authority_key_id(), *root().subject_key_id());
  EXPECT_TRUE(root().is_ca());
  EXPECT_FALSE(leaf().is_ca());
  EXPECT_TRUE(root().self_signed());
  EXPECT_TRUE(leaf().signed_by(root()));
  EXPECT_FALSE(root().signed_by(leaf()));
  EXPECT_EQ(leaf().public_key().type, "RSA");
  EXPECT_EQ(leaf().public_key().rsa_exponent, "65537");
  EXPECT_EQ(root().subject(), "C=ZZ, O=mitmscope tests, CN=Reader Root");
}

}  // namespace
}  // namespace mitmscope
