#include "trace/icmp.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "core/byte_reader.h"

namespace mitmscope {
namespace {

// An IPv4 header at the reader: its protocol, source and destination; the reader is left after the header
// (options included).
struct Ipv4Header {
  uint8_t protocol = 0;
  uint32_t source = 0;
  uint32_t destination = 0;
};

std::optional<Ipv4Header> read_ipv4_header(ByteReader& reader) {
  const auto first = reader.peek();
  if (!first || (*first >> 4) != 4) return std::nullopt;
  const size_t length = size_t(*first & 0x0f) * 4;
  std::span<const uint8_t> bytes;
  if (length < 20 || !reader.bytes(length, bytes)) return std::nullopt;
  ByteReader header(bytes);
  Ipv4Header out;
  if (!header.skip(9) || !header.u8(out.protocol) || !header.skip(2) || !header.u32(out.source) ||
      !header.u32(out.destination)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<TimeExceeded> parse_time_exceeded(std::span<const uint8_t> packet) {
  constexpr uint8_t kIcmp = 1, kTimeExceeded = 11, kTtlExceededInTransit = 0;
  ByteReader reader(packet);
  const auto outer = read_ipv4_header(reader);
  uint8_t type = 0, code = 0;
  if (!outer || outer->protocol != kIcmp || !reader.u8(type) || !reader.u8(code) || type != kTimeExceeded ||
      code != kTtlExceededInTransit || !reader.skip(6)) {
    return std::nullopt;
  }
  const auto inner = read_ipv4_header(reader);
  TimeExceeded message;
  if (!inner || !reader.u16(message.source_port) || !reader.u16(message.destination_port) || !reader.u32(message.sequence)) {
    return std::nullopt;
  }
  message.router = outer->source;
  message.protocol = inner->protocol;
  message.original_source = inner->source;
  message.original_destination = inner->destination;
  return message;
}

namespace {
uint64_t flow_key(uint32_t destination, uint16_t destination_port, uint16_t source_port) {
  return uint64_t(destination) << 32 | uint64_t(destination_port) << 16 | source_port;
}
}  // namespace

Result<IcmpListener> IcmpListener::open() {
  UniqueFd fd(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP));
  if (!fd) {
    const int error = errno;
    return make_error(ErrorCode::kNetworkError,
                      fmt::format("raw ICMP socket: {}{}", std::strerror(error),
                                  error == EPERM || error == EACCES ? " (needs root or CAP_NET_RAW)" : ""));
  }
  // Parallel probes make bursts of ICMP: room for tens of thousands of messages.
  const int buffer = 8 << 20;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  IcmpListener listener;
  listener.fd_ = std::move(fd);
  return listener;
}

void IcmpListener::drain() {
  if (!fd_) return;
  const auto now = std::chrono::steady_clock::now();
  std::array<uint8_t, 1500> packet{};
  for (;;) {
    const ssize_t length = ::recv(fd_.get(), packet.data(), packet.size(), MSG_DONTWAIT);
    if (length < 0) break;
    const auto message = parse_time_exceeded(std::span(packet.data(), static_cast<size_t>(length)));
    if (!message || message->protocol != IPPROTO_TCP) continue;
    ++received_;
    seen_[flow_key(message->original_destination, message->destination_port, message->source_port)] =
        Seen{message->router, now};
  }
  if (seen_.size() > 65536) {
    std::erase_if(seen_, [now](const auto& entry) { return now - entry.second.when > std::chrono::minutes(1); });
  }
}

std::optional<uint32_t> IcmpListener::take(uint32_t destination, uint16_t destination_port, uint16_t source_port) {
  const auto found = seen_.find(flow_key(destination, destination_port, source_port));
  if (found == seen_.end()) return std::nullopt;
  const uint32_t router = found->second.router;
  seen_.erase(found);
  return router;
}

}  // namespace mitmscope
