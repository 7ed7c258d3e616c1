// `mitmscope trace ADDRESS[:PORT] --sni TARGET` and `mitmscope trace --hosts FILE --sni TARGET`:
// where on the path the forged certificate is injected (docs/CLI.md, "trace").
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "analyze/asn_map.h"
#include "cli/commands.h"
#include "run/run.h"
#include "cli/common.h"
#include "engine/targets.h"
#include "core/time.h"
#include "report/trace_output.h"
#include "store/store.h"
#include "trace/tracer.h"

namespace mitmscope::cli {
namespace {

struct TraceCliOptions {
  std::string address;
  std::string hosts;
  std::string sni;
  std::string control_sni;
  int runs = 1;
  int first_ttl = 1;
  int max_ttl = 16;
  int window = 8;
  int retries = 2;
  bool paris = false;
  bool no_path = false;
  uint16_t path_port = 80;
  bool json = false;
  std::string out;
  std::string summary;
  std::string store;
  std::string pfx2as;
  EngineCliOptions engine;
  TrustOptions trust;
};

StoredTrace stored_trace(int64_t run_id, const TraceResult& result, const std::string& json) {
  const auto& point = result.point;
  return {run_id, format_utc(now_utc()), result.host.endpoint.ip, result.host.endpoint.port, result.sni,
          std::string(injection_kind_name(point.kind)), point.injection_ttl.value_or(0),
          point.address_distance.value_or(0), point.router_before.value_or(""), point.router_after.value_or(""), json};
}

Result<void> check_trace_options(const TraceCliOptions& options) {
  if (options.address.empty() == options.hosts.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "trace: give one ADDRESS or --hosts FILE");
  }
  if (auto checked = check_server_name(options.sni); !checked) return std::unexpected(checked.error());
  if (!options.control_sni.empty()) {   // empty: a random untargeted name per address
    if (auto checked = check_server_name(options.control_sni); !checked) return std::unexpected(checked.error());
  }
  if (options.runs < 1 || options.runs > 100) return make_error(ErrorCode::kInvalidArgument, "--runs must be 1..100");
  if (options.first_ttl < 1 || options.max_ttl > 64 || options.first_ttl > options.max_ttl) {
    return make_error(ErrorCode::kInvalidArgument, "--first-ttl and --max-ttl must satisfy 1 <= first <= max <= 64");
  }
  if (options.window < 1 || options.window > 64) return make_error(ErrorCode::kInvalidArgument, "--window must be 1..64");
  if (options.retries < 0 || options.retries > kMaxRetries) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("--retries must be 0..{}", kMaxRetries));
  }
  return {};
}

TraceOptions trace_options(const TraceCliOptions& options, std::string sni) {
  return {.sni = std::move(sni), .control_sni = options.control_sni, .seed = options.engine.seed,
          .first_ttl = options.first_ttl, .max_ttl = options.max_ttl, .window = options.window, .runs = options.runs,
          .retries = options.retries, .path_series = !options.no_path, .path_port = options.path_port, .paris = options.paris};
}

// The hosts to trace: one address, or the file through the same policy and order as scan. IPv6 is skipped.
class TraceHosts {
 public:
  static Result<TraceHosts> open(const TraceCliOptions& options, TargetOptions targets) {
    TraceHosts hosts;
    if (options.address.empty()) {
      auto opened = HostList::open(options.hosts, std::move(targets));
      if (!opened) return std::unexpected(opened.error());
      hosts.list_.emplace(std::move(*opened));
      return hosts;
    }
    auto endpoint = parse_endpoint(options.address, 443);
    if (!endpoint) return std::unexpected(endpoint.error());
    auto allowed = check_address_policy(*endpoint, options.engine.allow_private);
    if (!allowed) return std::unexpected(allowed.error());
    if (targets.blocklist && targets.blocklist->contains(*allowed)) {
      return make_error(ErrorCode::kAddressRefused, fmt::format("{} is in the blocklist", allowed->ip));
    }
    hosts.single_ = HostTarget{*allowed, {}, 0};
    return hosts;
  }
  bool bulk() const { return list_.has_value(); }
  size_t expected() const { return list_ ? list_->shard_size() : 1; }
  std::vector<SkippedTarget> skipped() const { return list_ ? list_->skipped() : std::vector<SkippedTarget>{}; }
  size_t skipped_count() const { return list_ ? list_->skipped_count() : 0; }
  std::optional<HostTarget> next() {
    for (;;) {
      std::optional<HostTarget> host = list_ ? list_->next() : std::exchange(single_, std::nullopt);
      if (!host || host->endpoint.family == AF_INET) return host;
      fmt::print(stderr, "mitmscope: trace: {}: skipped: IPv6 is not traced yet (ICMPv6 time-exceeded is not read)\n",
                 host->endpoint.ip);
    }
  }

 private:
  std::optional<HostTarget> single_;
  std::optional<HostList> list_;
};

// The bulk ending: skipped lines, the aggregate (text or JSON, and --summary), the counts.
int finish_bulk(const TraceCliOptions& options, const TraceHosts& hosts, const TraceAggregate& aggregate,
                const std::string& counts) {
  print_skipped(options.hosts, hosts.skipped(), hosts.skipped_count());
  const auto summary = aggregate.json();
  if (options.json) {
    fmt::print("{}\n", nlohmann::ordered_json{{"aggregate", summary}}.dump());
  } else {
    fmt::print("{}", aggregate.text());
  }
  if (!options.summary.empty()) {
    std::ofstream file(options.summary);
    file << summary.dump(2) << "\n";
    if (!file) return report_error({ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", options.summary)});
  }
  fmt::print(stderr, "{}\n", counts);
  return kExitOk;
}

int single_exit(const std::optional<InjectionPoint>& point) {
  if (!point) return kExitProbeFailed;
  if (trace_found_interception(*point)) return kExitIntercepted;
  return point->kind == InjectionKind::kNone ? kExitOk : kExitProbeFailed;
}

std::optional<IcmpListener> open_icmp() {
  auto icmp = IcmpListener::open();
  if (icmp) return std::move(*icmp);
  fmt::print(stderr, "mitmscope: trace: {}; routers will be unknown, expired TTLs are still exact\n", icmp.error().message);
  return std::nullopt;
}

int run_trace(const TraceCliOptions& options) {
  if (auto checked = check_trace_options(options); !checked) return report_error(checked.error());
  const auto sni = check_server_name(options.sni);
  if (!sni) return report_error(sni.error());
  auto setup = load_active_setup({options.engine, options.trust, "", options.pfx2as});
  if (!setup) return report_error(setup.error());
  const TrustContext* trust = &setup->trust;
  auto hosts = TraceHosts::open(options, setup->targets);
  if (!hosts) return report_error(hosts.error());
  auto out = run::LineOutput::open(options.out);
  if (!out) return report_error(out.error());
  std::unique_ptr<Store> store;
  if (!options.store.empty()) {
    auto opened = open_store(options.store);
    if (!opened) return report_error(opened.error());
    store = std::move(*opened);
  }
  const bool bulk = hosts->bulk();
  const AsnMap* asn = setup->asn();
  // Traces go to the store in batches; after a store failure the output still gets every trace.
  run::Runner<StoredTrace> run(std::move(*out),
                               store ? run::Runner<StoredTrace>::Write(
                                           [&](std::span<const StoredTrace> rows) { return store->add_traces(rows); })
                                     : nullptr,
                               {.batch = 100, .expected = hosts->expected(), .progress = bulk && ::isatty(2)});
  EngineOptions engine = engine_options(options.engine);
  engine.stop = &run.stop_flag();
  auto icmp = open_icmp();
  Tracer tracer(setup->client, engine, trace_options(options, *sni), {trust->trust_store, trust->registry, trust->at},
                icmp ? &*icmp : nullptr);
  const int64_t run_id = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  TraceAggregate aggregate;
  std::optional<InjectionPoint> last_point;
  tracer.run([&] { return hosts->next(); }, [&](TraceResult result) {
    aggregate.add(result, asn);
    last_point = result.point;
    const bool stdout_json = options.json && !run.output().is_stdout();   // unless --out - already puts it there
    const bool rendered = run.output().active() || stdout_json || store;
    const auto json = rendered ? trace_result_json(result, asn) : nlohmann::ordered_json();
    const std::string line = rendered ? json.dump() : std::string();
    std::optional<StoredTrace> row;
    if (store) row = stored_trace(run_id, result, line);
    run.add(run.output().active() ? line : std::string(), std::move(row), trace_found_interception(result.point));
    if (stdout_json) fmt::print("{}\n", bulk ? line : json.dump(2));
    if (!bulk && !options.json) fmt::print("{}", trace_result_text(result, asn));
  });
  const run::RunEnd end = run.finish();
  if (end.store_error) return report_error(*end.store_error);
  if (end.interrupted) {
    fmt::print(stderr, "mitmscope: trace interrupted after {} hosts; they are written{}\n", end.results,
               store ? " and stored" : "");
    return kExitInterrupted;
  }
  if (!bulk) return single_exit(last_point);
  return finish_bulk(options, *hosts, aggregate,
                     fmt::format("trace: {} hosts, {} probes{}", end.results, tracer.probes(),
                                 icmp ? fmt::format(", {} ICMP time-exceeded read", icmp->received()) : std::string()));
}

}  // namespace

void register_trace(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<TraceCliOptions>();
  // A trace is a burst of about 3 x --window connections to one address: its own defaults.
  options->engine.host_rate = 100;
  options->engine.connect_timeout = 3;
  options->engine.handshake_timeout = 3;
  auto* command = app.add_subcommand(
      "trace", "TTL-limited ClientHellos: the hop where the forged certificate is injected (raw ICMP needs root)");
  command->add_option("address", options->address, "ADDRESS[:PORT] to trace (or --hosts)");
  command->add_option("--hosts", options->hosts, "Bulk: one IP[:PORT] per line, tag columns kept (ASnnn counts per AS)");
  command->add_option("--sni", options->sni, "The target name (one the interceptor takes)")->required();
  command->add_option("--control-sni", options->control_sni, "The control name (default: a random untargeted name)");
  command->add_option("--runs", options->runs, "Repeat the trace; the consistent answer is reported")->capture_default_str();
  command->add_option("--first-ttl", options->first_ttl, "First TTL probed")->capture_default_str();
  command->add_option("--max-ttl", options->max_ttl, "Last TTL probed")->capture_default_str();
  command->add_option("--window", options->window, "TTLs of a series sent at once")->capture_default_str();
  command->add_option("--retries", options->retries,
                      "Further probes at a TTL whose silence leaves open where a series ends")->capture_default_str();
  command->add_flag("--paris", options->paris,
                    "One flow per series (fixed source port), TTLs one after another: per-flow load balancers keep the path");
  command->add_flag("--no-path", options->no_path, "No TTL-limited SYN series (address distance unknown)");
  command->add_option("--path-port", options->path_port, "Port of the TTL-limited SYN series")->capture_default_str();
  command->add_option("--pfx2as", options->pfx2as, "Prefix-to-AS table (pfx2as text or MaxMind .mmdb): AS of routers and hosts");
  command->add_flag("--json", options->json, "JSON output (bulk: one line per host, then the aggregate)");
  command->add_option("--out", options->out, "Also write one JSON line per traced host to this file (- for stdout)");
  command->add_option("--summary", options->summary, "Bulk: write the aggregate as JSON to this file");
  command->add_option("--store", options->store, "Also store every trace (SQLite file or clickhouse://...) for report");
  add_engine_options(*command, options->engine);
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_trace(*options); }); });
}

}  // namespace mitmscope::cli
