// libFuzzer: what a hostile client controls at a sentinel: the ClientHello parser, the extent check a
// reassembler relies on, JA3/JA4 and the TLS library of whatever parses, and the capture reassembler on the same bytes, once
// as a raw IP packet and once as a TCP stream cut into two segments, delivered in reverse order.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sentinel/capture.h"
#include "tls/client_fingerprint.h"
#include "tls/client_hello.h"
#include "tls/tls_library.h"

namespace {

std::vector<uint8_t> ipv4_tcp(std::span<const uint8_t> payload, uint32_t sequence, uint8_t flags) {
  std::vector<uint8_t> packet = {0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1,
                                 0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0};
  const size_t total = packet.size() + payload.size();
  packet[2] = static_cast<uint8_t>(total >> 8);
  packet[3] = static_cast<uint8_t>(total);
  for (int i = 0; i < 4; ++i) packet[24 + i] = static_cast<uint8_t>(sequence >> (24 - 8 * i));
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  (void)mitmscope::client_hello_extent(bytes, 4096);
  if (auto hello = mitmscope::parse_client_hello(bytes)) {
    (void)mitmscope::ja3(*hello);
    (void)mitmscope::ja4(*hello);
    (void)mitmscope::tls_library_of(*hello);
  }
  mitmscope::CaptureOptions options;
  options.max_hello_bytes = 4096;
  mitmscope::HelloReassembler reassembler(options, "fuzz");
  const auto now = std::chrono::system_clock::now();
  (void)reassembler.add_ip_packet(bytes, now);
  if (size > 0 && size < 60000) {
    const size_t cut = data[0] % (size + 1);
    (void)reassembler.add_ip_packet(ipv4_tcp({}, 1000, 0x02), now);
    (void)reassembler.add_ip_packet(ipv4_tcp(bytes.subspan(cut), static_cast<uint32_t>(1001 + cut), 0x10), now);
    if (auto visit = reassembler.add_ip_packet(ipv4_tcp(bytes.first(cut), 1001, 0x10), now)) (void)mitmscope::ja4(visit->hello);
  }
  return 0;
}
