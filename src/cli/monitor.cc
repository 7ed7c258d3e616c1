// `mitmscope monitor --hosts FILE --domains FILE --every DURATION --store FILE`: scan rounds on a
// schedule, events between rounds (analyze/monitor_events), stored, printed, and handed to a hook.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "analyze/monitor_events.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/scan_round.h"
#include "core/process.h"
#include "core/time.h"
#include "core/unique_fd.h"
#include "store/store.h"


namespace mitmscope::cli {
namespace {

struct MonitorCliOptions {
  std::string hosts;
  std::string domains;
  std::string every = "10m";
  int rounds = 0;
  std::string until;
  std::string store;
  std::string name = "default";
  std::string on_event;
  double hook_timeout = 10;
  std::string out;
  bool json = false;
  ScanMethodOptions method;
  std::string pfx2as;
  EngineCliOptions engine;
  TrustOptions trust;
};

// Runs `command` with /bin/sh, the event as JSON on its stdin; waits at most `timeout`, then kills it.
// Empty when it succeeded, otherwise what went wrong.
std::string run_hook(const std::string& command, const std::string& input, std::chrono::milliseconds timeout) {
  auto child = spawn({.argv = {"/bin/sh", "-c", command}, .pipe_input = true});
  if (!child) return child.error().message;
  const std::string text = input + "\n";
  for (size_t written = 0; written < text.size();) {
    const ssize_t count = ::write(child->input.get(), text.data() + written, text.size() - written);
    if (count <= 0) break;   // the hook does not read its input: fine
    written += static_cast<size_t>(count);
  }
  child->input.reset();
  const ExitStatus status = wait_for_exit(child->pid, timeout);
  if (status.timed_out) return fmt::format("killed after {} ms", timeout.count());
  return status.success() ? std::string() : status.describe();
}

std::string event_text(const MonitorEvent& event) {
  return fmt::format("round {} {}: {}", event.round, event.time, event_sentence(event.type, event.scope, event.detail));
}

int run_monitor(const MonitorCliOptions& options) {
  auto every = parse_duration(options.every);
  if (!every) return report_error(every.error());
  std::optional<UtcSeconds> until;
  if (!options.until.empty()) {
    auto parsed = parse_utc(options.until);
    if (!parsed) return report_error(parsed.error());
    until = *parsed;
  }
  if (options.rounds < 0) return report_error({ErrorCode::kInvalidArgument, "--rounds must be positive"});
  auto target_options = make_target_options(options.engine);
  if (!target_options) return report_error(target_options.error());
  auto domains = read_domains_reporting(options.domains);
  if (!domains) return report_error(domains.error());
  auto asn_map = load_asn_map(options.pfx2as);
  if (!asn_map) return report_error(asn_map.error());
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  auto client = make_client_context(options.engine);
  if (!client) return report_error(client.error());
  auto store = open_store(options.store);
  if (!store) return report_error(store.error());

  const nlohmann::json parameters = {{"hosts", std::filesystem::absolute(options.hosts).string()},
                                     {"domains", std::filesystem::absolute(options.domains).string()},
                                     {"every_ms", every->count()}, {"seed", options.engine.seed},
                                     {"controls", options.method.controls}, {"retries", options.method.retries}};
  auto monitor = (*store)->open_monitor(options.name, parameters.dump());
  if (!monitor) return report_error(monitor.error());
  MonitorMemory memory;
  if (!monitor->memory_json.empty()) {
    try {
      memory = MonitorMemory::from_json(nlohmann::json::parse(monitor->memory_json));
    } catch (const std::exception& error) {
      return report_error({ErrorCode::kParseError, fmt::format("{}: monitor '{}': stored memory is unreadable: {}",
                                                               options.store, options.name, error.what())});
    }
  }
  int round = monitor->last_round + 1;
  // The cadence continues from the last finished round's start, also across restarts.
  auto next_start = std::chrono::system_clock::now();
  if (!monitor->last_round_started_at.empty()) {
    if (auto last = parse_utc(monitor->last_round_started_at)) next_start = std::max(next_start, std::chrono::time_point_cast<std::chrono::system_clock::duration>(*last + *every));
    fmt::print(stderr, "monitor '{}': continuing after round {} (started {})\n", options.name, monitor->last_round,
               monitor->last_round_started_at);
  }
  UniqueFile out;
  if (!options.out.empty()) {
    auto opened = open_file(options.out, "a");
    if (!opened) return report_error(opened.error());
    out = std::move(*opened);
  }
  stop_on_signals();
  ScanRoundInputs inputs{.hosts_file = options.hosts, .targets = *target_options, .domains = &*domains,
                         .trust = &*trust, .client = &*client, .engine = engine_options(options.engine),
                         .asn_map = *asn_map ? &**asn_map : nullptr, .method = options.method,
                         .seed = options.engine.seed, .foxio = options.trust.foxio};
  while (!stop_requested()) {
    if (options.rounds > 0 && round > options.rounds) break;
    while (!stop_requested() && std::chrono::system_clock::now() < next_start) {
      std::this_thread::sleep_for(std::min<std::chrono::system_clock::duration>(
          next_start - std::chrono::system_clock::now(), std::chrono::milliseconds(100)));
    }
    if (stop_requested()) break;
    if (until && std::chrono::system_clock::now() >= *until) break;
    const auto round_start = std::chrono::system_clock::now();
    auto record = (*store)->begin_round(monitor->id, round, parameters.dump());
    if (!record) return report_error(record.error());
    RoundState state;
    state.round = round;
    state.started_at = record->started_at;
    ScanRoundSinks sinks;
    sinks.store = store->get();
    sinks.scan_id = record->id;
    sinks.out = out.get();
    sinks.observe = [&](const ScanResult& result, const std::string& as_key) { state.add(result, as_key); };
    auto report = run_scan_round(inputs, sinks);
    if (!report) return report_error(report.error());
    if (report->store_error) return report_error(*report->store_error);
    const auto events = derive_events(memory, state);
    remember(memory, state);
    std::vector<StoredEvent> stored;
    for (const auto& event : events) {
      stored.push_back({event.round, event.time, event.type, event.scope, event.detail.dump()});
    }
    if (auto finished = (*store)->finish_round(monitor->id, record->id, round, report->tally, report->summary.dump(),
                                               memory.json().dump(), stored);
        !finished) {
      return report_error(finished.error());
    }
    fmt::print(stderr, "round {}: {} hosts intercepted, {} handshakes in {:.1f} s\n", round,
               state.intercepted_hosts.size(), report->handshakes, report->seconds);
    for (const auto& event : events) {
      const std::string json = event.json().dump();
      fmt::print("{}\n", options.json ? json : event_text(event));
      std::fflush(stdout);
      if (!options.on_event.empty()) {
        const auto failure =
            run_hook(options.on_event, json, std::chrono::milliseconds(static_cast<long>(options.hook_timeout * 1000)));
        if (!failure.empty()) fmt::print(stderr, "mitmscope: --on-event: {}: {}\n", options.on_event, failure);
      }
    }
    ++round;
    next_start = round_start + *every;
  }
  default_signals();
  return kExitOk;
}

}  // namespace

void register_monitor(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<MonitorCliOptions>();
  auto* command = app.add_subcommand("monitor", "Scan rounds on a schedule into a store; events when interception "
                                                "starts, stops, spreads or changes");
  command->add_option("--hosts", options->hosts, "One IP[:PORT] per line (tags kept; ASnnn groups events per AS)")->required();
  command->add_option("--domains", options->domains, "One domain per line (or rank,domain)")->required();
  command->add_option("--every", options->every, "Time between round starts (90s, 10m, 1h)")->capture_default_str();
  command->add_option("--rounds", options->rounds, "Stop after this round number (counted over restarts; 0: no limit)");
  command->add_option("--until", options->until, "Start no round after this UTC time (YYYY-MM-DDTHH:MM:SSZ)");
  command->add_option("--store", options->store, "Store (SQLite file or clickhouse://...): rounds, results, events, the monitor's memory")->required();
  command->add_option("--name", options->name, "The monitor's name in the store (several can share one)")->capture_default_str();
  command->add_option("--on-event", options->on_event, "Run this shell command per event, the event as JSON on stdin");
  command->add_option("--hook-timeout", options->hook_timeout, "Seconds before a hook is killed")->capture_default_str();
  command->add_option("--out", options->out, "Also append every result as JSON Lines to this file");
  command->add_flag("--json", options->json, "Events as JSON lines on stdout");
  add_scan_method_options(*command, options->method);
  command->add_option("--pfx2as", options->pfx2as, "Prefix-to-AS table: events per AS from it instead of ASnnn tags");
  add_engine_options(*command, options->engine);
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_monitor(*options); }); });
}

}  // namespace mitmscope::cli
