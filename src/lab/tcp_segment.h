// The IPv4/TCP facts an in-path device reads off a queued packet: the flow it belongs to, its
// sequence numbers and flags, the options of a SYN or SYN-ACK, and its payload. Pure parsing,
// no state; a packet that is not IPv4/TCP, or whose headers do not fit, parses to nothing.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <span>

namespace mitmscope::lab {

// A flow, seen from its client: the client's and the server's address and port.
struct FlowKey {
  uint32_t client_ip = 0, server_ip = 0;
  uint16_t client_port = 0, server_port = 0;
  auto operator<=>(const FlowKey&) const = default;
};

// What one end announced in its SYN (or SYN-ACK), and its window.
struct TcpOptions {
  uint16_t mss = 536;
  int window_scale = -1;
  bool sack = false;
  bool timestamps = false;
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  uint16_t window = 0;
};

inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpAck = 0x10;

struct TcpSegment {
  uint32_t source_ip = 0, destination_ip = 0;
  uint16_t source_port = 0, destination_port = 0;
  uint32_t sequence = 0, acknowledgment = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint8_t ttl = 0;
  TcpOptions options;
  std::span<const uint8_t> payload;   // a view into the packet

  // The flow of a segment the client sent.
  FlowKey client_flow() const { return {source_ip, destination_ip, source_port, destination_port}; }
};

std::optional<TcpSegment> parse_tcp_segment(std::span<const uint8_t> packet);

}  // namespace mitmscope::lab
