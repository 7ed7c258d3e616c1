#include <arpa/inet.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "analyze/asn_map.h"
#include "sentinel/capture.h"
#include "sentinel/client_registry.h"
#include "sentinel/listener.h"
#include "sentinel/network_summary.h"
#include "sentinel/visit.h"
#include "support/client_hello_builder.h"

namespace mitmscope {
namespace {

constexpr const char* kChrome120 =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
constexpr const char* kFirefox121 = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
constexpr const char* kSafari17 =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

ClientHello hello_of(const testing::HelloSpec& spec) {
  auto hello = parse_client_hello(testing::client_hello_bytes(spec));
  EXPECT_TRUE(hello);
  return hello ? *hello : ClientHello{};
}

// The 2019 device as BRIEF describes it: record TLS 1.0, handshake TLS 1.2, 13 suites, no TLS 1.3.
testing::HelloSpec described_interceptor() {
  testing::HelloSpec spec;
  spec.ciphers = {0xc02b, 0xc02f, 0xc02c, 0xc030, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x000a};
  spec.extensions = {{0x0000, testing::sni_body("facebook.com")}, {0x000a, testing::u16_list_body({29, 23})}};
  return spec;
}

// What OpenSSL's s_client or curl sends: TLS 1.3, ALPN h2, no GREASE.
testing::HelloSpec openssl_like() {
  testing::HelloSpec spec;
  spec.ciphers = {0x1302, 0x1303, 0x1301, 0xc02c, 0xc030};
  spec.extensions = {{0x0000, testing::sni_body("example.com")},
                     {0x0010, testing::alpn_body({"h2", "http/1.1"})},
                     {0x002b, testing::u16_list_body({0x0304, 0x0303}, true)}};
  return spec;
}

Visit visit_of(const ClientHello& hello, std::string ip, std::optional<std::string> user_agent = std::nullopt) {
  Visit visit;
  visit.client_ip = std::move(ip);
  visit.hello = hello;
  visit.user_agent = std::move(user_agent);
  return visit;
}

TEST(ClientRegistry, JudgesUserAgentsAgainstTheirClientHellos) {
  auto registry = ClientRegistry::builtin();
  ASSERT_TRUE(registry) << registry.error().message;
  const ClientHello chrome = hello_of(testing::chrome_143());
  const ClientHello curl = hello_of(openssl_like());
  EXPECT_TRUE(registry->judge_user_agent(kChrome120, chrome).consistent);
  EXPECT_TRUE(registry->judge_user_agent(kChrome120, chrome).judged);
  const auto lying = registry->judge_user_agent(kChrome120, curl);
  EXPECT_TRUE(lying.judged);
  EXPECT_FALSE(lying.consistent);
  EXPECT_EQ(lying.browser, "Chrome");
  EXPECT_EQ(lying.major, 120);
  ASSERT_EQ(lying.reasons.size(), 1u);
  EXPECT_NE(lying.reasons[0].find("GREASE"), std::string::npos);
  // Firefox and Safari need no GREASE; an old Chrome is too old for the rule; curl's own UA has no rule.
  EXPECT_TRUE(registry->judge_user_agent(kFirefox121, curl).consistent);
  const auto safari = registry->judge_user_agent(kSafari17, curl);
  EXPECT_EQ(safari.browser, "Safari");
  EXPECT_TRUE(safari.judged && safari.consistent);
  EXPECT_FALSE(registry->judge_user_agent("Mozilla/5.0 Chrome/49.0.2623.112", curl).judged);
  EXPECT_FALSE(registry->judge_user_agent("curl/7.88.1", curl).judged);
  const auto tls12 = registry->judge_user_agent(kFirefox121, hello_of(described_interceptor()));
  EXPECT_FALSE(tls12.consistent);
  EXPECT_EQ(tls12.reasons.size(), 2u);   // no TLS 1.3, no h2
}

TEST(ClientRegistry, VerdictsOfVisits) {
  auto registry = ClientRegistry::builtin();
  ASSERT_TRUE(registry);
  auto verdict = [&](const Visit& visit) { return judge_visit(visit, *registry, nullptr).verdict; };
  EXPECT_EQ(verdict(visit_of(hello_of(described_interceptor()), "192.0.2.1", kChrome120)), VisitVerdict::kInterceptorShape);
  EXPECT_EQ(verdict(visit_of(hello_of(openssl_like()), "192.0.2.2", kChrome120)), VisitVerdict::kInconsistent);
  EXPECT_EQ(verdict(visit_of(hello_of(testing::chrome_143()), "192.0.2.3", kChrome120)), VisitVerdict::kConsistent);
  EXPECT_EQ(verdict(visit_of(hello_of(openssl_like()), "192.0.2.4")), VisitVerdict::kUnjudged);
  EXPECT_EQ(verdict(visit_of(hello_of(openssl_like()), "192.0.2.5", "curl/7.88.1")), VisitVerdict::kUnjudged);
  const auto judgement = judge_visit(visit_of(hello_of(described_interceptor()), "192.0.2.1"), *registry, nullptr);
  ASSERT_TRUE(judgement.interceptor);
  EXPECT_EQ(judgement.interceptor->method, "shape");
  // A 14-suite TLS 1.2 client is not the described device.
  auto fourteen = described_interceptor();
  fourteen.ciphers.push_back(0x0005);
  EXPECT_EQ(verdict(visit_of(hello_of(fourteen), "192.0.2.6")), VisitVerdict::kUnjudged);
}

// A device that mirrors the client's ALPN (mitmproxy) or cipher suites (squid staring) is still matched
// by the JA4 parts it does not take from the client.
TEST(ClientRegistry, MatchesTheJa4PartsADeviceKeeps) {
  const ClientHello device = hello_of(openssl_like());
  const std::string fingerprint = ja4(device).fingerprint;
  const std::string bc = fingerprint.substr(fingerprint.find('_') + 1);
  const std::string c = bc.substr(bc.find('_') + 1);
  auto registry = ClientRegistry::parse(
      fmt::format(R"({{"format": "mitmscope-client-fingerprints/1", "interceptors": [
        {{"id": "bc", "name": "mirrors ALPN", "ja4_bc": "{}", "provenance": "test"}},
        {{"id": "c", "name": "mirrors suites", "ja4_c": "{}", "provenance": "test"}}]}})", bc, c),
      "mine.json");
  ASSERT_TRUE(registry) << registry.error().message;
  auto mirrored_alpn = openssl_like();
  mirrored_alpn.extensions[1] = {0x0010, testing::alpn_body({"http/1.1"})};
  const auto by_bc = judge_visit(visit_of(hello_of(mirrored_alpn), "192.0.2.7"), *registry, nullptr);
  ASSERT_TRUE(by_bc.interceptor);
  EXPECT_EQ(by_bc.interceptor->method, "ja4_bc");
  EXPECT_EQ(by_bc.verdict, VisitVerdict::kKnownInterceptor);
  auto mirrored_suites = openssl_like();
  mirrored_suites.ciphers = {0x1301, 0x1302};
  const auto by_c = judge_visit(visit_of(hello_of(mirrored_suites), "192.0.2.8"), *registry, nullptr);
  ASSERT_TRUE(by_c.interceptor);
  EXPECT_EQ(by_c.interceptor->method, "ja4_c");
  auto other = openssl_like();
  other.extensions.pop_back();
  EXPECT_FALSE(judge_visit(visit_of(hello_of(other), "192.0.2.9"), *registry, nullptr).interceptor);
}

// OpenSSL's ClientHello (default TLS 1.3 order, the renegotiation SCSV) under each User-Agent.
TEST(ClientRegistry, TheClientHellosLibraryAgainstTheUserAgents) {
  auto registry = ClientRegistry::builtin();
  ASSERT_TRUE(registry);
  auto openssl = openssl_like();
  openssl.ciphers.push_back(0x00ff);
  const auto as_chrome = judge_visit(visit_of(hello_of(openssl), "192.0.2.10", kChrome120), *registry, nullptr);
  EXPECT_EQ(as_chrome.verdict, VisitVerdict::kInconsistent);
  EXPECT_EQ(as_chrome.library.library, TlsLibrary::kOpenSsl);
  EXPECT_NE(as_chrome.summary.find("OpenSSL's"), std::string::npos) << as_chrome.summary;
  const auto as_wget = judge_visit(visit_of(hello_of(openssl), "192.0.2.11", "Wget/1.21.3"), *registry, nullptr);
  EXPECT_EQ(as_wget.verdict, VisitVerdict::kInconsistent);
  EXPECT_NE(as_wget.summary.find("GnuTLS"), std::string::npos) << as_wget.summary;
  const auto as_curl = judge_visit(visit_of(hello_of(openssl), "192.0.2.12", "curl/7.88.1"), *registry, nullptr);
  EXPECT_EQ(as_curl.verdict, VisitVerdict::kConsistent);
  EXPECT_EQ(as_curl.summary, "192.0.2.12 is curl, and its ClientHello fits");
}

TEST(ClientRegistry, UserFilesAreCheckedFieldByField) {
  auto bad = ClientRegistry::parse(R"({"format": "mitmscope-client-fingerprints/1", "interceptors": [{"id": "x", "ja4": "t12d"}]})", "mine.json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("mine.json: interceptors[0].provenance"), std::string::npos) << bad.error().message;
  auto feature = ClientRegistry::parse(
      R"({"format": "mitmscope-client-fingerprints/1", "browsers": [{"family": "X", "token": "X/", "reference": "r", "requires": ["ech"]}]})",
      "mine.json");
  ASSERT_FALSE(feature);
  EXPECT_NE(feature.error().message.find("browsers[0].requires"), std::string::npos);
  EXPECT_FALSE(ClientRegistry::parse("[1, 2", "broken.json"));
  auto good = ClientRegistry::parse(
      R"({"format": "mitmscope-client-fingerprints/1", "interceptors": [{"id": "box", "name": "A box", "ja4": "t13d1516h2_8daaf6152771_d8a2da3f94cd", "provenance": "seen"}]})",
      "mine.json");
  ASSERT_TRUE(good) << good.error().message;
  const ClientHello chrome = hello_of(testing::chrome_143());
  const auto match = good->match(chrome, ja3(chrome), ja4(chrome));
  ASSERT_TRUE(match);
  EXPECT_EQ(match->entry->origin, "mine.json");
}

// IPv4 + TCP around a payload, as a capture holds it.
std::vector<uint8_t> tcp_packet(const char* source, const char* destination, uint16_t source_port, uint16_t destination_port,
                                uint32_t sequence, uint8_t flags, std::span<const uint8_t> payload, uint8_t ttl = 57) {
  std::vector<uint8_t> packet(40, 0);
  packet[0] = 0x45;
  const size_t total = 40 + payload.size();
  packet[2] = static_cast<uint8_t>(total >> 8);
  packet[3] = static_cast<uint8_t>(total);
  packet[8] = ttl;
  packet[9] = 6;
  inet_pton(AF_INET, source, packet.data() + 12);
  inet_pton(AF_INET, destination, packet.data() + 16);
  packet[20] = static_cast<uint8_t>(source_port >> 8);
  packet[21] = static_cast<uint8_t>(source_port);
  packet[22] = static_cast<uint8_t>(destination_port >> 8);
  packet[23] = static_cast<uint8_t>(destination_port);
  for (int i = 0; i < 4; ++i) packet[24 + i] = static_cast<uint8_t>(sequence >> (24 - 8 * i));
  packet[32] = 0x50;
  packet[33] = flags;
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

constexpr uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08;

TEST(HelloReassembler, SegmentsOutOfOrderRetransmittedAndMidStream) {
  HelloReassembler reassembler({}, "test");
  const auto hello = testing::client_hello_bytes(testing::chrome_143());
  const auto now = std::chrono::system_clock::now();
  const std::span<const uint8_t> bytes(hello);
  const uint32_t isn = 0xfffffff0;   // the stream wraps around 2^32 inside the ClientHello
  EXPECT_FALSE(reassembler.add_ip_packet(tcp_packet("203.0.113.7", "198.51.100.1", 40000, 443, isn, kSyn, {}), now));
  const size_t cut = bytes.size() / 2;
  EXPECT_FALSE(reassembler.add_ip_packet(tcp_packet("203.0.113.7", "198.51.100.1", 40000, 443, static_cast<uint32_t>(isn + 1 + cut), kAck | kPsh, bytes.subspan(cut)), now));
  auto visit = reassembler.add_ip_packet(tcp_packet("203.0.113.7", "198.51.100.1", 40000, 443, isn + 1, kAck, bytes.first(cut)), now);
  ASSERT_TRUE(visit);
  EXPECT_EQ(visit->client_ip, "203.0.113.7");
  EXPECT_EQ(visit->client_port, 40000);
  EXPECT_EQ(visit->server_ip, "198.51.100.1");
  EXPECT_EQ(visit->ttl, 57);
  EXPECT_EQ(ja4(visit->hello).fingerprint, "t13d1516h2_8daaf6152771_d8a2da3f94cd");
  // The retransmitted ClientHello is not a second visit.
  EXPECT_FALSE(reassembler.add_ip_packet(tcp_packet("203.0.113.7", "198.51.100.1", 40000, 443, isn + 1, kAck, bytes), now));
  // A flow whose SYN was not captured is picked up at its ClientHello; one to another port is not read.
  EXPECT_TRUE(reassembler.add_ip_packet(tcp_packet("203.0.113.8", "198.51.100.1", 40001, 443, 5000, kAck, bytes), now));
  EXPECT_FALSE(reassembler.add_ip_packet(tcp_packet("203.0.113.9", "198.51.100.1", 40002, 8443, 5000, kAck, bytes), now));
  // HTTP on the TLS port is counted, not judged.
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_FALSE(reassembler.add_ip_packet(tcp_packet("203.0.113.10", "198.51.100.1", 40003, 443, 77, kSyn, {}), now));
  EXPECT_FALSE(reassembler.add_ip_packet(tcp_packet("203.0.113.10", "198.51.100.1", 40003, 443, 78, kAck,
                                                    std::span(reinterpret_cast<const uint8_t*>(get.data()), get.size())), now));
  EXPECT_EQ(reassembler.stats().hellos, 2u);
  EXPECT_EQ(reassembler.stats().not_client_hello, 1u);
}

TEST(HelloReassembler, BoundedFlowsAndBytes) {
  CaptureOptions options;
  options.max_flows = 10;
  options.max_hello_bytes = 2048;
  HelloReassembler reassembler(options, "test");
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < 50; ++i) reassembler.add_ip_packet(tcp_packet("203.0.113.7", "198.51.100.1", static_cast<uint16_t>(1000 + i), 443, 1, kSyn, {}), now);
  EXPECT_EQ(reassembler.open_flows(), 10u);
  EXPECT_EQ(reassembler.stats().flows_refused, 40u);
  // Idle flows are swept, so new ones are taken again.
  const auto later = now + std::chrono::seconds(31);
  EXPECT_FALSE(reassembler.add_ip_packet(tcp_packet("203.0.113.8", "198.51.100.1", 999, 443, 1, kSyn, {}), later));
  EXPECT_EQ(reassembler.stats().flows_expired, 10u);
  // A ClientHello declaring more than max_hello_bytes is refused, not buffered.
  std::vector<uint8_t> huge = {0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc};
  huge.resize(1400, 0);
  EXPECT_FALSE(reassembler.add_ip_packet(tcp_packet("203.0.113.8", "198.51.100.1", 999, 443, 2, kAck, huge), later));
  EXPECT_EQ(reassembler.stats().too_large, 1u);
}

void write_pcap(const std::filesystem::path& path, const std::vector<std::vector<uint8_t>>& packets) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t value) { out.write(reinterpret_cast<const char*>(&value), 4); };
  auto u16 = [&](uint16_t value) { out.write(reinterpret_cast<const char*>(&value), 2); };
  u32(0xa1b2c3d4);
  u16(2);
  u16(4);
  u32(0);
  u32(0);
  u32(65535);
  u32(1);   // Ethernet
  uint32_t second = 1700000000;
  for (const auto& packet : packets) {
    std::vector<uint8_t> frame(12, 0x02);
    frame.push_back(0x08);
    frame.push_back(0x00);
    frame.insert(frame.end(), packet.begin(), packet.end());
    u32(second++);
    u32(0);
    u32(static_cast<uint32_t>(frame.size()));
    u32(static_cast<uint32_t>(frame.size()));
    out.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
  }
}

TEST(Sentinel, CaptureFileToNetworkSummary) {
  const auto directory = std::filesystem::temp_directory_path() / fmt::format("sentinel-test-{}", ::getpid());
  std::filesystem::create_directories(directory);
  const auto chrome = testing::client_hello_bytes(testing::chrome_143());
  const auto device = testing::client_hello_bytes(described_interceptor());
  std::vector<std::vector<uint8_t>> packets;
  // AS9198: 4 visitors, 1 of them through the device; AS64500: 2 direct visitors.
  for (int i = 1; i <= 4; ++i) {
    const std::string ip = fmt::format("95.56.0.{}", i);
    packets.push_back(tcp_packet(ip.c_str(), "198.51.100.1", 50000, 443, 10, kAck, i == 1 ? std::span<const uint8_t>(device) : chrome));
  }
  packets.push_back(tcp_packet("95.56.0.1", "198.51.100.1", 50001, 443, 10, kAck, device));   // the same visitor again
  for (int i = 1; i <= 2; ++i) {
    const std::string ip = fmt::format("203.0.113.{}", i);
    packets.push_back(tcp_packet(ip.c_str(), "198.51.100.1", 50000, 443, 10, kAck, chrome));
  }
  write_pcap(directory / "visits.pcap", packets);
  std::ofstream(directory / "pfx2as.txt") << "95.56.0.0\t16\t9198\n203.0.113.0\t24\t64500\n";
  auto networks = AsnMap::load(directory / "pfx2as.txt");
  ASSERT_TRUE(networks);
  auto registry = ClientRegistry::builtin();
  ASSERT_TRUE(registry);
  NetworkSummary summary;
  auto stats = read_capture_file(directory / "visits.pcap", {}, [&](const Visit& visit) {
    summary.add(visit, judge_visit(visit, *registry, &*networks));
    return true;
  });
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->packets, 7u);
  EXPECT_EQ(stats->hellos, 7u);
  EXPECT_EQ(summary.visits(), 7u);
  EXPECT_EQ(summary.flagged_visits(), 2u);
  const auto sentences = summary.sentences();
  ASSERT_EQ(sentences.size(), 2u);
  EXPECT_EQ(sentences[0], "25.0% of visitors from AS9198 arrive through an interceptor (1 of 4 visitors; 2 of 5 visits flagged: 2 interceptor_shape)");
  EXPECT_EQ(sentences[1], "0.0% of visitors from AS64500 arrive through an interceptor (0 of 2 visitors; 0 of 2 visits flagged)");
  // Not a capture: the error names the file.
  std::ofstream(directory / "not.pcap") << "hello";
  auto bad = read_capture_file(directory / "not.pcap", {}, [](const Visit&) { return true; });
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("not.pcap"), std::string::npos);
  std::filesystem::remove_all(directory);
}

TEST(Sentinel, UserAgentOfARequestHead) {
  EXPECT_EQ(user_agent_of("GET / HTTP/1.1\r\nHost: a\r\nuser-AGENT:  curl/8.0 \r\n\r\n"), "curl/8.0");
  EXPECT_EQ(user_agent_of("GET / HTTP/1.1\nUser-Agent: x\n\n"), "x");
  EXPECT_FALSE(user_agent_of("GET / HTTP/1.1\r\nHost: a\r\n\r\nUser-Agent: body\r\n"));
  EXPECT_FALSE(user_agent_of("User-Agent: first line is the request line"));
}

}  // namespace
}  // namespace mitmscope
