// Reassembly of a ClientHello that spans TCP segments, as an in-path device must do before it
// can read the SNI: Chromium's post-quantum key share (X25519MLKEM768) makes its ClientHello over
// 1,500 bytes, and the SNI falls in the first or the second segment at random (it orders its
// extensions at random). A device that reads the first segment only misses about half of them.
//
// The device holds each flow's segments, in sequence order, until they hold a whole ClientHello;
// then it decides on the whole. A copy of a held segment (the client retransmits while it
// waits) and a segment after a missing one are dropped, not held. Bounded: at most `max_flows`
// flows wait at once, a ClientHello over `max_bytes` is not buffered, and a flow whose rest does
// not come before its deadline is let go. Pure: no sockets, no clock of its own.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <vector>

#include "lab/tcp_segment.h"

namespace mitmscope::lab {

using Clock = std::chrono::steady_clock;

// A ClientHello held while the device decides: the queued packets that carry it, in order.
struct HeldHello {
  FlowKey key;
  std::vector<uint32_t> ids;            // the packets' queue ids, for their verdicts
  std::vector<uint8_t> stream;          // their payloads, joined
  uint32_t sequence = 0;                // of the stream's first byte
  TcpSegment last;                      // the latest segment's headers (its payload is not kept)
  Clock::time_point deadline;
  // The options the flow's SYN and SYN-ACK announced (filled by the device when it takes over).
  TcpOptions client_options, server_options;

  uint32_t next_sequence() const { return sequence + static_cast<uint32_t>(stream.size()); }
};

enum class HelloStep {
  kComplete,        // `held` holds a whole ClientHello: decide on it
  kWaiting,         // held; the rest is to come
  kNotClientHello,  // `held` is something else: let it pass
  kTooLarge,        // `held` would exceed the limit: let it pass
  kNoRoom,          // `held` needs more, but `max_flows` already wait: let it pass
  kRetransmission,  // drop this packet: a copy of bytes already held
  kOutOfOrder,      // drop this packet: it comes after a missing segment
};

struct HelloOutcome {
  HelloStep step = HelloStep::kWaiting;
  std::unique_ptr<HeldHello> held;      // for kComplete, kNotClientHello, kTooLarge, kNoRoom
  bool reassembled = false;             // kComplete from more than one segment
};

struct ReassemblyLimits {
  size_t max_flows = 4096;
  size_t max_bytes = 64 * 1024;
  Clock::duration wait = std::chrono::seconds(1);
};

class HelloReassembly {
 public:
  explicit HelloReassembly(ReassemblyLimits limits = {}) : limits_(limits) {}

  // A segment with payload from a flow the device has not decided yet; `id` is its queue id.
  HelloOutcome add(uint32_t id, const TcpSegment& segment, Clock::time_point now);
  // The flows whose deadline has passed, no longer held.
  std::vector<std::unique_ptr<HeldHello>> expire(Clock::time_point now);
  bool empty() const { return waiting_.empty(); }
  size_t waiting() const { return waiting_.size(); }

 private:
  HelloOutcome start(uint32_t id, const TcpSegment& segment, Clock::time_point now);
  HelloOutcome collected(std::unique_ptr<HeldHello> held);

  ReassemblyLimits limits_;
  std::map<FlowKey, std::unique_ptr<HeldHello>> waiting_;
};

}  // namespace mitmscope::lab
