#include "engine/request_token.h"

#include <gtest/gtest.h>

namespace mitmscope {
namespace {

using ScanLike = TokenLayout<32, 2, 30>;
using TraceLike = TokenLayout<54, 2, 8>;

TEST(RequestToken, PackAndUnpackAreInverses) {
  const ScanLike::Fields fields = {0xfedcba98, 3, (1u << 30) - 1};
  const auto token = ScanLike::pack(fields);
  ASSERT_TRUE(token);
  EXPECT_EQ(ScanLike::unpack(*token), fields);
  const TraceLike::Fields trace = {(uint64_t{1} << 54) - 1, 2, 255};
  EXPECT_EQ(TraceLike::unpack(TraceLike::pack(trace).value()), trace);
}

TEST(RequestToken, AValueWiderThanItsFieldIsRefusedNotCut) {
  EXPECT_FALSE(ScanLike::pack({1, 4, 0}));            // 2 bits hold 0..3
  EXPECT_FALSE(ScanLike::pack({1, 0, 1u << 30}));     // one more than 30 bits
  EXPECT_FALSE(TraceLike::pack({0, 0, 256}));         // TTL 256 does not exist
  EXPECT_EQ(ScanLike::max(1), 3u);
}

TEST(RequestToken, NeighbouringFieldsDoNotLeakIntoEachOther) {
  const auto a = ScanLike::pack({7, 1, 5}).value();
  const auto b = ScanLike::pack({7, 2, 5}).value();
  const auto c = ScanLike::pack({8, 1, 5}).value();
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(ScanLike::unpack(b)[0], 7u);
  EXPECT_EQ(ScanLike::unpack(c)[2], 5u);
}

}  // namespace
}  // namespace mitmscope
