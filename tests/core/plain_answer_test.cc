#include <gtest/gtest.h>

#include "core/observation.h"

namespace mitmscope {
namespace {

std::vector<uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

// What squid 5.7 (ssl-bump, intercept) answered a name that does not resolve to the address.
constexpr std::string_view kSquidConflict =
    "HTTP/1.1 409 Conflict\r\nServer: squid/5.7\r\nMime-Version: 1.0\r\nContent-Type: text/html;charset=utf-8\r\n"
    "X-Squid-Error: ERR_CONFLICT_HOST 0\r\nConnection: close\r\n\r\n<!DOCTYPE html";

TEST(PlainAnswer, ReadsAnHttpErrorFromADevice) {
  const auto answer = parse_plain_answer(bytes_of(kSquidConflict));
  EXPECT_EQ(answer.first_line, "HTTP/1.1 409 Conflict");
  EXPECT_EQ(answer.http_status, 409);
  EXPECT_EQ(answer.server, "squid/5.7");
  ASSERT_EQ(answer.headers.size(), 5u);
  EXPECT_EQ(answer.headers[3].first, "X-Squid-Error");
  EXPECT_EQ(answer.headers[3].second, "ERR_CONFLICT_HOST 0");
  EXPECT_EQ(answer.summary(), "HTTP/1.1 409 Conflict (Server: squid/5.7)");
}

TEST(PlainAnswer, KeepsAnythingElseAsEvidence) {
  const std::vector<uint8_t> garbage = {'S', 'S', 'H', '-', '2', '.', '0', 0x00, 0xff, '\\', '\n', 'x'};
  const auto answer = parse_plain_answer(garbage);
  EXPECT_FALSE(answer.http_status);
  EXPECT_TRUE(answer.headers.empty());
  EXPECT_EQ(answer.first_line, "SSH-2.0\\x00\\xff\\x5c");
  EXPECT_EQ(answer.printable_bytes(), "SSH-2.0\\x00\\xff\\x5c\\x0ax");
  EXPECT_EQ(answer.summary(), answer.first_line);
}

TEST(PlainAnswer, BoundedAndNeverFooledByAHalfHeader) {
  std::string long_answer = "HTTP/1.0 403 Forbidden\r\nServer: ";
  long_answer += std::string(2000, 'a');
  const auto answer = parse_plain_answer(bytes_of(long_answer));
  EXPECT_EQ(answer.first_bytes.size(), PlainAnswer::kMaxBytes);
  EXPECT_EQ(answer.http_status, 403);
  EXPECT_TRUE(answer.server.empty());  // cut by the byte limit: not read
  EXPECT_EQ(parse_plain_answer({}).summary(), "0 bytes");
  EXPECT_FALSE(parse_plain_answer(bytes_of("HTTP/1.1 4x9 Nope\r\n")).http_status);
}

}  // namespace
}  // namespace mitmscope
