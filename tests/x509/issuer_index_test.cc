#include "x509/issuer_index.h"

#include <gtest/gtest.h>

#include "lab/pki.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

constexpr auto& kEc = testing::kEcKey;

lab::Identity make_ca(const std::string& name) {
  return testing::must(lab::make_identity(testing::ca_spec(name, now_utc()), kEc, nullptr));
}
lab::Identity make_leaf(const std::string& name, const lab::Identity& issuer) {
  return testing::must(lab::make_identity(testing::leaf_spec(name, now_utc()), kEc, &issuer));
}

TEST(IssuerIndex, TwoCasWithOneNameAreBothCandidatesAndTheSignatureDecides) {
  // Like the seven ISCA roots: one name, different keys.
  const auto first = make_ca("Shared Name CA");
  const auto second = make_ca("Shared Name CA");
  const auto other = make_ca("Unrelated CA");
  const auto leaf = make_leaf("example.kz", second);
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

TEST(IssuerIndex, NoCandidateSignsAnImpostorLeaf) {
  const auto real = make_ca("Trusted Name CA");
  const auto impostor = make_ca("Trusted Name CA");
  const auto leaf = make_leaf("bank.example", impostor);
  IssuerIndex index;
  index.add(7, real.certificate);
  EXPECT_EQ(index.candidates(leaf.certificate), (std::vector<uint32_t>{7}));
  EXPECT_EQ(find_issuer(index, leaf.certificate, [&](uint32_t) { return leaf.certificate.signed_by(real.certificate); }),
            std::nullopt);
}

TEST(IssuerIndex, AnUnknownIssuerHasNoCandidates) {
  const auto ca = make_ca("Somebody CA");
  const auto elsewhere = make_ca("Elsewhere CA");
  const auto leaf = make_leaf("site.example", elsewhere);
  IssuerIndex index;
  index.add(0, ca.certificate);
  EXPECT_TRUE(index.candidates(leaf.certificate).empty());
  EXPECT_EQ(index.size(), 1u);
}

}  // namespace
}  // namespace mitmscope
