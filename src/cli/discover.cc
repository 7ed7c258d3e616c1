// `mitmscope discover --hosts FILE --domains TOPLIST`: which domains trigger the interceptor.
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "detect/discover.h"
#include "report/scan_output.h"
#include "run/run.h"

namespace mitmscope::cli {
namespace {

struct DiscoverCliOptions {
  std::string hosts;
  std::string domains;
  std::string json;
  std::string list;
  std::string out;
  DiscoverOptions discover;
  double stateful_delay = 120;
  EngineCliOptions engine;
  TrustOptions trust;
  bool all_strategies = false;
  std::vector<std::string> strategies;
};

nlohmann::ordered_json strategies_json(const DiscoveredDomain& entry) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [name, outcome] : entry.strategies) {
    out[name] = {{"hosts_tested", outcome.hosts_tested}, {"hosts_intercepted", outcome.hosts_intercepted},
                 {"hosts_failed", outcome.hosts_failed}, {"triggers", outcome.hosts_intercepted > 0},
                 {"verdicts", outcome.verdicts}};
  }
  return out;
}

nlohmann::ordered_json domain_json(const DiscoveredDomain& entry) {
  return {{"domain", entry.domain},
          {"rank", entry.rank},
          {"confirmed", entry.confirmed},
          {"hosts_tested", entry.hosts_tested},
          {"hosts_intercepted", entry.intercepting_hosts.size()},
          {"intercepting_hosts", entry.intercepting_hosts},
          {"verdicts", entry.verdicts},
          {"interceptors", entry.interceptors},
          {"issuers", entry.issuers},
          {"validity_shift_hours", entry.validity_shifts_hours},
          {"evidence", entry.reasons},
          {"strategies", strategies_json(entry)}};
}

// Per confirmed domain, on how many hosts each strategy still triggered interception, and where it broke the
// connection itself (no usable answer even for the controls).
void print_strategies(const DiscoverReport& report) {
  for (const auto& entry : report.confirmed) {
    if (entry.strategies.empty()) continue;
    std::string still, not_any, broke;
    for (const auto& [name, outcome] : entry.strategies) {
      if (outcome.hosts_tested > 0) {
        (outcome.hosts_intercepted > 0 ? still : not_any) +=
            fmt::format(" {} {}/{}", name, outcome.hosts_intercepted, outcome.hosts_tested);
      }
      if (outcome.hosts_failed > 0) {
        broke += fmt::format(" {} {}/{}", name, outcome.hosts_failed, outcome.hosts_failed + outcome.hosts_tested);
      }
    }
    fmt::print("strategies for {}: triggers:{}; does not trigger:{}{}\n", entry.domain, still.empty() ? " none" : still,
               not_any.empty() ? " none" : not_any, broke.empty() ? "" : "; breaks the connection:" + broke);
  }
}

void print_report(const DiscoverCliOptions& options, const DiscoverReport& report) {
  fmt::print("discover: {} domains on {} hosts ({} usable); {} screening + {} confirmation handshakes in {:.1f} s\n",
             report.domains, report.hosts, report.usable_hosts.size(), report.screening_handshakes,
             report.confirmation_handshakes, report.seconds);
  for (const auto& host : report.unusable_hosts) fmt::print("unusable host: {}\n", host);
  if (report.unscreened) fmt::print("NOT screened: {} domains (no usable host left)\n", report.unscreened);
  fmt::print("candidates {}, confirmed {} (intercepted on at least {} hosts)\n", report.candidates,
             report.confirmed.size(), std::min(options.discover.confirm, std::max<size_t>(1, report.usable_hosts.size())));
  if (!report.confirmed.empty()) {
    fmt::print("{:>6}  {:<28} {:>6}  {:>6}  {}\n", "rank", "domain", "hosts", "shift", "interceptor / issuer");
    for (const auto& entry : report.confirmed) {
      const std::string shift = entry.validity_shifts_hours.empty()
                                    ? "-"
                                    : fmt::format("{:+.0f} h", *entry.validity_shifts_hours.begin());
      fmt::print("{:>6}  {:<28} {:>2}/{:<3}  {:>6}  {} / {}\n", entry.rank, entry.domain, entry.intercepting_hosts.size(),
                 entry.hosts_tested, shift, entry.interceptors.empty() ? "-" : *entry.interceptors.begin(),
                 entry.issuers.empty() ? "-" : *entry.issuers.begin());
    }
  }
  print_strategies(report);
  for (const auto& entry : report.rejected) {
    std::string verdicts;
    for (const auto& [verdict, count] : entry.verdicts) verdicts += fmt::format(" {} {}", verdict, count);
    fmt::print("not confirmed: {} (intercepted on {} of {} hosts;{})\n", entry.domain, entry.intercepting_hosts.size(),
               entry.hosts_tested, verdicts);
  }
}

// --list (the confirmed names, for scan) and --json (the report with its evidence).
int write_files(const DiscoverCliOptions& options, const DiscoverReport& report) {
  if (!options.list.empty()) {
    std::ofstream out(options.list);
    for (const auto& entry : report.confirmed) out << entry.domain << "\n";
    if (!out) return report_error({ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", options.list)});
  }
  if (!options.json.empty()) {
    nlohmann::ordered_json json = {{"domains", report.domains},
                                   {"hosts", report.hosts},
                                   {"usable_hosts", report.usable_hosts},
                                   {"unusable_hosts", report.unusable_hosts},
                                   {"unscreened", report.unscreened},
                                   {"candidates", report.candidates},
                                   {"screening_handshakes", report.screening_handshakes},
                                   {"confirmation_handshakes", report.confirmation_handshakes},
                                   {"strategy_handshakes", report.strategy_handshakes},
                                   {"seconds", report.seconds},
                                   {"interrupted", report.interrupted},
                                   {"confirmed", nlohmann::ordered_json::array()},
                                   {"rejected", nlohmann::ordered_json::array()}};
    for (const auto& entry : report.confirmed) json["confirmed"].push_back(domain_json(entry));
    for (const auto& entry : report.rejected) json["rejected"].push_back(domain_json(entry));
    std::ofstream out(options.json);
    out << json.dump(2) << "\n";
    if (!out) return report_error({ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", options.json)});
  }
  return kExitOk;
}


Result<std::vector<const HelloStrategy*>> chosen_strategies(const DiscoverCliOptions& options) {
  std::vector<const HelloStrategy*> chosen;
  if (options.all_strategies) {
    for (const auto& strategy : builtin_hello_strategies()) chosen.push_back(&strategy);
  }
  for (const auto& name : options.strategies) {
    auto strategy = find_hello_strategy(name);
    if (!strategy) return make_error(ErrorCode::kInvalidArgument, "--strategy: " + strategy.error().message);
    chosen.push_back(*strategy);
  }
  if (!chosen.empty() && options.engine.client_hello == "openssl") {
    return make_error(ErrorCode::kInvalidArgument, "--strategies reshape a profile's ClientHello: not with --client-hello openssl");
  }
  return chosen;
}

int run_discover(DiscoverCliOptions options) {
  auto setup = load_active_setup({options.engine, options.trust, options.domains, ""});
  if (!setup) return report_error(setup.error());
  const TrustContext* trust = &setup->trust;
  auto out = run::LineOutput::open(options.out);
  if (!out) return report_error(out.error());
  run::Runner<run::NoRow> run(std::move(*out), nullptr);
  options.discover.engine = engine_options(options.engine);
  options.discover.engine.stop = &run.stop_flag();
  options.discover.seed = options.engine.seed;
  if (auto chosen = chosen_strategies(options); chosen) {
    options.discover.strategies = std::move(*chosen);
  } else {
    return report_error(chosen.error());
  }
  options.discover.stateful_delay = std::chrono::milliseconds(static_cast<long>(options.stateful_delay * 1000));
  options.discover.observe = [&](const ScanResult& result) {
    const std::string line = run.output().active() ? scan_result_json(result, trust->trust_store, {}).dump() : "";
    run.add(line, std::nullopt, result.verdict == ScanVerdict::kIntercepted);
  };
  auto report = discover(options.hosts, setup->targets, setup->domains, {trust->trust_store, trust->registry, trust->at}, setup->client,
                         options.discover, [](std::string_view line) { fmt::print(stderr, "{}\n", line); });
  const run::RunEnd end = run.finish();
  if (!report) return report_error(report.error());
  print_report(options, *report);
  if (auto written = write_files(options, *report); written != kExitOk) return written;
  if (end.interrupted) {
    fmt::print(stderr, "mitmscope: discover interrupted after {} results: the report above is partial{}\n", end.results,
               options.out.empty() ? "" : fmt::format(" (every result is in {})", options.out));
    return kExitInterrupted;
  }
  return kExitOk;
}

}  // namespace

void register_discover(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<DiscoverCliOptions>();
  auto* command = app.add_subcommand("discover", "Which domains of a list trigger interception, on a few intercepted hosts");
  command->add_option("--hosts", options->hosts, "Hosts behind the interceptor: one IP[:PORT] per line")->required();
  command->add_option("--domains", options->domains, "The candidate list (a top list): one domain per line, or rank,domain")
      ->required();
  command->add_option("--confirm", options->discover.confirm, "Hosts that must intercept a domain before it is reported")
      ->capture_default_str();
  command->add_option("--retries", options->discover.retries, "Confirmation tries per (host, domain)")->capture_default_str();
  command->add_option("--screen-retries", options->discover.screen_retries, "Screening tries per domain")->capture_default_str();
  command->add_option("--controls", options->discover.controls, "Control SNIs per host")->capture_default_str();
  command->add_option("--stateful-delay", options->stateful_delay, "Seconds before the second control re-test")
      ->capture_default_str();
  command->add_option("--json", options->json, "Write the report with the evidence as JSON to this file");
  command->add_option("--list", options->list, "Write the confirmed domains, one per line, to this file (for scan)");
  command->add_option("--out", options->out, "Every screening and confirmation result as JSON Lines (scan's rows), - for stdout");
  command->add_flag("--strategies", options->all_strategies,
                    "Then try every confirmed domain again under each ClientHello strategy (split at the name, name case, "
                    "padding, ALPN) and report which still trigger interception");
  command->add_option("--strategy", options->strategies, "Only these strategies (comma-separated): plain, split-tcp-name, "
                      "split-record-name, name-upper, name-mixed, pad-1400, alpn-http1")->delimiter(',');
  add_engine_options(*command, options->engine);
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_discover(*options); }); });
}

}  // namespace mitmscope::cli
