// `mitmscope trace ADDRESS[:PORT] --sni TARGET` and `mitmscope trace --hosts FILE --sni TARGET`:
// where on the path the forged certificate is injected (docs/CLI.md, "trace").
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
#include "core/unique_fd.h"
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

int run_trace(TraceCliOptions options) {
  if (options.address.empty() == options.hosts.empty()) {
    return report_error({ErrorCode::kInvalidArgument, "trace: give one ADDRESS or --hosts FILE"});
  }
  auto sni = check_server_name(options.sni);
  if (!sni) return report_error(sni.error());
  if (!options.control_sni.empty()) {
    auto control = check_server_name(options.control_sni);
    if (!control) return report_error(control.error());
  }
  if (options.runs < 1 || options.runs > 100) return report_error({ErrorCode::kInvalidArgument, "--runs must be 1..100"});
  if (options.first_ttl < 1 || options.max_ttl > 64 || options.first_ttl > options.max_ttl) {
    return report_error({ErrorCode::kInvalidArgument, "--first-ttl and --max-ttl must satisfy 1 <= first <= max <= 64"});
  }
  if (options.window < 1 || options.window > 64) return report_error({ErrorCode::kInvalidArgument, "--window must be 1..64"});
  auto targets = make_target_options(options.engine);
  if (!targets) return report_error(targets.error());
  auto asn_map = load_asn_map(options.pfx2as);
  if (!asn_map) return report_error(asn_map.error());
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  auto client = make_client_context(options.engine);
  if (!client) return report_error(client.error());

  // The hosts: one address, or the file through the same policy and order as scan.
  std::optional<HostTarget> single;
  std::optional<HostList> list;
  if (!options.address.empty()) {
    auto endpoint = parse_endpoint(options.address, 443);
    if (!endpoint) return report_error(endpoint.error());
    auto allowed = check_address_policy(*endpoint, options.engine.allow_private);
    if (!allowed) return report_error(allowed.error());
    if (targets->blocklist && targets->blocklist->contains(*allowed)) {
      return report_error({ErrorCode::kAddressRefused, fmt::format("{} is in the blocklist", allowed->ip)});
    }
    single = HostTarget{*allowed, {}, 0};
  } else {
    auto opened = HostList::open(options.hosts, std::move(*targets));
    if (!opened) return report_error(opened.error());
    list.emplace(std::move(*opened));
  }
  auto next = [&]() -> std::optional<HostTarget> {
    for (;;) {
      std::optional<HostTarget> host;
      if (single) {
        host = std::move(single);
        single.reset();
      } else if (list) {
        host = list->next();
      }
      if (!host) return std::nullopt;
      if (host->endpoint.family != AF_INET) {
        fmt::print(stderr, "mitmscope: trace: {}: skipped: IPv6 is not traced yet (ICMPv6 time-exceeded is not read)\n",
                   host->endpoint.ip);
        continue;
      }
      return host;
    }
  };

  auto icmp = IcmpListener::open();
  if (!icmp) {
    fmt::print(stderr, "mitmscope: trace: {}; routers will be unknown, expired TTLs are still exact\n",
               icmp.error().message);
  }
  TraceOptions trace;
  trace.sni = *sni;
  trace.control_sni = options.control_sni;
  trace.seed = options.engine.seed;
  trace.first_ttl = options.first_ttl;
  trace.max_ttl = options.max_ttl;
  trace.window = options.window;
  trace.runs = options.runs;
  trace.path_series = !options.no_path;
  trace.path_port = options.path_port;
  trace.paris = options.paris;
  Tracer tracer(*client, engine_options(options.engine), trace, {trust->trust_store, trust->registry, trust->at},
                icmp ? &*icmp : nullptr);

  const AsnMap* asn = *asn_map ? &**asn_map : nullptr;
  auto out = run::LineOutput::open(options.out);
  if (!out) return report_error(out.error());
  std::unique_ptr<Store> store;
  const int64_t run = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  if (!options.store.empty()) {
    auto opened = open_store(options.store);
    if (!opened) return report_error(opened.error());
    store = std::move(*opened);
  }
  // Traces go to the store in batches; after a store failure the output still gets every trace.
  run::StoreBatches<StoredTrace> batches(100, store ? run::StoreBatches<StoredTrace>::Write(
                                                          [&](std::span<const StoredTrace> rows) { return store->add_traces(rows); })
                                                    : nullptr);
  TraceAggregate aggregate;
  std::optional<InjectionPoint> last_point;
  const bool bulk = list.has_value();
  size_t traced = 0;
  tracer.run(next, [&](TraceResult result) {
    ++traced;
    aggregate.add(result, asn);
    last_point = result.point;
    const bool stdout_json = options.json && !out->is_stdout();   // unless --out - already puts it there
    if (store) {
      const auto& point = result.point;
      batches.add({run, format_utc(now_utc()), result.host.endpoint.ip, result.host.endpoint.port, result.sni,
                   std::string(injection_kind_name(point.kind)), point.injection_ttl.value_or(0),
                   point.address_distance.value_or(0), point.router_before.value_or(""), point.router_after.value_or(""),
                   trace_result_json(result, asn).dump()});
    }
    if (out->active() || stdout_json) {
      const auto json = trace_result_json(result, asn);
      out->write(json.dump());
      if (stdout_json) fmt::print("{}\n", bulk ? json.dump() : json.dump(2));
    }
    if (!bulk && !options.json) fmt::print("{}", trace_result_text(result, asn));
    if (bulk && traced % 100 == 0) fmt::print(stderr, "trace: {} hosts done\n", traced);
  });
  out->close();
  batches.flush();
  if (batches.error()) return report_error(*batches.error());
  if (list) {
    for (const auto& skipped : list->skipped()) {
      fmt::print(stderr, "mitmscope: {}: line {}: skipped: {}\n", options.hosts, skipped.line, skipped.reason);
    }
  }
  if (bulk) {
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
    fmt::print(stderr, "trace: {} hosts, {} probes{}\n", traced, tracer.probes(),
               icmp ? fmt::format(", {} ICMP time-exceeded read", icmp->received()) : std::string());
    return kExitOk;
  }
  if (!last_point) return kExitProbeFailed;
  if (trace_found_interception(*last_point)) return kExitIntercepted;
  return last_point->kind == InjectionKind::kNone ? kExitOk : kExitProbeFailed;
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
