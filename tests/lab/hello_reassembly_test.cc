// The in-path device's ClientHello reassembly (lab/hello_reassembly) and the TCP parsing under it.
#include "lab/hello_reassembly.h"

#include <gtest/gtest.h>

#include "support/client_hello_builder.h"
#include "tls/client_hello.h"

namespace mitmscope::lab {
namespace {

using namespace std::chrono_literals;

const FlowKey kFlow{0xc6120001, 0xc6120402, 40000, 443};
constexpr uint32_t kFirstSequence = 0xfffffc00;   // the ClientHello wraps the sequence space
const Clock::time_point kNow{};

std::vector<uint8_t> chromium_like_hello() {
  auto spec = testing::chrome_143();
  spec.extensions.emplace_back(0x4469, std::vector<uint8_t>(1300, 0x42));   // a large key share's worth
  return testing::client_hello_bytes(spec);
}

TcpSegment piece(const std::vector<uint8_t>& stream, size_t from, size_t size, const FlowKey& flow = kFlow) {
  TcpSegment segment;
  segment.source_ip = flow.client_ip, segment.destination_ip = flow.server_ip;
  segment.source_port = flow.client_port, segment.destination_port = flow.server_port;
  segment.sequence = kFirstSequence + static_cast<uint32_t>(from);
  segment.payload = std::span(stream).subspan(from, size);
  return segment;
}

TEST(HelloReassembly, OneSegmentIsCompleteAtOnce) {
  const auto hello = testing::client_hello_bytes(testing::chrome_143());
  HelloReassembly reassembly;
  auto outcome = reassembly.add(7, piece(hello, 0, hello.size()), kNow);
  ASSERT_EQ(outcome.step, HelloStep::kComplete);
  EXPECT_FALSE(outcome.reassembled);
  EXPECT_EQ(outcome.held->ids, std::vector<uint32_t>{7});
  EXPECT_TRUE(reassembly.empty());
}

TEST(HelloReassembly, SegmentsAreJoinedInOrderAcrossTheSequenceWrap) {
  const auto hello = chromium_like_hello();
  ASSERT_GT(hello.size(), 1500u);
  HelloReassembly reassembly;
  EXPECT_EQ(reassembly.add(1, piece(hello, 0, 1000), kNow).step, HelloStep::kWaiting);
  EXPECT_EQ(reassembly.add(2, piece(hello, 0, 1000), kNow).step, HelloStep::kRetransmission);
  EXPECT_EQ(reassembly.add(3, piece(hello, 1400, hello.size() - 1400), kNow).step, HelloStep::kOutOfOrder);
  EXPECT_EQ(reassembly.add(4, piece(hello, 1000, 400), kNow).step, HelloStep::kWaiting);
  auto outcome = reassembly.add(5, piece(hello, 1400, hello.size() - 1400), kNow);
  ASSERT_EQ(outcome.step, HelloStep::kComplete);
  EXPECT_TRUE(outcome.reassembled);
  EXPECT_EQ(outcome.held->ids, (std::vector<uint32_t>{1, 4, 5}));
  EXPECT_EQ(outcome.held->stream, hello);
  EXPECT_EQ(outcome.held->sequence, kFirstSequence);
  EXPECT_EQ(parse_client_hello(outcome.held->stream)->server_name, "tls.browserleaks.com");
  EXPECT_TRUE(reassembly.empty());
}

TEST(HelloReassembly, WhatIsNotAClientHelloPassesAtOnce) {
  const std::vector<uint8_t> http = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1'};
  HelloReassembly reassembly;
  EXPECT_EQ(reassembly.add(1, piece(http, 0, http.size()), kNow).step, HelloStep::kNotClientHello);
  const std::vector<uint8_t> huge = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00};
  const auto outcome = HelloReassembly({.max_bytes = 4096}).add(2, piece(huge, 0, huge.size()), kNow);
  EXPECT_EQ(outcome.step, HelloStep::kTooLarge);
  EXPECT_EQ(outcome.held->ids, std::vector<uint32_t>{2});
  EXPECT_TRUE(reassembly.empty());
}

TEST(HelloReassembly, BoundedInFlowsAndInTime) {
  const auto hello = chromium_like_hello();
  HelloReassembly reassembly({.max_flows = 2, .wait = 1s});
  for (uint16_t port = 1; port <= 2; ++port) {
    const FlowKey flow{kFlow.client_ip, kFlow.server_ip, port, 443};
    EXPECT_EQ(reassembly.add(port, piece(hello, 0, 1000, flow), kNow + std::chrono::milliseconds(port)).step, HelloStep::kWaiting);
  }
  const FlowKey third{kFlow.client_ip, kFlow.server_ip, 3, 443};
  const auto refused = reassembly.add(3, piece(hello, 0, 1000, third), kNow);
  EXPECT_EQ(refused.step, HelloStep::kNoRoom);
  ASSERT_TRUE(refused.held);
  EXPECT_TRUE(reassembly.expire(kNow + 1s).empty());
  const auto expired = reassembly.expire(kNow + 1s + 1ms);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0]->key.client_port, 1);
  EXPECT_EQ(reassembly.waiting(), 1u);
  EXPECT_EQ(reassembly.expire(kNow + 1h).size(), 1u);
  EXPECT_TRUE(reassembly.empty());
}

TEST(TcpSegment, HeadersOptionsAndPayloadOfAnIpv4Packet) {
  std::vector<uint8_t> packet = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 7, 6, 0, 0, 198, 18, 0, 1, 198, 18, 4, 2};
  const std::vector<uint8_t> tcp = {0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 9, 0, 0, 0, 1, 0xa0, 0x02, 0xff, 0xff, 0, 0, 0, 0,
                                    2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6};
  packet.insert(packet.end(), tcp.begin(), tcp.end());   // 20 bytes of header, 20 of options
  packet.insert(packet.end(), {'h', 'i'});
  packet[3] = static_cast<uint8_t>(packet.size());
  const auto segment = parse_tcp_segment(packet);
  ASSERT_TRUE(segment);
  EXPECT_EQ(segment->client_flow(), (FlowKey{0xc6120001, 0xc6120402, 40000, 443}));
  EXPECT_EQ(segment->ttl, 7);
  EXPECT_EQ(segment->sequence, 9u);
  EXPECT_EQ(segment->flags, kTcpSyn);
  EXPECT_EQ(segment->options.mss, 1460);
  EXPECT_EQ(segment->options.window_scale, 7);
  EXPECT_TRUE(segment->options.sack);
  EXPECT_EQ(segment->options.tsval, 5u);
  EXPECT_EQ(segment->options.tsecr, 6u);
  EXPECT_EQ(std::string(segment->payload.begin(), segment->payload.end()), "hi");
  packet[3] = 30;   // the IP length cuts the TCP header
  EXPECT_FALSE(parse_tcp_segment(packet));
  packet[9] = 17;   // UDP
  EXPECT_FALSE(parse_tcp_segment(packet));
}

}  // namespace
}  // namespace mitmscope::lab
