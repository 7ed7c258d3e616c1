#include "trace/icmp.h"

namespace mitmscope {
namespace {

uint16_t read16(std::span<const uint8_t> bytes, size_t offset) {
  return static_cast<uint16_t>(bytes[offset] << 8 | bytes[offset + 1]);
}

uint32_t read32(std::span<const uint8_t> bytes, size_t offset) {
  return uint32_t(bytes[offset]) << 24 | uint32_t(bytes[offset + 1]) << 16 | uint32_t(bytes[offset + 2]) << 8 |
         uint32_t(bytes[offset + 3]);
}

// The length of an IPv4 header at `offset`, or 0 when there is none.
size_t ipv4_header_length(std::span<const uint8_t> bytes, size_t offset) {
  if (bytes.size() < offset + 20 || (bytes[offset] >> 4) != 4) return 0;
  const size_t length = size_t(bytes[offset] & 0x0f) * 4;
  if (length < 20 || bytes.size() < offset + length) return 0;
  return length;
}

}  // namespace

std::optional<TimeExceeded> parse_time_exceeded(std::span<const uint8_t> packet) {
  constexpr uint8_t kIcmp = 1, kTimeExceeded = 11, kTtlExceededInTransit = 0;
  const size_t outer = ipv4_header_length(packet, 0);
  if (outer == 0 || packet[9] != kIcmp) return std::nullopt;
  if (packet.size() < outer + 8 || packet[outer] != kTimeExceeded || packet[outer + 1] != kTtlExceededInTransit) {
    return std::nullopt;
  }
  const size_t quoted = outer + 8;
  const size_t inner = ipv4_header_length(packet, quoted);
  if (inner == 0 || packet.size() < quoted + inner + 8) return std::nullopt;
  TimeExceeded message;
  message.router = read32(packet, 12);
  message.protocol = packet[quoted + 9];
  message.original_source = read32(packet, quoted + 12);
  message.original_destination = read32(packet, quoted + 16);
  const size_t transport = quoted + inner;
  message.source_port = read16(packet, transport);
  message.destination_port = read16(packet, transport + 2);
  message.sequence = read32(packet, transport + 4);
  return message;
}

}  // namespace mitmscope
