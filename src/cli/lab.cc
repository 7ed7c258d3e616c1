// `mitmscope lab up|down|status|switch|exec`: the emulated country on this machine. `mitmscope lab corpus`: the
// kz-2021 scenario as OONI measurements (lab/ooni_corpus), what the lab's hosts cannot show: years of data.
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "lab/command.h"
#include "lab/lab.h"
#include "lab/ooni_corpus.h"
#include "lab/topology.h"

namespace mitmscope::cli {
namespace {

struct LabOptions {
  lab::LabUpOptions up;
  std::string state_directory = lab::default_state_directory().string();
  std::string switch_state;
  bool reset_counters = false;
  std::vector<std::string> command;
  lab::OoniCorpusOptions corpus;
  std::string corpus_out;
};

int run_up(LabOptions& options) {
  options.up.state_directory = options.state_directory;
  auto result = lab::lab_up(options.up, [](std::string_view message) { fmt::print("lab: {}\n", message); });
  if (!result) return report_error(result.error());
  fmt::print("lab: up in {:.1f} s ({} hosts, daemon pid {})\n", result->seconds, result->hosts, result->daemon_pid);
  auto status = lab::lab_status(options.state_directory);
  if (status) fmt::print("{}", *status);
  return kExitOk;
}

int run_down(const LabOptions& options) {
  auto removed = lab::lab_down(options.state_directory);
  if (!removed) return report_error(removed.error());
  fmt::print("lab: down ({} namespaces removed)\n", *removed);
  return kExitOk;
}

int run_status(const LabOptions& options) {
  auto status = lab::lab_status(options.state_directory);
  if (!status) return report_error(status.error());
  fmt::print("{}", *status);
  return kExitOk;
}

int run_switch(const LabOptions& options) {
  if (auto switched = lab::lab_switch(options.state_directory, options.switch_state); !switched) {
    return report_error(switched.error());
  }
  fmt::print("lab: interceptor {}\n", options.switch_state == "schedule"  ? "follows the scenario's schedule"
                                     : options.switch_state == "restart" ? "follows the scenario's schedule, from its start"
                                                                         : options.switch_state);
  return kExitOk;
}

int run_counters(const LabOptions& options) {
  auto counters = lab::lab_counters(options.state_directory, options.reset_counters);
  if (!counters) return report_error(counters.error());
  fmt::print("{}", *counters);
  return kExitOk;
}

int run_exec(const LabOptions& options) {
  if (options.command.empty()) return report_error({ErrorCode::kInvalidArgument, "lab exec -- COMMAND [ARGS...]"});
  if (lab::lab_is_loopback(options.state_directory)) {
    // Loopback mode has no vantage namespace: the command runs here.
    std::vector<char*> argv;
    for (const auto& part : options.command) argv.push_back(const_cast<char*>(part.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    return report_error({ErrorCode::kFileNotFound, fmt::format("cannot run {}", options.command.front())});
  }
  if (!lab::running_as_root()) return report_error({ErrorCode::kInvalidArgument, "lab exec needs root"});
  std::vector<char*> argv = {const_cast<char*>("ip"), const_cast<char*>("netns"), const_cast<char*>("exec"),
                             const_cast<char*>(lab::kVantageNamespace)};
  for (const auto& part : options.command) argv.push_back(const_cast<char*>(part.c_str()));
  argv.push_back(nullptr);
  ::execvp("ip", argv.data());
  return report_error({ErrorCode::kFileNotFound, "cannot run ip (install iproute2)"});
}

int run_corpus(const LabOptions& options) {
  auto truth = lab::write_ooni_corpus(options.corpus_out, options.corpus);
  if (!truth) return report_error(truth.error());
  size_t intercepted = 0;
  for (const auto& issuer : truth->issuers) intercepted += issuer.handshakes;
  fmt::print("lab corpus: {} measurements in {} files under {}: {} intercepted handshakes by {} intermediates, {} domains, "
             "{} networks; the ground truth in {}/ground-truth.json\n",
             truth->measurements, truth->files, options.corpus_out, intercepted, truth->issuers.size(), truth->domains.size(),
             truth->networks.size(), options.corpus_out);
  return kExitOk;
}

void register_corpus(CLI::App& lab_command, const std::shared_ptr<LabOptions>& options, SetAction set_action) {
  auto* corpus = lab_command.add_subcommand(
      "corpus", "The kz-2021 scenario (2021-2024, seven ISCA intermediates) as OONI web_connectivity measurements, "
                "with their ground truth (no root, no network)");
  corpus->add_option("--out", options->corpus_out, "Where the measurements, known-roots/, trust/ and ground-truth.json go")->required();
  corpus->add_option("--measurements", options->corpus.measurements, "Measurements in all")->capture_default_str()->check(CLI::Range(1, 100000000));
  corpus->add_option("--seed", options->corpus.seed, "Random seed (the same seed, the same corpus)")->capture_default_str();
  corpus->add_option("--malformed", options->corpus.malformed, "Malformed lines to spread over the files")->capture_default_str();
  corpus->add_flag("--damaged", options->corpus.damaged, "One more file, truncated in the middle of its gzip stream");
  corpus->add_option("--from", options->corpus.from, "First day (UTC)")->capture_default_str();
  corpus->add_option("--to", options->corpus.to, "Day after the last (UTC)")->capture_default_str();
  corpus->add_option("--other-sources", options->corpus.other_sources,
                     "Share of the Kazakh HTTPS measurements written as RIPE Atlas, Hyperquack and ZGrab2 records "
                     "under OUT/sources/ instead (read them with `ooni --pfx2as OUT/pfx2as.txt`)")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  corpus->callback([options, set_action] { set_action([options] { return run_corpus(*options); }); });
}

}  // namespace

void register_lab(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<LabOptions>();
  auto* command = app.add_subcommand("lab", "An emulated national interception network on this machine (root)");
  command->require_subcommand(1);
  command->add_option("--state-dir", options->state_directory, "Where the lab keeps its files")->capture_default_str();
  auto* up = command->add_subcommand("up", "Build the lab (removes a stale one first)");
  up->add_option("--scenario", options->up.scenario, "A shipped scenario (kz-2019, kz-2021) or a scenario file")
      ->capture_default_str();
  up->add_option("--size", options->up.size, "Number of TLS hosts (default: the scenario's default size)");
  up->add_flag("--loopback", options->up.loopback,
               "No root needed: hosts and the interceptor (as a relay) on 127.18.0.0/15, no routers");
  up->callback([options, set_action] { set_action([options] { return run_up(*options); }); });
  command->add_subcommand("down", "Remove everything the lab made (idempotent)")
      ->callback([options, set_action] { set_action([options] { return run_down(*options); }); });
  command->add_subcommand("status", "Paths, addresses and the interceptor's state")
      ->callback([options, set_action] { set_action([options] { return run_status(*options); }); });
  auto* switch_command = command->add_subcommand("switch", "Turn the interceptor on or off, or back to the schedule (restart: from its start, now)");
  switch_command->add_option("state", options->switch_state, "on | off | schedule | restart")->required();
  switch_command->callback([options, set_action] { set_action([options] { return run_switch(*options); }); });
  auto* counters = command->add_subcommand("counters", "The daemon's counters as JSON, with connection rates seen at the hosts");
  counters->add_flag("--reset", options->reset_counters, "Start the hosts' connection-rate measurement again first");
  counters->callback([options, set_action] { set_action([options] { return run_counters(*options); }); });
  auto* exec = command->add_subcommand("exec", "Run a command in the vantage namespace: lab exec -- CMD [ARGS]");
  exec->add_option("command", options->command, "The command and its arguments")->required();
  exec->prefix_command();
  exec->callback([options, set_action] { set_action([options] { return run_exec(*options); }); });
  register_corpus(*command, options, set_action);
}

}  // namespace mitmscope::cli
