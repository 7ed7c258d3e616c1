// ICMP time-exceeded messages, as a raw IPv4 ICMP socket receives them (IP header included),
// matched to the TCP segment that expired by the headers the router quotes back: the
// original destination, both ports and the sequence number (RFC 792 quotes the first 8
// bytes of the datagram, which for TCP are exactly the ports and the sequence number).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace mitmscope {

struct TimeExceeded {
  uint32_t router = 0;                 // the sender of the ICMP message (host order)
  uint32_t original_source = 0;        // the expired datagram's addresses (host order)
  uint32_t original_destination = 0;
  uint8_t protocol = 0;                // 6 for TCP
  uint16_t source_port = 0;            // TCP ports and sequence from the quoted header
  uint16_t destination_port = 0;
  uint32_t sequence = 0;
};

// nullopt for anything else (other ICMP types, truncated or malformed packets).
std::optional<TimeExceeded> parse_time_exceeded(std::span<const uint8_t> packet);

}  // namespace mitmscope
