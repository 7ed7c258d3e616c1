// ICMP time-exceeded messages, as a raw IPv4 ICMP socket receives them (IP header included),
// matched to the TCP segment that expired by the headers the router quotes back: the
// original destination, both ports and the sequence number (RFC 792 quotes the first 8
// bytes of the datagram, which for TCP are exactly the ports and the sequence number).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "core/error.h"
#include "core/unique_fd.h"

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

// A raw IPv4 ICMP socket (root or CAP_NET_RAW) that collects time-exceeded messages about
// TCP segments. The kernel hands a raw socket its copy of an ICMP message before TCP handles
// it, so when a TTL-limited probe has failed with EHOSTUNREACH (IP_RECVERR), its message is
// already queued here: drain() then take() finds the router. Bounded: messages not taken
// within a minute are forgotten.
class IcmpListener {
 public:
  // The error says why not (kAddressRefused is not it: kNetworkError with "needs root or CAP_NET_RAW").
  static Result<IcmpListener> open();
  IcmpListener(IcmpListener&& other) noexcept = default;
  IcmpListener& operator=(IcmpListener&& other) noexcept = default;

  void drain();   // reads everything queued, without blocking
  // The router that said the segment from `source_port` to destination:destination_port
  // expired (host order), once: the entry is consumed.
  std::optional<uint32_t> take(uint32_t destination, uint16_t destination_port, uint16_t source_port);
  uint64_t received() const { return received_; }   // time-exceeded messages about TCP

 private:
  IcmpListener() = default;
  struct Seen {
    uint32_t router;
    std::chrono::steady_clock::time_point when;
  };
  UniqueFd fd_;
  uint64_t received_ = 0;
  std::unordered_map<uint64_t, Seen> seen_;
};

}  // namespace mitmscope
