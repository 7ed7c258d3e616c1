#include "tls/server_hello.h"

#include <gtest/gtest.h>

namespace mitmscope {
namespace {

// A TLS 1.3 ServerHello: TLS_AES_128_GCM_SHA256, supported_versions, key_share (x25519).
std::vector<uint8_t> tls13_server_hello(std::vector<uint8_t> extra_extension = {}) {
  std::vector<uint8_t> body = {0x03, 0x03};
  for (int i = 0; i < 32; ++i) body.push_back(static_cast<uint8_t>(i));
  body.push_back(32);
  for (int i = 0; i < 32; ++i) body.push_back(0xaa);
  body.insert(body.end(), {0x13, 0x01, 0x00});
  std::vector<uint8_t> extensions = {0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,   // supported_versions: TLS 1.3
                                     0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20};
  for (int i = 0; i < 32; ++i) extensions.push_back(0x55);
  extensions.insert(extensions.end(), extra_extension.begin(), extra_extension.end());
  body.push_back(static_cast<uint8_t>(extensions.size() >> 8));
  body.push_back(static_cast<uint8_t>(extensions.size() & 0xff));
  body.insert(body.end(), extensions.begin(), extensions.end());
  std::vector<uint8_t> message = {0x02, 0x00, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size() & 0xff)};
  message.insert(message.end(), body.begin(), body.end());
  return message;
}

TEST(ServerHello, ParsesVersionCipherAndExtensionsInOrder) {
  const auto hello = parse_server_hello(tls13_server_hello());
  ASSERT_TRUE(hello) << hello.error().message;
  EXPECT_EQ(hello->legacy_version, 0x0303);
  EXPECT_EQ(hello->selected_version, 0x0304);
  EXPECT_EQ(hello->cipher_suite, 0x1301);
  ASSERT_EQ(hello->extensions.size(), 2u);
  EXPECT_EQ(hello->extensions[0].type, 43);
  EXPECT_EQ(hello->extensions[1].type, 51);
  EXPECT_EQ(hello->session_id.size(), 32u);
  EXPECT_FALSE(hello->hello_retry_request);
  EXPECT_TRUE(hello->duplicate_extensions.empty());
}

TEST(ServerHello, Ja3sAndJa4sFollowTheirDefinitions) {
  const auto hello = parse_server_hello(tls13_server_hello());
  ASSERT_TRUE(hello);
  EXPECT_EQ(ja3s_string(*hello), "771,4865,43-51");
  // md5("771,4865,43-51"), computed independently with Python's hashlib.
  EXPECT_EQ(ja3s(*hello), "f4febc55ea12b31ae17cfb7e614afda8");
  // JA4S: t, version 13, 2 extensions, no ALPN; cipher; sha256("002b,0033")[:12].
  EXPECT_EQ(ja4s(*hello), "t130200_1301_a56c5b993250");
}

TEST(ServerHello, KeepsDuplicateExtensionsAndReadsAlpn) {
  const std::vector<uint8_t> alpn = {0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, 'h', '2'};
  std::vector<uint8_t> duplicate_versions = {0x00, 0x2b, 0x00, 0x02, 0x03, 0x04};
  std::vector<uint8_t> extra = alpn;
  extra.insert(extra.end(), duplicate_versions.begin(), duplicate_versions.end());
  const auto hello = parse_server_hello(tls13_server_hello(extra));
  ASSERT_TRUE(hello) << hello.error().message;
  EXPECT_EQ(hello->extensions.size(), 4u);
  EXPECT_EQ(hello->duplicate_extensions, std::vector<uint16_t>{43});
  EXPECT_EQ(hello->alpn, "h2");
  EXPECT_EQ(ja3s_string(*hello), "771,4865,43-51-16-43");
}

TEST(ServerHello, RejectsMalformedMessagesWithTheOffset) {
  auto message = tls13_server_hello();
  EXPECT_FALSE(parse_server_hello(std::span(message).first(3)));
  auto wrong_type = message;
  wrong_type[0] = 1;
  EXPECT_FALSE(parse_server_hello(wrong_type));
  auto long_extension = message;
  long_extension[long_extension.size() - 38] = 0xff;  // key_share length beyond the message
  const auto bad = parse_server_hello(long_extension);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("ServerHello byte"), std::string::npos);
  auto truncated = message;
  truncated.resize(truncated.size() - 1);
  EXPECT_FALSE(parse_server_hello(truncated));
}

}  // namespace
}  // namespace mitmscope
