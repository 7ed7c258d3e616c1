// `mitmscope demo`, act 1 (cli/demo_story.h): 2019 measured live on the kz-2019 lab:
// lab up → discover (which domains of a top list trigger the interceptor) → scan (every host ×
// the discovered domains, into a store) → trace (where the forged certificate is injected) →
// monitor (rounds while the scenario pauses the interceptor and resumes it with the 24-hour
// validity shift) → report (HTML with charts, and Markdown) → lab down. Each step is this same
// binary run as a child (its log under the work directory); the demo prints what it does,
// checks the headline figures against the lab's ground truth, and takes the lab down on every
// exit, Ctrl-C and SIGTERM included. Without root it runs the lab's loopback mode (no routers,
// so no trace).

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/demo_story.h"
#include "core/embedded_files.h"
#include "store/store.h"

namespace mitmscope::cli::demo {

namespace {

// The latest plain finished scan of the store and its intercepted hosts, read typed (as `report` reads them).
struct ScanFindings {
  ScanTally tally;
  std::set<std::string> intercepted_hosts;
  std::set<double> validity_shifts_hours;   // of the forged leaves, against the genuine ones
  size_t results = 0;
};

Result<ScanFindings> scan_findings(Store& store) {
  auto scans = store.scans();
  if (!scans) return std::unexpected(scans.error());
  const StoredScan* latest = nullptr;
  for (const auto& scan : *scans) {
    if (scan.monitor.empty() && scan.tally) latest = &scan;
  }
  if (!latest) return make_error(ErrorCode::kParseError, fmt::format("{}: no finished scan", store.location()));
  ScanFindings findings{*latest->tally, {}, {}, 0};
  auto visited = store.for_each_result(latest->id, 4096, [&](std::span<const StoredResult> results) -> Result<void> {
    findings.results += results.size();
    for (const auto& result : results) {
      if (result.verdict != "intercepted") continue;
      findings.intercepted_hosts.insert(result.ip);
      const auto& forging = result.facts.forging;
      if (forging && forging->not_before_shift_hours) findings.validity_shifts_hours.insert(*forging->not_before_shift_hours);
    }
    return {};
  });
  if (!visited) return std::unexpected(visited.error());
  return findings;
}

// Where the traces found the injection: hops before the host per traced host, and the most common router pair.
struct TraceFindings {
  size_t hosts = 0, located = 0;
  std::map<int, size_t> hops_before_host;
  std::pair<std::string, std::string> routers{"?", "?"};
};

TraceFindings trace_findings(const std::vector<StoredTrace>& traces) {
  TraceFindings findings;
  std::map<std::pair<std::string, std::string>, size_t> pairs;
  for (const auto& trace : traces) {
    ++findings.hosts;
    if (trace.injection_ttl <= 0 || trace.address_distance <= trace.injection_ttl) continue;
    ++findings.located;
    ++findings.hops_before_host[trace.address_distance - trace.injection_ttl];
    ++pairs[{trace.router_before, trace.router_after}];
  }
  const auto top = std::ranges::max_element(pairs, {}, [](const auto& item) { return item.second; });
  if (top != pairs.end()) findings.routers = top->first;
  return findings;
}

}  // namespace

int DemoStory::lab_act() {
  act(1, "2019, measured live: TLS interception in an emulated Kazakhstan, July 2019 (the kz-2019 lab)");
  if (loopback_) fmt::print("not root: the lab's loopback mode (hosts on 127.18.0.0/16, no routers, so no trace)\n");
  if (const int status = prepare(); status != kExitOk) return status;
  for (auto step : {&DemoStory::discover, &DemoStory::scan, &DemoStory::trace, &DemoStory::monitor, &DemoStory::report}) {
    if (const int status = (this->*step)(); status != kExitOk) return status;
  }
  headlines_.push_back(fmt::format(
      "\nact 1, report: {}\n               {}\n       store:  {} (mitmscope report --store {})\n"
      "headline: {} of {} eligible hosts intercepted for {} domains{}; the pause and the 6 h -> 24 h rule change seen\n",
      (work_ / "report.html").string(), (work_ / "report.md").string(), store_, store_, intercepted_.size(), eligible_,
      discovered_.size(), headline_trace_));
  return kExitOk;
}

// The scenario with the demo's schedule, the lab up, and its ground truth.
int DemoStory::prepare() {
  std::error_code error;
  for (const char* stale : {"demo.db", "demo.db-wal", "demo.db-shm"}) fs::remove(work_ / stale, error);
  // The scenario as shipped, with the demo's schedule: the interceptor pauses 9 s into the monitor
  // and resumes at 21 s forging with a 24-hour validity shift instead of 6 hours.
  Json scenario;
  for (const auto& file : embedded_scenario_files()) {
    if (file.name == "kz-2019.json") scenario = Json::parse(file.content);
  }
  scenario["name"] = "kz-2019-demo";
  first_shift_hours_ = scenario["forging"]["validity_shift_hours"].get<double>();
  scenario["schedule"]["events"] = Json::array({{{"at_seconds", 9}, {"interceptor", "off"}},
                                                {{"at_seconds", 21}, {"interceptor", "on"}, {"validity_shift_hours", -24}}});
  scenario["schedule"]["repeat_every_seconds"] = 0;
  std::ofstream(work_ / "scenario.json") << scenario.dump(2) << "\n";

  say(fmt::format("lab up: {} TLS hosts, the ISPs' routers and an SNI-triggered interceptor{}", options_.size,
                  loopback_ ? " (loopback)" : " in network namespaces"));
  std::vector<std::string> up = {"lab", "--state-dir", state_.string(), "up", "--scenario", (work_ / "scenario.json").string(),
                                 "--size", std::to_string(options_.size)};
  if (loopback_) up.push_back("--loopback");
  lab_up_ = true;   // a lab up cut short is taken down too
  if (run_child(up, "lab-up.log", false) != 0) return fail_step("lab up", "lab-up.log");
  // Held on until the monitor starts the schedule's clock.
  if (run_child({"lab", "--state-dir", state_.string(), "switch", "on"}, "lab-switch.log", false) != 0) {
    return fail_step("lab switch on", "lab-switch.log");
  }
  truth_ = read_json(state_ / "ground-truth.json");   // the lab's own answer sheet, not a measurement
  hosts_lines_ = read_lines(state_ / "hosts.txt");
  fmt::print("  {} hosts in {}; ground truth in {}\n", hosts_lines_.size(), (state_ / "hosts.txt").string(),
             (state_ / "ground-truth.json").string());
  return kExitOk;
}

std::vector<std::string> DemoStory::with_trust(std::vector<std::string> args, bool with_engine) const {
  for (const std::string& arg : {std::string("--allow-private"), std::string("--trust-store"), (state_ / "public-ca.pem").string(),
                                 std::string("--known-roots"), (state_ / "known-roots").string()}) {
    args.push_back(arg);
  }
  if (with_engine) args.insert(args.end(), {"--host-rate", "100", "--concurrency", "200", "--handshake-timeout", "20"});
  return args;
}

std::string DemoStory::host_line(const std::string& ip) const {
  for (const auto& line : hosts_lines_) {
    if (line.starts_with(ip + ":")) return line;
  }
  return ip;
}

// discover: a top list of the scenario's domains hidden among decoys, screened on three hosts.
int DemoStory::discover() {
  say("discover: which domains of a top list trigger the interceptor");
  std::vector<std::string> toplist = truth_["targeted_domains"].get<std::vector<std::string>>();
  for (int i = 1; i <= 120; ++i) toplist.push_back(fmt::format("site{}.example.kz", i));
  for (const char* near_miss : {"www.vk.com", "google.kz", "m.facebook.com", "youtube.com.evil.net", "instagram.org"}) {
    toplist.push_back(near_miss);
  }
  std::ranges::sort(toplist, [](const std::string& a, const std::string& b) { return std::hash<std::string>{}(a) < std::hash<std::string>{}(b); });
  write_lines(work_ / "toplist.txt", toplist);
  std::vector<std::string> screen_hosts;
  for (const auto& ip : truth_["intercepted_hosts"]) {
    const std::string line = host_line(ip.get<std::string>());
    if (screen_hosts.size() < 3) screen_hosts.push_back(line.substr(0, line.find(' ')));
  }
  write_lines(work_ / "discover-hosts.txt", screen_hosts);
  if (run_child(with_trust({"discover", "--hosts", (work_ / "discover-hosts.txt").string(), "--domains", (work_ / "toplist.txt").string(),
                            "--json", (work_ / "discover.json").string(), "--list", (work_ / "domains.txt").string()}),
                "discover.log", true) != 0) {
    return fail_step("discover", "discover.log");
  }
  discovered_ = read_lines(work_ / "domains.txt");
  fmt::print("  {} candidates in the top list, {} confirmed on {} hosts: {}{}\n", toplist.size(), discovered_.size(),
             screen_hosts.size(), fmt::join(discovered_.begin(), discovered_.begin() + std::min<size_t>(6, discovered_.size()), ", "),
             discovered_.size() > 6 ? ", ..." : "");
  ok(std::set<std::string>(discovered_.begin(), discovered_.end()) == truth_["targeted_domains"].get<std::set<std::string>>(),
     "exactly the scenario's targeted domains, no decoy");
  return discovered_.empty() ? fail_step("discover found no domain", "discover.log") : kExitOk;
}

// scan: every host x the discovered domains, with control SNIs per host, into the store; read back typed.
int DemoStory::scan() {
  say("scan: every host x the discovered domains, control SNIs per host, into the store");
  if (run_child(with_trust({"scan", "--hosts", (state_ / "hosts.txt").string(), "--domains", (work_ / "domains.txt").string(),
                            "--pfx2as", (state_ / "pfx2as.txt").string(), "--store", store_, "--out", (work_ / "scan.jsonl").string(),
                            "--summary", (work_ / "scan-summary.json").string(), "--stateful-delay", "0.5"}),
                "scan.log", true) != 0) {
    return fail_step("scan", "scan.log");
  }
  auto store = open_store(store_);
  auto findings = store ? scan_findings(**store) : Result<ScanFindings>(std::unexpected(store.error()));
  if (!findings) return report_error(findings.error());
  intercepted_ = findings->intercepted_hosts;
  eligible_ = findings->tally.eligible;
  fmt::print("  {} results; {} of {} eligible hosts intercepted ({:.1f}%)\n", findings->results, intercepted_.size(), eligible_,
             100.0 * findings->tally.intercepted_share());
  const std::set<std::string> truth = truth_["intercepted_hosts"].get<std::set<std::string>>();
  ok(intercepted_ == truth, fmt::format("the intercepted hosts are the ground truth's {}", truth.size()));
  ok(findings->tally.intercepted_hosts == truth.size(), "the stored tally counts the same hosts");
  // Before the monitor restarts the schedule, the lab holds the scenario's first rules however long discover took.
  ok(findings->validity_shifts_hours == std::set<double>{first_shift_hours_},
     fmt::format("every forged leaf's validity is shifted {:g} h, the scenario's first rules", first_shift_hours_));
  return kExitOk;
}

// trace: where on the path the forged certificate comes from (not in loopback mode: no routers).
int DemoStory::trace() {
  if (loopback_) return kExitOk;
  say("trace: TTL-limited ClientHellos to every intercepted host");
  std::vector<std::string> trace_hosts;
  for (const auto& ip : intercepted_) trace_hosts.push_back(host_line(ip));
  write_lines(work_ / "trace-hosts.txt", trace_hosts);
  if (run_child(with_trust({"trace", "--hosts", (work_ / "trace-hosts.txt").string(), "--sni", discovered_.front(), "--store", store_,
                            "--summary", (work_ / "trace-summary.json").string(), "--pfx2as", (state_ / "pfx2as.txt").string()},
                           false),
                "trace.log", true) != 0) {
    return fail_step("trace", "trace.log");
  }
  auto store = open_store(store_);
  auto traces = store ? (*store)->traces() : Result<std::vector<StoredTrace>>(std::unexpected(store.error()));
  if (!traces) return report_error(traces.error());
  const TraceFindings found = trace_findings(*traces);
  const int hops_before = truth_.value("host_hop", 0) - truth_.value("interceptor_hop", 0);
  const auto at_hops = found.hops_before_host.find(hops_before);
  fmt::print("  {} hosts traced: {} injected before the host, {} at {} hops before it, between routers {} and {}\n", found.hosts,
             found.located, at_hops == found.hops_before_host.end() ? 0 : at_hops->second, hops_before, found.routers.first,
             found.routers.second);
  headline_trace_ = fmt::format(", injected at hop {} between {} and {}", truth_.value("interceptor_hop", 0), found.routers.first,
                                found.routers.second);
  ok(found.located == intercepted_.size() && at_hops != found.hops_before_host.end() && at_hops->second == intercepted_.size(),
     fmt::format("every forged certificate injected at hop {}, {} hops before the host", truth_.value("interceptor_hop", 0), hops_before));
  return kExitOk;
}

// monitor: rounds every 6 s while the schedule pauses and resumes the interceptor.
int DemoStory::monitor() {
  say("monitor: 5 rounds, one every 6 s (30 s); the interceptor pauses at 9 s and resumes at 21 s with a 24-hour validity shift");
  std::vector<std::string> monitor_hosts;
  for (const auto& ip : truth_["intercepted_hosts"]) {
    if (monitor_hosts.size() < 4) monitor_hosts.push_back(host_line(ip.get<std::string>()));
  }
  for (const auto& ip : truth_["bypass_hosts"]) {
    if (monitor_hosts.size() < 6) monitor_hosts.push_back(host_line(ip.get<std::string>()));
  }
  write_lines(work_ / "monitor-hosts.txt", monitor_hosts);
  write_lines(work_ / "monitor-domains.txt",
              std::vector<std::string>(discovered_.begin(), discovered_.begin() + std::min<size_t>(3, discovered_.size())));
  if (run_child({"lab", "--state-dir", state_.string(), "switch", "restart"}, "lab-switch.log", false) != 0) {
    return fail_step("lab switch restart", "lab-switch.log");
  }
  if (run_child(with_trust({"monitor", "--hosts", (work_ / "monitor-hosts.txt").string(), "--domains",
                            (work_ / "monitor-domains.txt").string(), "--every", "6s", "--rounds", "5", "--store", store_,
                            "--name", "demo", "--stateful-delay", "0.5", "--retries", "2", "--json"}),
                "monitor.log", true) != 0) {
    return fail_step("monitor", "monitor.log");
  }
  return monitor_findings();
}

// The monitor's rounds and events, read typed from the store.
int DemoStory::monitor_findings() {
  auto store = open_store(store_);
  if (!store) return report_error(store.error());
  auto scans = (*store)->scans();
  auto stored_events = (*store)->all_events();
  if (!scans || !stored_events) return report_error(!scans ? scans.error() : stored_events.error());
  std::vector<std::string> rounds, events;
  for (const auto& scan : *scans) {
    if (scan.monitor == "demo" && scan.tally) rounds.push_back(std::to_string(scan.tally->intercepted_hosts));
  }
  for (const auto& [monitor, event] : *stored_events) {
    if (monitor == "demo" && event.type != "hosts_stopped" && event.type != "hosts_started") {
      events.push_back(fmt::format("{} (round {})", event.type, event.round));
    }
  }
  fmt::print("  intercepted hosts per round: {}\n  events: {}\n", fmt::join(rounds, " "), fmt::join(events, ", "));
  ok(events == std::vector<std::string>{"baseline (round 1)", "interception_stopped (round 3)", "interception_started (round 5)",
                                        "rules_changed (round 5)"},
     "the pause and the resumption with changed rules are seen, and nothing else");
  return kExitOk;
}

// report: the HTML page and the tables; the interceptor's profile from the stored facts.
int DemoStory::report() {
  say("report: one self-contained HTML page with charts, and the tables in Markdown and JSON");
  // With the lab's roots: the forged chain is drawn up to the root the interceptor does not send.
  const std::string roots = (state_ / "known-roots").string();
  for (const char* out : {"report.html", "report.md", "report.json"}) {
    if (run_child({"report", "--store", store_, "--known-roots", roots, "--out", (work_ / out).string(), "--title",
                   "mitmscope demo: kz-2019 lab"},
                  "report.log", false) != 0) {
      return fail_step("report", "report.log");
    }
  }
  auto store = open_store(store_);
  auto scans = store ? (*store)->scans() : Result<std::vector<StoredScan>>(std::unexpected(store.error()));
  if (!scans) return report_error(scans.error());
  const auto scanned = std::ranges::find_if(*scans, [](const StoredScan& scan) { return scan.monitor.empty() && scan.tally; });
  if (scanned == scans->end()) return kExitOk;
  auto intercepted = (*store)->intercepted_results(scanned->id, 1);
  if (!intercepted) return report_error(intercepted.error());
  if (intercepted->empty() || !intercepted->front().facts.forging) return kExitOk;
  const ResultFacts& facts = intercepted->front().facts;
  const ForgingFacts& forging = *facts.forging;
  fmt::print("  the interceptor: {}; validity shifted {} h; key {} {} e={}; serial: last {} bits replaced; JA3S {}\n", facts.issuer,
             forging.not_before_shift_hours ? fmt::format("{:g}", *forging.not_before_shift_hours) : "?", forging.key_type,
             forging.key_bits, forging.key_exponent, forging.serial_trailing_bits_differing, facts.ja3s);
  return kExitOk;
}

}  // namespace mitmscope::cli::demo
