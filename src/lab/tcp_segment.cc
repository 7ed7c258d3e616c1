#include "lab/tcp_segment.h"

#include <netinet/in.h>

#include <algorithm>

namespace mitmscope::lab {
namespace {

constexpr size_t kMinimumHeader = 20;   // IPv4 and TCP alike
constexpr uint8_t kOptionEnd = 0, kOptionNop = 1, kOptionMss = 2, kOptionWindowScale = 3;
constexpr uint8_t kOptionSackPermitted = 4, kOptionTimestamps = 8;

uint16_t read16(const uint8_t* data) { return static_cast<uint16_t>(data[0] << 8 | data[1]); }
uint32_t read32(const uint8_t* data) {
  return uint32_t(data[0]) << 24 | uint32_t(data[1]) << 16 | uint32_t(data[2]) << 8 | data[3];
}

// The options between the fixed TCP header and the payload; a malformed one ends the list.
TcpOptions parse_options(std::span<const uint8_t> options) {
  TcpOptions parsed;
  for (size_t offset = 0; offset < options.size();) {
    const uint8_t kind = options[offset];
    if (kind == kOptionEnd) break;
    if (kind == kOptionNop) {
      ++offset;
      continue;
    }
    if (offset + 1 >= options.size()) break;
    const uint8_t length = options[offset + 1];
    if (length < 2 || offset + length > options.size()) break;
    const uint8_t* value = options.data() + offset + 2;
    if (kind == kOptionMss && length == 4) parsed.mss = read16(value);
    if (kind == kOptionWindowScale && length == 3) parsed.window_scale = value[0];
    if (kind == kOptionSackPermitted) parsed.sack = true;
    if (kind == kOptionTimestamps && length == 10) {
      parsed.timestamps = true;
      parsed.tsval = read32(value);
      parsed.tsecr = read32(value + 4);
    }
    offset += length;
  }
  return parsed;
}

}  // namespace

std::optional<TcpSegment> parse_tcp_segment(std::span<const uint8_t> packet) {
  if (packet.size() < kMinimumHeader || (packet[0] >> 4) != 4 || packet[9] != IPPROTO_TCP) return std::nullopt;
  const size_t ip_length = (packet[0] & 0x0f) * 4u;
  const size_t total = std::min<size_t>(packet.size(), read16(&packet[2]));
  if (ip_length < kMinimumHeader || total < ip_length + kMinimumHeader) return std::nullopt;
  const uint8_t* tcp = &packet[ip_length];
  const size_t tcp_length = (tcp[12] >> 4) * 4u;
  if (tcp_length < kMinimumHeader || ip_length + tcp_length > total) return std::nullopt;
  TcpSegment segment;
  segment.ttl = packet[8];
  segment.source_ip = read32(&packet[12]);
  segment.destination_ip = read32(&packet[16]);
  segment.source_port = read16(tcp);
  segment.destination_port = read16(tcp + 2);
  segment.sequence = read32(tcp + 4);
  segment.acknowledgment = read32(tcp + 8);
  segment.flags = tcp[13];
  segment.window = read16(tcp + 14);
  segment.options = parse_options(packet.subspan(ip_length + kMinimumHeader, tcp_length - kMinimumHeader));
  segment.options.window = segment.window;
  segment.payload = packet.subspan(ip_length + tcp_length, total - ip_length - tcp_length);
  return segment;
}

}  // namespace mitmscope::lab
