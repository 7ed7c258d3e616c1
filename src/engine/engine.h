// The asynchronous handshake engine: thousands of TlsConnections in flight on one
// epoll loop, started no faster than a global rate and a per-address rate allow.
//
// ZGrab2's division of labour: the engine owns concurrency, timeouts and rate limits;
// what to probe next is decided by the caller, through callbacks, one request at a
// time, so memory is bounded by what is in flight and queued, never by the whole
// target list. epoll was chosen over Asio for this: the connection is already a
// state machine (TlsConnection), so a loop of ~150 lines drives it with nothing in
// between (bench/RESULTS.md has the figures).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/tls_connection.h"

namespace mitmscope {

struct EngineOptions {
  size_t concurrency = 1000;          // handshakes in flight at most
  double rate = 0;                    // new connections per second overall; 0: unlimited
  double host_rate = 5;               // new connections per second to one address
  const std::atomic<bool>* stop = nullptr;  // when set (a signal, run/run.h): run returns within one poll (50 ms)
};

struct ProbeRequest {
  Endpoint endpoint;
  std::string sni;
  uint64_t token = 0;                 // the caller's, handed back with the observation
  std::chrono::steady_clock::time_point not_before{};  // do not start earlier (stateful re-tests)
  ConnectionOptions connection;       // TTL, source port... (trace)
};

class Engine {
 public:
  using Clock = std::chrono::steady_clock;
  // Called when the engine can take more work; it submits requests and says whether it did,
  // whether it has more for later (it waits for answers), or has nothing more at all.
  enum class FeedResult { kSubmitted, kLater, kExhausted };
  using Feed = std::function<FeedResult()>;
  using Completion = std::function<void(uint64_t token, Observation observation)>;

  Engine(const TlsClientContext& context, EngineOptions options);
  ~Engine();

  void submit(ProbeRequest request);
  // Runs until the feed has nothing more, nothing is queued and nothing is in flight, or until stopped (stop(),
  // EngineOptions::stop): what is in flight is then dropped unanswered.
  void run(const Feed& feed, const Completion& completion);
  void stop() { stopping_ = true; }
  // Connections started from now on use `client` (it outlives them); the per-address clock is kept, so passes of one
  // engine with different clients (discover's strategies) still respect --host-rate between them.
  void use_client(const TlsClientContext& client) { context_ = &client; }

  size_t in_flight() const { return connections_.size(); }
  size_t queued() const { return ready_.size() + delayed_.size(); }
  uint64_t started() const { return started_; }

 private:
  struct Delayed {
    Clock::time_point when;
    uint64_t sequence;
    bool operator>(const Delayed& other) const { return when != other.when ? when > other.when : sequence > other.sequence; }
  };
  bool try_start(ProbeRequest& request, Clock::time_point& retry_at);
  void watch(TlsConnection& connection, bool add);
  void finish(int fd, const Completion& completion);

  const TlsClientContext* context_;
  EngineOptions options_;
  UniqueFd epoll_fd_;
  bool stopping_ = false;
  std::queue<ProbeRequest> ready_;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed_;
  std::unordered_map<uint64_t, ProbeRequest> delayed_requests_;
  uint64_t delayed_sequence_ = 0;
  std::unordered_map<int, std::unique_ptr<TlsConnection>> connections_;
  std::unordered_map<int, uint64_t> tokens_;
  std::unordered_map<std::string, Clock::time_point> host_next_;  // per address: earliest next start
  Clock::time_point global_next_{};
  uint64_t started_ = 0;
  size_t starts_since_prune_ = 0;
};

}  // namespace mitmscope
