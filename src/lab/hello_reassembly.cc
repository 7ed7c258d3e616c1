#include "lab/hello_reassembly.h"

#include "tls/client_hello.h"

namespace mitmscope::lab {
namespace {

void append(HeldHello& held, uint32_t id, const TcpSegment& segment) {
  held.ids.push_back(id);
  held.stream.insert(held.stream.end(), segment.payload.begin(), segment.payload.end());
  held.last = segment;
  held.last.payload = {};
}

}  // namespace

HelloOutcome HelloReassembly::add(uint32_t id, const TcpSegment& segment, Clock::time_point now) {
  const auto waiting = waiting_.find(segment.client_flow());
  if (waiting == waiting_.end()) return start(id, segment, now);
  HeldHello& held = *waiting->second;
  // Sequence numbers wrap: the signed distance tells before from after.
  const auto offset = static_cast<int32_t>(segment.sequence - held.next_sequence());
  if (offset < 0) return {.step = HelloStep::kRetransmission};
  if (offset > 0) return {.step = HelloStep::kOutOfOrder};
  append(held, id, segment);
  auto node = waiting_.extract(waiting);
  return collected(std::move(node.mapped()));
}

HelloOutcome HelloReassembly::start(uint32_t id, const TcpSegment& segment, Clock::time_point now) {
  auto held = std::make_unique<HeldHello>();
  held->key = segment.client_flow();
  held->sequence = segment.sequence;
  held->deadline = now + limits_.wait;
  append(*held, id, segment);
  return collected(std::move(held));
}

HelloOutcome HelloReassembly::collected(std::unique_ptr<HeldHello> held) {
  const auto extent = client_hello_extent(held->stream, limits_.max_bytes);
  switch (extent.progress) {
    case ClientHelloProgress::kComplete: {
      const bool reassembled = held->ids.size() > 1;
      return {.step = HelloStep::kComplete, .held = std::move(held), .reassembled = reassembled};
    }
    case ClientHelloProgress::kNotTls:
      return {.step = HelloStep::kNotClientHello, .held = std::move(held)};
    case ClientHelloProgress::kTooLarge:
      return {.step = HelloStep::kTooLarge, .held = std::move(held)};
    case ClientHelloProgress::kNeedMore:
      break;
  }
  if (waiting_.size() >= limits_.max_flows) return {.step = HelloStep::kNoRoom, .held = std::move(held)};
  const FlowKey key = held->key;
  waiting_.emplace(key, std::move(held));
  return {.step = HelloStep::kWaiting};
}

std::vector<std::unique_ptr<HeldHello>> HelloReassembly::expire(Clock::time_point now) {
  std::vector<std::unique_ptr<HeldHello>> expired;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second->deadline > now) {
      ++it;
      continue;
    }
    expired.push_back(std::move(it->second));
    it = waiting_.erase(it);
  }
  return expired;
}

}  // namespace mitmscope::lab
