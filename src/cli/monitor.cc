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

// What a monitor run needs, read and checked before the first round.
struct MonitorSetup {
  std::chrono::milliseconds every{};
  std::optional<UtcSeconds> until;
  ActiveSetup active;
};

Result<MonitorSetup> monitor_setup(const MonitorCliOptions& options) {
  auto every = parse_duration(options.every);
  if (!every) return std::unexpected(every.error());
  std::optional<UtcSeconds> until;
  if (!options.until.empty()) {
    auto parsed = parse_utc(options.until);
    if (!parsed) return std::unexpected(parsed.error());
    until = *parsed;
  }
  if (options.rounds < 0) return make_error(ErrorCode::kInvalidArgument, "--rounds must be positive");
  auto active = load_active_setup({options.engine, options.trust, options.domains, options.pfx2as});
  if (!active) return std::unexpected(active.error());
  return MonitorSetup{*every, until, std::move(*active)};
}

Result<MonitorMemory> stored_memory(const MonitorCliOptions& options, const MonitorRecord& monitor) {
  if (monitor.memory_json.empty()) return MonitorMemory{};
  try {
    return MonitorMemory::from_json(nlohmann::json::parse(monitor.memory_json));
  } catch (const std::exception& error) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: monitor '{}': stored memory is unreadable: {}",
                                                          options.store, options.name, error.what()));
  }
}

void announce(const MonitorCliOptions& options, const std::vector<MonitorEvent>& events) {
  for (const auto& event : events) {
    const std::string json = event.json().dump();
    fmt::print("{}\n", options.json ? json : event_text(event));
    std::fflush(stdout);
    if (options.on_event.empty()) continue;
    const auto failure =
        run_hook(options.on_event, json, std::chrono::milliseconds(static_cast<long>(options.hook_timeout * 1000)));
    if (!failure.empty()) fmt::print(stderr, "mitmscope: --on-event: {}: {}\n", options.on_event, failure);
  }
}

// One round: scanned, its events derived from the memory, stored with them, announced. An interrupted round is
// left unfinished (its results stored): the monitor's next start runs it again, so no event comes from half a round.
Result<bool> monitor_round(const MonitorCliOptions& options, const ScanRoundInputs& inputs, Store& store,
                           const MonitorRecord& monitor, const std::string& parameters, int round, MonitorMemory& memory) {
  auto record = store.begin_round(monitor.id, round, parameters);
  if (!record) return std::unexpected(record.error());
  RoundState state;
  state.round = round;
  state.started_at = record->started_at;
  ScanRoundSinks sinks{.store = &store, .scan_id = record->id, .out = options.out, .append = true};
  sinks.observe = [&](const ScanResult& result, const std::string& as_key) { state.add(result, as_key); };
  auto report = run_scan_round(inputs, sinks);
  if (!report) return std::unexpected(report.error());
  if (report->store_error) return std::unexpected(*report->store_error);
  if (report->interrupted) {
    fmt::print(stderr, "mitmscope: monitor '{}' interrupted in round {} ({} results stored); the round is left "
               "unfinished and runs again when the monitor is started again\n", options.name, round, report->results);
    return false;
  }
  const auto events = derive_events(memory, state);
  remember(memory, state);
  std::vector<StoredEvent> stored;
  for (const auto& event : events) stored.push_back({event.round, event.time, event.type, event.scope, event.detail.dump()});
  if (auto finished = store.finish_round(monitor.id, record->id, round, report->tally, report->summary.dump(),
                                         memory.json().dump(), stored);
      !finished) {
    return std::unexpected(finished.error());
  }
  fmt::print(stderr, "round {}: {} hosts intercepted, {} handshakes in {:.1f} s\n", round, state.intercepted_hosts.size(),
             report->handshakes, report->seconds);
  announce(options, events);
  return true;
}

// Sleeps until `when`, waking for a signal; false when stopped.
bool wait_until(std::chrono::system_clock::time_point when) {
  while (!stop_requested() && std::chrono::system_clock::now() < when) {
    std::this_thread::sleep_for(std::min<std::chrono::system_clock::duration>(when - std::chrono::system_clock::now(),
                                                                             std::chrono::milliseconds(100)));
  }
  return !stop_requested();
}

int run_monitor(const MonitorCliOptions& options) {
  auto setup = monitor_setup(options);
  if (!setup) return report_error(setup.error());
  auto store = open_store(options.store);
  if (!store) return report_error(store.error());
  const std::string parameters = nlohmann::json{{"hosts", std::filesystem::absolute(options.hosts).string()},
                                                {"domains", std::filesystem::absolute(options.domains).string()},
                                                {"every_ms", setup->every.count()}, {"seed", options.engine.seed},
                                                {"controls", options.method.controls},
                                                {"retries", options.method.retries}}.dump();
  auto monitor = (*store)->open_monitor(options.name, parameters);
  if (!monitor) return report_error(monitor.error());
  auto memory = stored_memory(options, *monitor);
  if (!memory) return report_error(memory.error());
  // The cadence continues from the last finished round's start, also across restarts.
  auto next_start = std::chrono::system_clock::now();
  if (!monitor->last_round_started_at.empty()) {
    if (auto last = parse_utc(monitor->last_round_started_at)) {
      next_start = std::max(next_start, std::chrono::time_point_cast<std::chrono::system_clock::duration>(*last + setup->every));
    }
    fmt::print(stderr, "monitor '{}': continuing after round {} (started {})\n", options.name, monitor->last_round,
               monitor->last_round_started_at);
  }
  run::StopScope stop;   // for every round and the waits between them
  const auto& active = setup->active;
  const ScanRoundInputs inputs{.hosts_file = options.hosts, .targets = active.targets, .domains = &active.domains,
                               .trust = &active.trust, .client = &active.client, .engine = engine_options(options.engine),
                               .asn_map = active.asn(), .method = options.method,
                               .seed = options.engine.seed, .foxio = options.trust.foxio};
  for (int round = monitor->last_round + 1; options.rounds == 0 || round <= options.rounds; ++round) {
    if (!wait_until(next_start)) break;
    if (setup->until && std::chrono::system_clock::now() >= *setup->until) break;
    next_start = std::chrono::system_clock::now() + setup->every;
    auto finished = monitor_round(options, inputs, **store, *monitor, parameters, round, *memory);
    if (!finished) return report_error(finished.error());
    if (!*finished) return kExitInterrupted;
  }
  return stop_requested() ? kExitInterrupted : kExitOk;
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
