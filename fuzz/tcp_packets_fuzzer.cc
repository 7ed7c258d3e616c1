// libFuzzer: what the lab's in-path device reads off the wire before it decides (issue 21): queued packets parsed
// as IPv4/TCP (lab/tcp_segment) and their payloads reassembled into a ClientHello (lab/hello_reassembly), bounded
// and in sequence order. The input is a series of packets, each preceded by its length (two bytes, big-endian);
// time moves a second per packet, so deadlines expire too.
#include <cstddef>
#include <cstdint>
#include <span>

#include "lab/hello_reassembly.h"
#include "lab/tcp_segment.h"
#include "tls/client_hello.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mitmscope::lab;
  HelloReassembly reassembly({.max_flows = 4, .max_bytes = 8192, .wait = std::chrono::seconds(2)});
  Clock::time_point now{};
  uint32_t id = 0;
  for (size_t offset = 0; offset + 2 <= size;) {
    const size_t length = size_t(data[offset]) << 8 | data[offset + 1];
    offset += 2;
    const std::span<const uint8_t> packet(data + offset, std::min(length, size - offset));
    offset += packet.size();
    now += std::chrono::seconds(1);
    (void)reassembly.expire(now);
    const auto segment = parse_tcp_segment(packet);
    if (!segment || segment->payload.empty()) continue;
    const auto outcome = reassembly.add(++id, *segment, now);
    if (outcome.step == HelloStep::kComplete) (void)mitmscope::parse_client_hello(outcome.held->stream);
  }
  return 0;
}
