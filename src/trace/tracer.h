// TTL-limited probing of many addresses at once, on the scan engine.
//
// A trace of one address is three series of probes, indexed by TTL:
//  - target: a normal TCP handshake, then the ClientHello with the target SNI sent with TTL k
//    (IP_TTL on the connected socket, restored afterwards);
//  - control: the same with an untargeted name;
//  - path: the TCP SYN itself sent with TTL k to another port of the address (80 by default),
//    which measures how far the address is without meeting a device that takes port 443.
// The TTLs of a series go out in windows (default 8 at once, each on its own connection), so
// a trace costs about one round trip per window plus the slowest answer, not one fixed wait
// per TTL; the next window is sent only when no TTL of this one was answered by the far end.
//
// Flows. Parallel probes cannot share one 5-tuple: their source ports differ, so a per-flow
// load balancer may send them along different equal-cost paths (Paris traceroute's lesson).
// Destination, port, protocol and source address stay fixed; the routers seen at each TTL are
// compared across the three series and the runs, and a TTL answered by several routers is
// reported. `paris` mode keeps one source port per series (bound explicitly, each probe closed
// with RST so the port is free again at once) and sends its TTLs one after another: one flow
// per series, exactly Paris traceroute's invariant, at one round trip per TTL.
//
// Silence is not an answer. A probe lost just below where a series ends would move the injection
// point (forged at k+1 after nothing at k), so those TTLs are probed again, up to `retries` more
// times each, as traceroute asks each hop more than once; every hop records its attempts.
//
// Routers come from a raw ICMP socket (IcmpListener) when the caller has one; without it a
// time-exceeded hop is still known to have expired, with its router address unknown.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "detect/chain_verdict.h"
#include "engine/engine.h"
#include "engine/targets.h"
#include "trace/icmp.h"
#include "trace/locate.h"

namespace mitmscope {

inline constexpr int kMaxTtl = 255;      // an IP TTL's largest value
inline constexpr int kMaxRetries = 10;   // further probes at one TTL, at most

struct TraceOptions {
  std::string sni;                 // the target name
  std::string control_sni;         // empty: a random untargeted name per address (seeded)
  uint64_t seed = 1;
  int first_ttl = 1;
  int max_ttl = 16;
  int window = 8;                  // TTLs of a series in flight at once
  int runs = 1;
  int retries = 2;                 // further probes at a TTL whose silence leaves the series' end open
  bool path_series = true;
  uint16_t path_port = 80;
  bool paris = false;
  size_t max_active = 0;           // addresses traced at once; 0: from the engine's concurrency
};

struct TraceRun {
  TraceSeries target, control, path;
  InjectionPoint point;
  double seconds = 0;
};

struct MultiRouterTtl {            // a TTL answered by more than one router (load balancing, route change)
  int ttl = 0;
  std::vector<std::string> routers;
};

struct TraceResult {
  HostTarget host;
  std::string sni, control_sni;
  std::vector<TraceRun> runs;
  InjectionPoint point;            // the answer most runs gave
  int agreeing_runs = 0;           // how many gave it
  std::vector<MultiRouterTtl> multi_router_ttls;
  bool routers_known = false;      // a raw ICMP socket was read
  uint64_t probes = 0;
  double seconds = 0;
};

// The consensus over runs and the TTLs answered by several routers (pure; tested).
void summarize_runs(TraceResult& result);

class Tracer {
 public:
  using Next = std::function<std::optional<HostTarget>()>;
  using Done = std::function<void(TraceResult)>;

  // `icmp` may be null (no raw socket): routers are then unknown.
  Tracer(const TlsClientContext& client, EngineOptions engine, TraceOptions options, AssessmentContext assessment,
         IcmpListener* icmp);
  ~Tracer();
  // Traces every address `next` gives, several at once; `done` gets each result as it completes.
  void run(const Next& next, const Done& done);
  uint64_t probes() const { return probes_; }

 private:
  struct Job;
  struct Series;
  void submit_probe(Engine& engine, uint64_t job_id, int series, int ttl);
  void submit_window(Engine& engine, uint64_t job_id, int series);
  bool plan_next_window(Series& series) const;
  void on_probe(uint64_t token, Observation observation, const Done& done);
  void start_run(Job& job, uint64_t job_id);
  void finish_run(Job& job);

  const TlsClientContext& client_;
  EngineOptions engine_options_;
  TraceOptions options_;
  AssessmentContext assessment_;
  IcmpListener* icmp_;
  uint64_t name_state_;
  uint64_t next_job_ = 1;
  uint64_t probes_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Job>> jobs_;
  std::vector<std::pair<uint64_t, int>> pending_;   // (job, series) windows to send
};

}  // namespace mitmscope
