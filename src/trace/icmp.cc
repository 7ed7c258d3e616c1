#include "trace/icmp.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

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

namespace {
uint64_t flow_key(uint32_t destination, uint16_t destination_port, uint16_t source_port) {
  return uint64_t(destination) << 32 | uint64_t(destination_port) << 16 | source_port;
}
}  // namespace

Result<IcmpListener> IcmpListener::open() {
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) {
    const int error = errno;
    return make_error(ErrorCode::kNetworkError,
                      fmt::format("raw ICMP socket: {}{}", std::strerror(error),
                                  error == EPERM || error == EACCES ? " (needs root or CAP_NET_RAW)" : ""));
  }
  // Parallel probes make bursts of ICMP: room for tens of thousands of messages.
  const int buffer = 8 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  IcmpListener listener;
  listener.fd_ = fd;
  return listener;
}

IcmpListener::IcmpListener(IcmpListener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), received_(other.received_), seen_(std::move(other.seen_)) {}

IcmpListener& IcmpListener::operator=(IcmpListener&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    received_ = other.received_;
    seen_ = std::move(other.seen_);
  }
  return *this;
}

IcmpListener::~IcmpListener() {
  if (fd_ >= 0) ::close(fd_);
}

void IcmpListener::drain() {
  if (fd_ < 0) return;
  const auto now = std::chrono::steady_clock::now();
  std::array<uint8_t, 1500> packet{};
  for (;;) {
    const ssize_t length = ::recv(fd_, packet.data(), packet.size(), MSG_DONTWAIT);
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
