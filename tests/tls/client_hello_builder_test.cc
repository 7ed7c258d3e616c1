#include "tls/client_hello_builder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "core/byte_reader.h"
#include "core/hex.h"
#include "tls/client_fingerprint.h"
#include "tls/client_hello.h"

namespace mitmscope {
namespace {

std::vector<uint8_t> capture(const std::string& name) {
  std::ifstream file(std::string(MITMSCOPE_SOURCE_DIR) + "/tests/data/client-hellos/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

uint16_t plain(uint16_t value) { return is_grease(value) ? 0x0a0a : value; }

// A ClientHello with what a client draws per connection taken out: GREASE values read 0x0a0a, the random, the
// session id, key share keys and ECH GREASE contents are zeros (their lengths stay, but an ECH payload's).
struct Normalized {
  uint16_t record_version = 0, legacy_version = 0;
  size_t session_id = 0;
  std::vector<uint16_t> cipher_suites;
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> extensions;
  size_t ech_payload = 0;
  bool operator==(const Normalized&) const = default;
};

std::vector<uint8_t> u16_list_body(ByteReader reader, size_t prefix) {
  std::vector<uint8_t> out(prefix, 0);
  for (uint16_t value = 0; reader.u16(value);) {
    out.push_back(static_cast<uint8_t>(plain(value) >> 8));
    out.push_back(static_cast<uint8_t>(plain(value)));
  }
  return out;
}

std::vector<uint8_t> key_share_body(ByteReader reader) {
  std::vector<uint8_t> out;
  reader.skip(2);
  uint16_t group = 0;
  for (ByteReader key; reader.u16(group) && reader.prefixed(2, key);) {
    out.push_back(static_cast<uint8_t>(plain(group) >> 8));
    out.push_back(static_cast<uint8_t>(plain(group)));
    out.push_back(static_cast<uint8_t>(key.remaining() >> 8));
    out.push_back(static_cast<uint8_t>(key.remaining()));
  }
  return out;
}

std::vector<uint8_t> normalized_body(uint16_t type, std::span<const uint8_t> body, size_t& ech_payload) {
  switch (type) {
    case 10: case 13: return u16_list_body(ByteReader(body.subspan(2)), 2);
    case 43: return u16_list_body(ByteReader(body.subspan(1)), 1);
    case 51: return key_share_body(ByteReader(body));
    case 65037: ech_payload = body.size() - 42; return {body.begin(), body.begin() + 5};   // type, KDF, AEAD
    default: return {body.begin(), body.end()};
  }
}

Normalized normalize(std::span<const uint8_t> record) {
  Normalized hello;
  std::vector<uint8_t> message;
  ByteReader records(record);
  for (ByteReader one; records.skip(1) && records.u16(hello.record_version) && records.prefixed(2, one);) {
    message.insert(message.end(), one.rest().begin(), one.rest().end());
  }
  ByteReader reader(message);
  ByteReader session, ciphers, compression, extensions;
  reader.skip(4);
  reader.u16(hello.legacy_version);
  reader.skip(32);
  reader.prefixed(1, session);
  hello.session_id = session.remaining();
  reader.prefixed(2, ciphers);
  for (uint16_t suite = 0; ciphers.u16(suite);) hello.cipher_suites.push_back(plain(suite));
  reader.prefixed(1, compression);
  reader.prefixed(2, extensions);
  uint16_t type = 0;
  for (ByteReader body; extensions.u16(type) && extensions.prefixed(2, body);) {
    hello.extensions.emplace_back(plain(type), normalized_body(type, body.rest(), hello.ech_payload));
  }
  return hello;
}

// One line per field, so that a failed comparison shows where the two differ.
std::string describe(const Normalized& hello) {
  std::string out = fmt::format("record {:04x} legacy {:04x} session {} ech payload {}\nsuites", hello.record_version,
                                hello.legacy_version, hello.session_id, hello.ech_payload);
  for (uint16_t suite : hello.cipher_suites) out += fmt::format(" {:04x}", suite);
  for (const auto& [type, body] : hello.extensions) out += fmt::format("\n{:5} {}", type, to_hex(body));
  return out;
}

// A seeded source: the same draws every run.
RandomBytes seeded(uint32_t seed) {
  auto engine = std::make_shared<std::mt19937>(seed);
  return [engine](std::span<uint8_t> out) { for (auto& byte : out) byte = static_cast<uint8_t>((*engine)()); };
}

const ClientHelloProfile& profile(std::string_view name) { return *find_client_hello_profile(name).value(); }

BuiltClientHello build(std::string_view name, std::string server = "localhost", uint32_t seed = 1) {
  auto built = build_client_hello(profile(name), {.server_name = std::move(server)}, seeded(seed));
  EXPECT_TRUE(built) << built.error().message;
  return std::move(*built);
}

TEST(ClientHelloBuilder, FirefoxEsrIsTheCapturedHelloByteForByteButForItsRandomDraws) {
  const auto real = capture("firefox-esr-153.bin");
  const auto built = build("firefox-esr");
  EXPECT_EQ(built.record.size(), real.size());
  EXPECT_EQ(describe(normalize(built.record)), describe(normalize(real)));
  EXPECT_EQ(ja4(*parse_client_hello(built.record)).fingerprint, ja4(*parse_client_hello(real)).fingerprint);
  EXPECT_EQ(ja4(*parse_client_hello(built.record)).original, ja4(*parse_client_hello(real)).original) << "the order too";
}

TEST(ClientHelloBuilder, CurlAndTheKazakhDeviceAreTheCapturedHellosPaddingIncluded) {
  for (const auto& [name, file] : {std::pair{"curl", "curl-7.88.bin"}, std::pair{"kz-2019", "kz-2019.bin"}}) {
    const auto real = capture(file);
    const auto built = build(name);
    EXPECT_EQ(built.record.size(), real.size()) << name;
    EXPECT_EQ(describe(normalize(built.record)), describe(normalize(real))) << name;
    EXPECT_EQ(ja3(*parse_client_hello(built.record)).text, ja3(*parse_client_hello(real)).text) << name;
  }
  EXPECT_EQ(ja3(*parse_client_hello(build("kz-2019").record)).hash, "17db668a5c9b2508d83a3c1b9853a0c4")
      << "the registry's entry for the lab's device";
}

// Chromium draws its extension order per connection: the same extensions, bodies and JA4 as both captures,
// GREASE first and last, in an order that changes from connection to connection.
TEST(ClientHelloBuilder, ChromiumHasTheCapturedExtensionsAndJa4InAShuffledOrder) {
  auto sorted = [](Normalized hello) {
    EXPECT_GE(hello.extensions.size(), 2u);
    EXPECT_EQ(hello.extensions.front(), (std::pair<uint16_t, std::vector<uint8_t>>{0x0a0a, {}}));
    EXPECT_EQ(hello.extensions.back(), (std::pair<uint16_t, std::vector<uint8_t>>{0x0a0a, {0}}));
    std::ranges::sort(hello.extensions);
    hello.ech_payload = 0;
    return hello;
  };
  std::set<std::vector<uint16_t>> orders;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    const auto built = build("chromium", "localhost", seed);
    for (const char* file : {"chromium-156-a.bin", "chromium-156-b.bin"}) {
      const auto real = capture(file);
      EXPECT_EQ(describe(sorted(normalize(built.record))), describe(sorted(normalize(real)))) << file;
      EXPECT_EQ(ja4(*parse_client_hello(built.record)).fingerprint, ja4(*parse_client_hello(real)).fingerprint) << file;
    }
    EXPECT_TRUE(std::set<size_t>({144, 176, 208, 240}).contains(normalize(built.record).ech_payload));
    orders.insert(built.extension_order);
  }
  EXPECT_EQ(orders.size(), 8u) << "every connection its own order";
}

// Safari from a published capture (no Apple device here): held to the JA3 and JA4 published for Safari 18 by
// others than the capture's authors, its GREASE where BoringSSL puts it, padded as BoringSSL pads.
TEST(ClientHelloBuilder, SafariHasThePublishedJa3AndJa4) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    const auto built = build("safari", "www.apple.com", seed);
    const auto hello = parse_client_hello(built.record);
    ASSERT_TRUE(hello);
    EXPECT_EQ(ja3(*hello).hash, "773906b0efdefa24a7f2b8eb6985bf37") << ja3(*hello).text;
    EXPECT_EQ(ja4(*hello).fingerprint, "t13d2014h2_a09f3c656075_e42f34c56612") << ja4(*hello).original;
    const auto normalized = normalize(built.record);
    EXPECT_EQ(normalized.extensions.front(), (std::pair<uint16_t, std::vector<uint8_t>>{0x0a0a, {}}));
    EXPECT_EQ(normalized.extensions[normalized.extensions.size() - 2], (std::pair<uint16_t, std::vector<uint8_t>>{0x0a0a, {0}}));
    EXPECT_EQ(normalized.extensions.back().first, 21) << "padding last";
    EXPECT_EQ(built.record.size(), 5u + 512u) << "padded to 512 bytes";
    EXPECT_EQ(normalized.cipher_suites.front(), 0x0a0a) << "a GREASE suite first";
  }
}

TEST(ClientHelloBuilder, TheSameSeedGivesTheSameBytesAndTheNameIsWhereItSays) {
  const auto one = build("minimal", "example.kz", 7);
  const auto two = build("minimal", "example.kz", 7);
  EXPECT_EQ(one.record, two.record);
  ASSERT_GT(one.server_name_at, 0u);
  EXPECT_EQ(std::string(one.record.begin() + static_cast<long>(one.server_name_at),
                        one.record.begin() + static_cast<long>(one.server_name_at) + 10), "example.kz");
  EXPECT_EQ(std::vector<uint8_t>(one.record.begin() + 5, one.record.end()), one.message);
  ASSERT_EQ(one.keys.size(), 1u);
  EXPECT_EQ(one.keys[0].group, kGroupX25519);
  const auto no_name = build("minimal", "192.0.2.1");
  EXPECT_EQ(no_name.server_name_at, 0u);
  EXPECT_FALSE(parse_client_hello(no_name.record)->server_name) << "an address is not a server name";
}

TEST(ClientHelloBuilder, PaddingFollowsOpenSslsRule) {
  // 517 bytes on the wire for a short name; a longer name takes room from the padding; past 511 bytes, none.
  EXPECT_EQ(build("curl", "a.kz").record.size(), 517u);
  EXPECT_EQ(build("curl", std::string(100, 'a') + ".kz").record.size(), 517u);
  const auto long_name = build("curl", std::string(200, 'a') + ".kz");
  EXPECT_GT(long_name.record.size(), 517u);
  EXPECT_EQ(std::ranges::count(long_name.extension_order, uint16_t{21}), 0) << "no padding extension past 511 bytes";
}

TEST(ClientHelloBuilder, TheHybridShareCarriesAWellFormedMlKemKeyAndAnX25519Key) {
  const auto built = build("firefox-esr");
  const auto hello = normalize(built.record);
  const auto share = std::ranges::find_if(hello.extensions, [](const auto& e) { return e.first == 51; });
  ASSERT_NE(share, hello.extensions.end());
  EXPECT_EQ(share->second, (std::vector<uint8_t>{0x11, 0xec, 0x04, 0xc0, 0x00, 0x1d, 0x00, 0x20, 0x00, 0x17, 0x00, 0x41}));
  // Every 12-bit coefficient of the ML-KEM-768 key is below q = 3329 (servers check it, FIPS 203).
  const auto at = std::ranges::search(built.record, std::vector<uint8_t>{0x11, 0xec, 0x04, 0xc0}).begin() + 4;
  for (size_t i = 0; i < 1152; i += 3) {
    const uint16_t low = static_cast<uint16_t>(at[i] | (at[i + 1] & 0x0f) << 8);
    const uint16_t high = static_cast<uint16_t>(at[i + 1] >> 4 | at[i + 2] << 4);
    ASSERT_LT(low, 3329);
    ASSERT_LT(high, 3329);
  }
  ASSERT_EQ(built.keys.size(), 3u);
  EXPECT_EQ(built.keys[0].group, kGroupX25519MlKem768);
  EXPECT_EQ(built.keys[2].group, kGroupSecp256r1);
}

TEST(ClientHelloProfiles, AreFoundByNameAndEachSaysWhereItComesFrom) {
  for (const char* name : {"chromium", "chromium-156", "firefox-esr", "safari", "safari-18", "curl", "kz-2019", "minimal"}) {
    EXPECT_TRUE(find_client_hello_profile(name)) << name;
  }
  auto unknown = find_client_hello_profile("firefox");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("firefox-esr-153"), std::string::npos) << "the names are listed";
  for (const auto& each : builtin_client_hello_profiles()) EXPECT_FALSE(each.provenance.empty()) << each.name;
}

}  // namespace
}  // namespace mitmscope
