#include "tls/hello_strategy.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "engine/tls_connection.h"
#include "tls/client_hello.h"
#include "tls/client_hello_builder.h"

namespace mitmscope {
namespace {

TEST(HelloStrategy, NamesAreFoundAndAnUnknownOneListsThem) {
  ASSERT_EQ(builtin_hello_strategies().size(), 7u);
  for (const auto& strategy : builtin_hello_strategies()) EXPECT_EQ(find_hello_strategy(strategy.name).value(), &strategy);
  auto unknown = find_hello_strategy("split-everything");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("split-tcp-name"), std::string::npos) << unknown.error().message;
}

TEST(HelloStrategy, NameCaseChangesLettersOnly) {
  EXPECT_EQ(apply_name_case("www.vk.com", NameCase::kUpper), "WWW.VK.COM");
  EXPECT_EQ(apply_name_case("www.vk.com", NameCase::kMixed), "wWw.Vk.CoM");
  EXPECT_EQ(apply_name_case("a-1.kz", NameCase::kMixed), "a-1.Kz");
  EXPECT_EQ(apply_name_case("Example.kz", NameCase::kAsGiven), "Example.kz");
}

TEST(HelloStrategy, TheCutIsInsideTheNameOrNowhere) {
  EXPECT_EQ(name_cut(100, 10), 105u);
  EXPECT_EQ(name_cut(0, 10), 0u) << "no name";
  EXPECT_EQ(name_cut(100, 1), 0u) << "a one-letter name has no middle";
}

TEST(HelloStrategy, TwoRecordsCarryTheWholeMessageCutInTheName) {
  auto hello = build_client_hello(*find_client_hello_profile("firefox-esr").value(), {.server_name = "facebook.com"});
  ASSERT_TRUE(hello);
  const size_t cut = name_cut(hello->server_name_at, 12) - 5;
  const auto records = handshake_records(hello->message, 0x0301, cut);
  ASSERT_EQ(records.size(), hello->message.size() + 10);
  const size_t first = static_cast<size_t>(records[3] << 8 | records[4]);
  EXPECT_EQ(first, cut);
  EXPECT_EQ(std::string(records.begin() + 5 + static_cast<long>(first) - 6, records.begin() + 5 + static_cast<long>(first)), "facebo");
  std::vector<uint8_t> joined(records.begin() + 5, records.begin() + 5 + static_cast<long>(first));
  joined.insert(joined.end(), records.begin() + 10 + static_cast<long>(first), records.end());
  EXPECT_EQ(joined, hello->message);
  EXPECT_EQ(records[5 + first], 0x16);
  EXPECT_EQ(static_cast<size_t>(records[8 + first] << 8 | records[9 + first]), hello->message.size() - first);
}

TEST(HelloStrategy, RecordsStayWithinTheLimitOnBothSidesOfTheCut) {
  const std::vector<uint8_t> message(40000, 0x42);
  // 40,000 bytes cut at 100: 100, then 16,384 + 16,384 + 7,132.
  const auto records = handshake_records(message, 0x0303, 100);
  std::vector<size_t> sizes;
  for (size_t at = 0; at + 5 <= records.size(); at += 5 + sizes.back()) sizes.push_back(size_t{records[at + 3]} << 8 | records[at + 4]);
  EXPECT_EQ(sizes, (std::vector<size_t>{100, 16384, 16384, 7132}));
  EXPECT_EQ(records.size(), message.size() + 5 * sizes.size());
  EXPECT_EQ(handshake_records(message, 0x0303).size(), message.size() + 15) << "no cut: three records";
  EXPECT_EQ(handshake_records(message, 0x0303, 50000), handshake_records(message, 0x0303)) << "a cut past the end is none";
}

// The padding strategy pads every profile that is shorter than its size, with or without a padding extension of
// its own, and leaves a longer one as it is; the hello still parses and names the host.
TEST(HelloStrategy, PaddingBringsEveryShorterProfileToItsSize) {
  const HelloStrategy* pad = find_hello_strategy("pad-1400").value();
  for (const auto& profile : builtin_client_hello_profiles()) {
    SCOPED_TRACE(profile.name);
    auto context = TlsClientContext::create({.client_hello = &profile, .strategy = pad});
    ASSERT_TRUE(context) << context.error().message;
    auto plain = build_client_hello(profile, {.server_name = "vk.com"});
    auto padded = build_client_hello(*context->options().client_hello, {.server_name = "vk.com"});
    ASSERT_TRUE(plain && padded);
    const bool has_padding = std::ranges::find(padded->extension_order, uint16_t{21}) != padded->extension_order.end();
    if (plain->message.size() < pad->pad_to) {
      EXPECT_EQ(padded->message.size(), pad->pad_to);
      EXPECT_TRUE(has_padding);
    } else {   // Chromium's size varies with its ECH GREASE draw, always above 1,400
      EXPECT_FALSE(has_padding) << "a hello longer than the size is left as it is";
    }
    auto parsed = parse_client_hello(padded->record);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->server_name, "vk.com");
  }
  EXPECT_FALSE(TlsClientContext::create({.strategy = pad})) << "a strategy reshapes a profile's hello, not OpenSSL's";
}

}  // namespace
}  // namespace mitmscope
