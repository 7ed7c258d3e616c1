#include "engine/endpoint.h"

#include <gtest/gtest.h>

namespace mitmscope {
namespace {

TEST(Endpoint, ParsesAddressesWithAndWithoutPorts) {
  auto v4 = parse_endpoint("93.184.216.34", 443);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->to_string(), "93.184.216.34:443");
  auto v4_port = parse_endpoint("93.184.216.34:8443", 443);
  ASSERT_TRUE(v4_port);
  EXPECT_EQ(v4_port->port, 8443);
  auto v6 = parse_endpoint("[2001:4860:0:0::8888]:853", 443);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->ip, "2001:4860::8888");
  EXPECT_EQ(v6->to_string(), "[2001:4860::8888]:853");
  auto bare_v6 = parse_endpoint("2001:4860::8888", 443);
  ASSERT_TRUE(bare_v6);
  EXPECT_EQ(bare_v6->port, 443);
}

TEST(Endpoint, RefusesNamesAndBadPorts) {
  for (const char* bad : {"example.com", "example.com:443", "1.2.3.4:0", "1.2.3.4:70000", "1.2.3.4:", "[::1", "", "1.2.3.4:x"}) {
    const auto parsed = parse_endpoint(bad, 443);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_NE(parse_endpoint("example.com", 443).error().message.find("does not resolve names"), std::string::npos);
}

TEST(Endpoint, RefusesReservedAndPrivateRangesUnlessAllowed) {
  for (const char* reserved : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.1.1",
                               "0.1.2.3", "224.0.0.1", "255.255.255.255", "198.18.0.1", "::1", "fc00::1", "fe80::1",
                               "::ffff:10.0.0.1", "2001:db8::1", "ff02::1"}) {
    const auto endpoint = parse_endpoint(reserved, 443);
    ASSERT_TRUE(endpoint) << reserved;
    const auto refused = check_address_policy(*endpoint, false);
    ASSERT_FALSE(refused) << reserved;
    EXPECT_EQ(refused.error().code, ErrorCode::kAddressRefused);
    EXPECT_NE(refused.error().message.find("--allow-private"), std::string::npos);
    EXPECT_TRUE(check_address_policy(*endpoint, true)) << reserved;
  }
  for (const char* global : {"8.8.8.8", "92.47.151.210", "95.56.243.92", "2a00:1450:4001::200e", "172.32.0.1", "100.128.0.1"}) {
    const auto endpoint = parse_endpoint(global, 443);
    ASSERT_TRUE(endpoint);
    EXPECT_TRUE(check_address_policy(*endpoint, false)) << global << " " << reserved_range_of(*endpoint);
  }
}

TEST(Endpoint, TellsIpLiteralsFromNames) {
  for (const char* literal : {"192.0.2.1", "2001:db8::1", "::1", "::ffff:192.0.2.1"}) EXPECT_TRUE(is_ip_literal(literal)) << literal;
  for (const char* other : {"", "example.com", "1.2.3", "[::1]", "192.0.2.1:443", "1.2.3.4.5", "vk.com.", "::1 "}) {
    EXPECT_FALSE(is_ip_literal(other)) << other;
  }
  EXPECT_FALSE(is_ip_literal(std::string(100, '1'))) << "longer than any address: not copied, not parsed";
}

TEST(Endpoint, ChecksServerNames) {
  EXPECT_EQ(*check_server_name("facebook.com"), "facebook.com");
  EXPECT_EQ(*check_server_name("control-0123456789abcdef.com."), "control-0123456789abcdef.com");
  EXPECT_TRUE(check_server_name("_acme.example"));
  for (const char* bad : {"", ".", "a..b", "exa mple.com", "1.2.3.4", "::1", "bad/name", "ü.example"}) {
    EXPECT_FALSE(check_server_name(bad)) << bad;
  }
  for (size_t label : {64, 250}) {
    std::string name(label, 'a');
    name += ".com";
    EXPECT_FALSE(check_server_name(name)) << label;
  }
}

}  // namespace
}  // namespace mitmscope
