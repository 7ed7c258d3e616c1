#include "core/time.h"

#include <gtest/gtest.h>

namespace mitmscope {
namespace {

TEST(Time, ParsesTheFormsUsersAndOoniWrite) {
  const auto date_only = parse_utc("2019-07-17");
  ASSERT_TRUE(date_only);
  EXPECT_EQ(format_utc(*date_only), "2019-07-17T00:00:00Z");
  EXPECT_EQ(format_utc(*parse_utc("2019-07-17T21:05:09Z")), "2019-07-17T21:05:09Z");
  EXPECT_EQ(format_utc(*parse_utc("2024-01-23 10:11:12")), "2024-01-23T10:11:12Z");
  EXPECT_EQ(format_utc(*parse_utc("2019-07-18T03:00:00+06:00")), "2019-07-17T21:00:00Z");
  EXPECT_EQ(format_utc(*parse_utc("2023-12-02T10:00:00.123456Z")), "2023-12-02T10:00:00Z");
}

TEST(Time, RejectsMalformedTimesWithTheInputInTheMessage) {
  for (const char* bad : {"", "2019", "2019-13-01", "2019-02-30", "2019-07-17T25:00:00Z", "yesterday",
                          "2019-07-17X", "2019-07-17T10:00:00+0600"}) {
    const auto parsed = parse_utc(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find(std::string("'") + bad + "'"), std::string::npos);
  }
}

}  // namespace
}  // namespace mitmscope
