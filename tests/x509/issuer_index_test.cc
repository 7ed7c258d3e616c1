#include "x509/issuer_index.h"

#include <gtest/gtest.h>

#include "lab/pki.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

using testing::ca_spec;
using testing::leaf_spec;
using testing::must;

const lab::KeySpec kEc{.type = lab::KeySpec::Type::kEcP256};

class IssuerIndexTest : public ::testing::Test {
 protected:
  const UtcSeconds now_ = now_utc();
};

TEST_F(IssuerIndexTest, TwoCasWithOneNameAreBothCandidatesAndTheSignatureDecides) {
  // Like the seven ISCA roots: one name, different keys.
  const auto first = must(lab::make_identity(ca_spec("Shared Name CA", now_), kEc, nullptr));
  const auto second = must(lab::make_identity(ca_spec("Shared Name CA", now_), kEc, nullptr));
  const auto other = must(lab::make_identity(ca_spec("Unrelated CA", now_), kEc, nullptr));
  const auto leaf = must(lab::make_identity(leaf_spec("example.kz", now_), kEc, &second));
  IssuerIndex index;
  index.add(0, first.certificate);
  index.add(1, other.certificate);
  index.add(2, second.certificate);
  const auto candidates = index.candidates(leaf.certificate);
  EXPECT_EQ(candidates, (std::vector<uint32_t>{0, 2}));  // by name (and the key identifier picks 2 too), never 1
  const Certificate* by_id[] = {&first.certificate, &other.certificate, &second.certificate};
  const auto found = find_issuer(index, leaf.certificate, [&](uint32_t id) { return leaf.certificate.signed_by(*by_id[id]); });
  EXPECT_EQ(found, 2u);
}

TEST_F(IssuerIndexTest, NoCandidateSignsAnImpostorLeaf) {
  const auto real = must(lab::make_identity(ca_spec("Trusted Name CA", now_), kEc, nullptr));
  const auto impostor = must(lab::make_identity(ca_spec("Trusted Name CA", now_), kEc, nullptr));
  const auto leaf = must(lab::make_identity(leaf_spec("bank.example", now_), kEc, &impostor));
  IssuerIndex index;
  index.add(7, real.certificate);
  EXPECT_EQ(index.candidates(leaf.certificate), (std::vector<uint32_t>{7}));
  EXPECT_EQ(find_issuer(index, leaf.certificate, [&](uint32_t) { return leaf.certificate.signed_by(real.certificate); }),
            std::nullopt);
}

TEST_F(IssuerIndexTest, AnUnknownIssuerHasNoCandidates) {
  const auto ca = must(lab::make_identity(ca_spec("Somebody CA", now_), kEc, nullptr));
  const auto elsewhere = must(lab::make_identity(ca_spec("Elsewhere CA", now_), kEc, nullptr));
  const auto leaf = must(lab::make_identity(leaf_spec("site.example", now_), kEc, &elsewhere));
  IssuerIndex index;
  index.add(0, ca.certificate);
  EXPECT_TRUE(index.candidates(leaf.certificate).empty());
  EXPECT_EQ(index.size(), 1u);
}

}  // namespace
}  // namespace mitmscope
