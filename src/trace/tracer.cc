#include "trace/tracer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include <fmt/format.h>

#include "detect/host_template.h"
#include "engine/request_token.h"

namespace mitmscope {
namespace {

enum SeriesIndex : int { kTarget = 0, kControl = 1, kPath = 2 };

// (address job, series, TTL).
using ProbeToken = TokenLayout<54, 2, 8>;

uint64_t make_token(uint64_t job, int series, int ttl) {
  return ProbeToken::pack({job, static_cast<uint64_t>(series), static_cast<uint64_t>(ttl)}).value();   // TTL <= 255
}

std::string ipv4_text(uint32_t address) {
  in_addr raw{htonl(address)};
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &raw, text, sizeof text);
  return text;
}

std::optional<uint32_t> ipv4_value(const std::string& text) {
  in_addr raw{};
  if (::inet_pton(AF_INET, text.c_str(), &raw) != 1) return std::nullopt;
  return ntohl(raw.s_addr);
}

// What came back to one TTL-limited probe, before forged/genuine is decided.
HopResult classify(const Observation& observation, int series, const AssessmentContext& assessment) {
  HopResult hop;
  hop.ttl = observation.ttl.value_or(0);
  hop.source_port = observation.source_port;
  hop.milliseconds = observation.timings.total_ms.value_or(0);
  const auto code = observation.error ? std::optional(observation.error->code) : std::nullopt;
  if (code == ErrorCode::kTtlExpired) {
    hop.outcome = HopOutcome::kTimeExceeded;
    return hop;
  }
  if (series == kPath) {
    if (!code) {
      hop.outcome = HopOutcome::kReached;
      hop.detail = "TCP handshake completed";
    } else if (code == ErrorCode::kConnectionRefused) {
      hop.outcome = HopOutcome::kReached;
      hop.detail = "refused (RST from the address)";
    } else if (code == ErrorCode::kConnectTimeout) {
      hop.outcome = HopOutcome::kSilence;
    } else {
      hop.outcome = HopOutcome::kError;
      hop.detail = observation.error->message;
    }
    return hop;
  }
  if (!observation.chain_der.empty()) {
    const auto assessed = assess_observation(observation, assessment);
    hop.outcome = HopOutcome::kGenuine;   // forged or not is decided against the control's answer
    hop.verdict = std::string(verdict_name(assessed.verdict.kind));
    if (!assessed.chain.empty()) hop.leaf_sha256 = assessed.chain.front().sha256_hex();
    if (assessed.verdict.known_interceptor) hop.interceptor = assessed.verdict.known_interceptor->id;
    return hop;
  }
  if (!code) {
    hop.outcome = HopOutcome::kGenuine;
    hop.detail = "handshake completed without a certificate";
    return hop;
  }
  hop.detail = observation.error->message;
  switch (*code) {
    case ErrorCode::kConnectionReset: hop.outcome = HopOutcome::kReset; break;
    case ErrorCode::kClosedDuringHandshake: hop.outcome = HopOutcome::kClosed; break;
    case ErrorCode::kTlsAlert: hop.outcome = HopOutcome::kAlert; break;
    case ErrorCode::kNotTls: hop.outcome = HopOutcome::kNotTls; break;
    case ErrorCode::kHandshakeTimeout: hop.outcome = HopOutcome::kSilence; break;
    case ErrorCode::kConnectTimeout:
    case ErrorCode::kConnectionRefused:
      hop.outcome = HopOutcome::kError;
      hop.detail = "the TCP handshake (sent with the normal TTL) failed: " + observation.error->message;
      break;
    default: hop.outcome = HopOutcome::kError; break;
  }
  return hop;
}

// A TLS answer is forged when it is attributed to a known interceptor, or when it is not
// browser-trusted for the name and is not the certificate the control gets at the far end. An
// untrusted chain is never genuine for lack of a control certificate (a device that answers the
// control with an HTTP error still forged the target's).
void decide_forged(TraceSeries& series, const std::string& control_leaf) {
  for (auto& hop : series) {
    if (hop.leaf_sha256.empty()) continue;
    if (!hop.interceptor.empty() || hop.verdict == "intercepted") {
      hop.outcome = HopOutcome::kForged;
      hop.detail = "chain of a known interceptor" + (hop.interceptor.empty() ? "" : " (" + hop.interceptor + ")");
    } else if (hop.verdict == "clean" || hop.leaf_sha256 == control_leaf) {
      hop.outcome = HopOutcome::kGenuine;
      hop.detail = hop.verdict == "clean" ? "browser-trusted for the name" : "the certificate the control SNI gets too";
    } else {
      hop.outcome = HopOutcome::kForged;
      hop.detail = control_leaf.empty() ? "not trusted for the name; the control got no certificate to compare with"
                                        : "not trusted for the name, and not the certificate the control SNI gets";
    }
  }
}

}  // namespace

struct Tracer::Series {
  TraceSeries hops;
  int next_ttl = 1;
  int outstanding = 0;
  bool done = false;
  uint16_t paris_port = 0;
  std::array<uint8_t, kMaxTtl + 1> attempts{};   // probes sent per TTL (at most 1 + kMaxRetries each)
  std::vector<int> retry_ttls;      // unsettled silences to probe again
};

struct Tracer::Job {
  HostTarget host;
  std::string control_sni;
  int run = 0;
  std::array<Series, 3> series;
  std::vector<TraceRun> runs;
  TlsConnection::Clock::time_point started, run_started;
  uint64_t probes = 0;
};

Tracer::Tracer(const TlsClientContext& client, EngineOptions engine, TraceOptions options, AssessmentContext assessment,
               IcmpListener* icmp)
    : client_(client), engine_options_(engine), options_(std::move(options)), assessment_(assessment), icmp_(icmp),
      name_state_(options_.seed ^ 0x7472616365ULL) {
  options_.first_ttl = std::clamp(options_.first_ttl, 1, kMaxTtl);
  options_.max_ttl = std::clamp(options_.max_ttl, options_.first_ttl, kMaxTtl);
  options_.retries = std::clamp(options_.retries, 0, kMaxRetries);
  options_.window = options_.paris ? 1 : std::max(1, options_.window);
  options_.runs = std::max(1, options_.runs);
}

Tracer::~Tracer() = default;

void Tracer::start_run(Job& job, uint64_t job_id) {
  job.run_started = TlsConnection::Clock::now();
  for (int s = 0; s < 3; ++s) {
    auto& series = job.series[s];
    series = Series{};
    series.next_ttl = options_.first_ttl;
    series.done = s == kPath && !options_.path_series;
    if (!series.done) pending_.emplace_back(job_id, s);
  }
}

void Tracer::submit_probe(Engine& engine, uint64_t job_id, int s, int ttl) {
  auto& job = *jobs_.at(job_id);
  auto& series = job.series[s];
  ProbeRequest request;
  request.endpoint = job.host.endpoint;
  request.token = make_token(job_id, s, ttl);
  request.connection.ttl = ttl;
  request.connection.reset_on_close = options_.paris;
  request.connection.source_port = options_.paris ? series.paris_port : 0;
  if (s == kPath) {
    request.endpoint.port = options_.path_port;
    if (request.endpoint.family == AF_INET6) {
      reinterpret_cast<sockaddr_in6*>(&request.endpoint.address)->sin6_port = htons(options_.path_port);
    } else {
      reinterpret_cast<sockaddr_in*>(&request.endpoint.address)->sin_port = htons(options_.path_port);
    }
    request.connection.ttl_on_connect = true;
    request.connection.connect_only = true;
  } else {
    request.sni = s == kTarget ? options_.sni : job.control_sni;
  }
  ++series.outstanding;
  ++series.attempts[ttl];
  ++job.probes;
  ++probes_;
  engine.submit(std::move(request));
}

// The series' next window: its probes again at the silences that leave its end open (one at a
// time in Paris mode, where every probe uses the series' one source port), else the next TTLs.
void Tracer::submit_window(Engine& engine, uint64_t job_id, int s) {
  auto& series = jobs_.at(job_id)->series[s];
  if (!series.retry_ttls.empty()) {
    const size_t count = options_.paris ? 1 : series.retry_ttls.size();
    for (size_t i = 0; i < count; ++i) {
      const int ttl = series.retry_ttls.back();
      series.retry_ttls.pop_back();
      submit_probe(engine, job_id, s, ttl);
    }
    return;
  }
  const int last = std::min(options_.max_ttl, series.next_ttl + options_.window - 1);
  for (int ttl = series.next_ttl; ttl <= last; ++ttl) submit_probe(engine, job_id, s, ttl);
  series.next_ttl = last + 1;
}

// Whether a series whose probes have all come back needs another window: the next TTLs while
// nothing answered, or a probe again at each unsettled silence that still has tries left (those
// TTLs go to retry_ttls, and their silent hops leave the series until the new answer comes).
bool Tracer::plan_next_window(Series& series) const {
  if (!series.retry_ttls.empty()) return true;
  const bool answered = std::ranges::any_of(series.hops, [](const HopResult& h) { return hop_terminates(h.outcome); });
  if (!answered) return series.next_ttl <= options_.max_ttl;
  for (const int ttl : unsettled_silences(series.hops)) {
    if (series.attempts[ttl] <= options_.retries) series.retry_ttls.push_back(ttl);
  }
  std::erase_if(series.hops, [&](const HopResult& hop) { return std::ranges::find(series.retry_ttls, hop.ttl) != series.retry_ttls.end(); });
  return !series.retry_ttls.empty();
}

void Tracer::on_probe(uint64_t token, Observation observation, const Done& done) {
  const auto fields = ProbeToken::unpack(token);
  const uint64_t job_id = fields[0];
  const auto s = static_cast<int>(fields[1]);
  const auto ttl = static_cast<int>(fields[2]);
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return;
  Job& job = *found->second;
  auto& series = job.series[s];
  --series.outstanding;

  observation.ttl = ttl;
  HopResult hop = classify(observation, s, assessment_);
  if (hop.outcome == HopOutcome::kTimeExceeded) {
    if (icmp_ == nullptr) {
      hop.detail = "router unknown: no raw ICMP socket (needs root or CAP_NET_RAW)";
    } else {
      icmp_->drain();
      const auto destination = ipv4_value(observation.ip);
      const auto router = destination ? icmp_->take(*destination, observation.port, observation.source_port)
                                      : std::nullopt;
      if (router) {
        hop.router = ipv4_text(*router);
      } else {
        hop.detail = destination ? "router unknown: no ICMP message matched this probe"
                                 : "router unknown: IPv6 time-exceeded is not read yet";
      }
    }
  }
  if (options_.paris && series.paris_port == 0) series.paris_port = observation.source_port;
  hop.attempts = series.attempts[ttl];
  series.hops.push_back(std::move(hop));

  if (series.outstanding > 0) return;
  if (plan_next_window(series)) {
    pending_.emplace_back(job_id, s);
    return;
  }
  series.done = true;
  if (!std::ranges::all_of(job.series, [](const Series& one) { return one.done; })) return;

  finish_run(job);
  if (job.run < options_.runs) {
    start_run(job, job_id);
    return;
  }
  TraceResult result;
  result.host = std::move(job.host);
  result.sni = options_.sni;
  result.control_sni = job.control_sni;
  result.runs = std::move(job.runs);
  result.routers_known = icmp_ != nullptr;
  result.probes = job.probes;
  result.seconds = std::chrono::duration<double>(TlsConnection::Clock::now() - job.started).count();
  summarize_runs(result);
  jobs_.erase(found);
  done(std::move(result));
}

void Tracer::finish_run(Job& job) {
  TraceRun run;
  for (auto& series : job.series) {
    std::ranges::sort(series.hops, {}, &HopResult::ttl);
  }
  run.target = std::move(job.series[kTarget].hops);
  run.control = std::move(job.series[kControl].hops);
  run.path = std::move(job.series[kPath].hops);
  std::string control_leaf;
  for (const auto& hop : run.control) {
    if (hop_terminates(hop.outcome)) {
      control_leaf = hop.leaf_sha256;
      break;
    }
  }
  decide_forged(run.target, control_leaf);
  decide_forged(run.control, control_leaf);
  run.point = locate_injection(run.target, run.control, run.path);
  run.seconds = std::chrono::duration<double>(TlsConnection::Clock::now() - job.run_started).count();
  job.runs.push_back(std::move(run));
  ++job.run;
}

void Tracer::run(const Next& next, const Done& done) {
  Engine engine(client_, engine_options_);
  const size_t per_address = size_t(options_.window) * 3;
  const size_t max_active =
      options_.max_active ? options_.max_active : std::max<size_t>(1, engine_options_.concurrency / per_address);
  bool targets_exhausted = false;
  const Engine::Feed feed = [&]() -> Engine::FeedResult {
    for (;;) {
      if (!pending_.empty()) {
        const auto [job_id, s] = pending_.back();
        pending_.pop_back();
        submit_window(engine, job_id, s);
        return Engine::FeedResult::kSubmitted;
      }
      if (!targets_exhausted && jobs_.size() < max_active) {
        auto host = next();
        if (!host) {
          targets_exhausted = true;
          continue;
        }
        const uint64_t job_id = next_job_++;
        auto job = std::make_unique<Job>();
        job->host = std::move(*host);
        job->control_sni = options_.control_sni.empty() ? random_control_name(name_state_) : options_.control_sni;
        job->started = TlsConnection::Clock::now();
        auto& stored = *jobs_.emplace(job_id, std::move(job)).first->second;
        start_run(stored, job_id);
        continue;
      }
      return jobs_.empty() && targets_exhausted ? Engine::FeedResult::kExhausted : Engine::FeedResult::kLater;
    }
  };
  engine.run(feed, [&](uint64_t token, Observation observation) { on_probe(token, std::move(observation), done); });
}

void summarize_runs(TraceResult& result) {
  // The consensus: the (kind, injection TTL, routers) answer most runs gave; the first such run's point.
  std::map<std::tuple<int, int, std::string, std::string>, int> counts;
  auto key = [](const InjectionPoint& point) {
    return std::tuple(static_cast<int>(point.kind), point.injection_ttl.value_or(0), point.router_before.value_or(""),
                      point.router_after.value_or(""));
  };
  for (const auto& run : result.runs) ++counts[key(run.point)];
  int best = 0;
  for (const auto& run : result.runs) {
    const int count = counts[key(run.point)];
    if (count > best) {
      best = count;
      result.point = run.point;
    }
  }
  result.agreeing_runs = best;
  // Routers per TTL over every series and run.
  std::map<int, std::set<std::string>> routers;
  for (const auto& run : result.runs) {
    for (const auto* series : {&run.target, &run.control, &run.path}) {
      for (const auto& hop : *series) {
        if (hop.router) routers[hop.ttl].insert(*hop.router);
      }
    }
  }
  result.multi_router_ttls.clear();
  for (const auto& [ttl, set] : routers) {
    if (set.size() > 1) result.multi_router_ttls.push_back({ttl, {set.begin(), set.end()}});
  }
}

}  // namespace mitmscope
