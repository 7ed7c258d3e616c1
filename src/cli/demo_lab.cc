// `mitmscope demo`: the main job on the built-in default — the whole story on the kz-2019 lab.
// lab up → discover (which domains of a top list trigger the interceptor) → scan (every host ×
// the discovered domains, into a store) → trace (where the forged certificate is injected) →
// monitor (rounds while the scenario pauses the interceptor and resumes it with the 24-hour
// validity shift) → report (HTML with charts, and Markdown) → lab down. Each step is this same
// binary run as a child (its log under the work directory); the demo prints what it does,
// checks the headline figures against the lab's ground truth, and takes the lab down on every
// exit, Ctrl-C and SIGTERM included. Without root it runs the lab's loopback mode (no routers,
// so no trace).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/embedded_files.h"
#include "core/process.h"

namespace mitmscope::cli {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

volatile std::sig_atomic_t g_interrupted = 0;
volatile pid_t g_child = 0;

void on_signal(int) {
  g_interrupted = 1;
  if (g_child > 0) ::kill(g_child, SIGTERM);
}

Json read_json(const fs::path& path) {
  std::ifstream file(path);
  return Json::parse(file, nullptr, false);
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream file(path);
  for (const auto& line : lines) file << line << '\n';
}

class LabDemo {
 public:
  LabDemo(const LabDemoOptions& options) : options_(options) {}

  int run() {
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal_number, &action, nullptr);
    const int status = story();
    if (lab_up_) {
      say("lab down");
      if (run_child({"lab", "--state-dir", state_.string(), "down"}, "lab-down.log", false, true) != 0) {
        fmt::print(stderr, "demo: lab down failed; see {}\n", (work_ / "lab-down.log").string());
      }
    }
    if (g_interrupted) {
      fmt::print("\ndemo: interrupted; the lab is down, what was measured is in {}\n", work_.string());
      return 130;
    }
    fmt::print("{}", closing_);
    return status;
  }

 private:
  void say(std::string_view text) { fmt::print("\n== {}. {}\n", ++step_, text); }

  // This binary with `args`, in the lab's vantage point when `in_lab`; output to logs/`log`.
  int run_child(std::vector<std::string> args, const std::string& log, bool in_lab, bool even_if_interrupted = false) {
    if (g_interrupted && !even_if_interrupted) return 130;
    if (in_lab) {
      args.insert(args.begin(), {"lab", "--state-dir", state_.string(), "exec", "--", self_.string()});
    }
    args.insert(args.begin(), self_.string());
    // The child ignores the terminal's Ctrl-C (its own process group): the demo forwards SIGTERM and then cleans
    // up in order.
    auto child = spawn({.argv = args, .log = work_ / log, .truncate_log = true, .own_process_group = true});
    if (!child) return 127;
    g_child = child->pid;
    const ExitStatus status = wait_for_exit(child->pid);
    g_child = 0;
    return status.shell_status();
  }

  bool ok(bool condition, const std::string& what) {
    fmt::print("  [{}] {}\n", condition ? " ok " : "FAIL", what);
    failures_ += !condition;
    return condition;
  }

  int fail_step(const std::string& what, const std::string& log) {
    if (g_interrupted) return 130;
    fmt::print("  FAILED: {} (see {})\n", what, (work_ / log).string());
    std::ifstream file(work_ / log);
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) lines.push_back(line);
    for (size_t i = lines.size() > 8 ? lines.size() - 8 : 0; i < lines.size(); ++i) fmt::print("    {}\n", lines[i]);
    return kExitInternal;
  }

  int story();

  LabDemoOptions options_;
  fs::path self_ = fs::read_symlink("/proc/self/exe");
  fs::path work_, state_;
  bool lab_up_ = false;
  std::string closing_, headline_trace_;   // printed after lab down
  int step_ = 0;
  int failures_ = 0;
};

int LabDemo::story() {
  const auto started = std::chrono::steady_clock::now();
  work_ = options_.work_directory.empty() ? fs::temp_directory_path() / fmt::format("mitmscope-demo-{}", ::getuid())
                                          : fs::path(options_.work_directory);
  std::error_code error;
  fs::create_directories(work_, error);
  if (error) return report_error({ErrorCode::kFileUnreadable, fmt::format("{}: {}", work_.string(), error.message())});
  work_ = fs::canonical(work_);
  state_ = work_ / "lab";
  const bool loopback = options_.loopback || ::geteuid() != 0;
  fmt::print("mitmscope demo: TLS interception in an emulated Kazakhstan, July 2019 (scenario kz-2019)\n");
  fmt::print("work directory {}{}\n", work_.string(),
             loopback ? "\nnot root: the lab's loopback mode (hosts on 127.18.0.0/16, no routers, so no trace)" : "");
  for (const char* stale : {"demo.db", "demo.db-wal", "demo.db-shm"}) fs::remove(work_ / stale, error);

  // The scenario as shipped, with the demo's schedule: the interceptor pauses 9 s into the monitor
  // and resumes at 21 s forging with a 24-hour validity shift instead of 6 hours.
  Json scenario;
  for (const auto& file : embedded_scenario_files()) {
    if (file.name == "kz-2019.json") scenario = Json::parse(file.content);
  }
  scenario["name"] = "kz-2019-demo";
  scenario["schedule"]["events"] = Json::array({{{"at_seconds", 9}, {"interceptor", "off"}},
                                                {{"at_seconds", 21}, {"interceptor", "on"}, {"validity_shift_hours", -24}}});
  scenario["schedule"]["repeat_every_seconds"] = 0;
  std::ofstream(work_ / "scenario.json") << scenario.dump(2) << "\n";

  say(fmt::format("lab up: {} TLS hosts, the ISPs' routers and an SNI-triggered interceptor{}", options_.size,
                  loopback ? " (loopback)" : " in network namespaces"));
  std::vector<std::string> up = {"lab", "--state-dir", state_.string(), "up", "--scenario", (work_ / "scenario.json").string(),
                                 "--size", std::to_string(options_.size)};
  if (loopback) up.push_back("--loopback");
  lab_up_ = true;   // a lab up cut short is taken down too
  if (run_child(up, "lab-up.log", false) != 0) return fail_step("lab up", "lab-up.log");
  // Held on until the monitor starts the schedule's clock.
  if (run_child({"lab", "--state-dir", state_.string(), "switch", "on"}, "lab-switch.log", false) != 0) {
    return fail_step("lab switch on", "lab-switch.log");
  }
  const Json truth = read_json(state_ / "ground-truth.json");
  const auto hosts_lines = read_lines(state_ / "hosts.txt");
  const std::set<std::string> truth_intercepted = truth["intercepted_hosts"].get<std::set<std::string>>();
  fmt::print("  {} hosts in {} lines of {}; ground truth in {}\n", hosts_lines.size(), hosts_lines.size(),
             (state_ / "hosts.txt").string(), (state_ / "ground-truth.json").string());
  const std::vector<std::string> trust = {"--allow-private", "--trust-store", (state_ / "public-ca.pem").string(),
                                          "--known-roots", (state_ / "known-roots").string()};
  const std::vector<std::string> engine = {"--host-rate", "100", "--concurrency", "200", "--handshake-timeout", "20"};
  auto with = [](std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  auto host_line = [&](const std::string& ip) {
    for (const auto& line : hosts_lines) {
      if (line.starts_with(ip + ":")) return line;
    }
    return ip;
  };

  // discover: a top list of the scenario's domains hidden among decoys, screened on three hosts.
  say("discover: which domains of a top list trigger the interceptor");
  std::vector<std::string> toplist = truth["targeted_domains"].get<std::vector<std::string>>();
  for (int i = 1; i <= 120; ++i) toplist.push_back(fmt::format("site{}.example.kz", i));
  for (const char* near_miss : {"www.vk.com", "google.kz", "m.facebook.com", "youtube.com.evil.net", "instagram.org"}) {
    toplist.push_back(near_miss);
  }
  std::ranges::sort(toplist, [](const std::string& a, const std::string& b) { return std::hash<std::string>{}(a) < std::hash<std::string>{}(b); });
  write_lines(work_ / "toplist.txt", toplist);
  std::vector<std::string> screen_hosts;
  for (const auto& ip : truth["intercepted_hosts"]) {
    if (screen_hosts.size() < 3) screen_hosts.push_back(host_line(ip.get<std::string>()).substr(0, host_line(ip.get<std::string>()).find(' ')));
  }
  write_lines(work_ / "discover-hosts.txt", screen_hosts);
  if (run_child(with(with({"discover", "--hosts", (work_ / "discover-hosts.txt").string(), "--domains", (work_ / "toplist.txt").string(),
                           "--json", (work_ / "discover.json").string(), "--list", (work_ / "domains.txt").string()},
                          trust),
                     engine),
                "discover.log", true) != 0) {
    return fail_step("discover", "discover.log");
  }
  const auto discovered = read_lines(work_ / "domains.txt");
  fmt::print("  {} candidates in the top list, {} confirmed on {} hosts: {}{}\n", toplist.size(), discovered.size(),
             screen_hosts.size(), fmt::join(discovered.begin(), discovered.begin() + std::min<size_t>(6, discovered.size()), ", "),
             discovered.size() > 6 ? ", ..." : "");
  ok(std::set<std::string>(discovered.begin(), discovered.end()) == truth["targeted_domains"].get<std::set<std::string>>(),
     "exactly the scenario's targeted domains, no decoy");

  // scan: every host × the discovered domains, with control SNIs per host, into the store.
  say("scan: every host x the discovered domains, control SNIs per host, into the store");
  const std::string store = (work_ / "demo.db").string();
  if (run_child(with(with({"scan", "--hosts", (state_ / "hosts.txt").string(), "--domains", (work_ / "domains.txt").string(),
                           "--pfx2as", (state_ / "pfx2as.txt").string(), "--store", store, "--out", (work_ / "scan.jsonl").string(),
                           "--summary", (work_ / "scan-summary.json").string(), "--stateful-delay", "0.5"},
                          trust),
                     engine),
                "scan.log", true) != 0) {
    return fail_step("scan", "scan.log");
  }
  const Json summary = read_json(work_ / "scan-summary.json");
  std::set<std::string> intercepted;
  for (const auto& line : read_lines(work_ / "scan.jsonl")) {
    const Json result = Json::parse(line, nullptr, false);
    if (result.is_object() && result.value("verdict", "") == "intercepted") intercepted.insert(result.value("ip", ""));
  }
  fmt::print("  {} results; {} of {} eligible hosts intercepted ({:.1f}%)\n", read_lines(work_ / "scan.jsonl").size(),
             intercepted.size(), summary.value("eligible", 0), 100.0 * summary.value("intercepted_share", 0.0));
  ok(intercepted == truth_intercepted, fmt::format("the intercepted hosts are the ground truth's {}", truth_intercepted.size()));

  // trace: where on the path the forged certificate comes from.
  if (!loopback) {
    say("trace: TTL-limited ClientHellos to every intercepted host");
    std::vector<std::string> trace_hosts;
    for (const auto& ip : intercepted) trace_hosts.push_back(host_line(ip));
    write_lines(work_ / "trace-hosts.txt", trace_hosts);
    if (run_child(with({"trace", "--hosts", (work_ / "trace-hosts.txt").string(), "--sni", discovered.front(), "--store", store,
                        "--summary", (work_ / "trace-summary.json").string(), "--pfx2as", (state_ / "pfx2as.txt").string()},
                       trust),
                  "trace.log", true) != 0) {
      return fail_step("trace", "trace.log");
    }
    const Json traced = read_json(work_ / "trace-summary.json");
    const int hops_before = truth.value("host_hop", 0) - truth.value("interceptor_hop", 0);
    const Json pair = traced["router_pairs"].empty() ? Json::object() : traced["router_pairs"][0];
    fmt::print("  {} hosts traced: {} injected before the host, {} hops before it, between routers {} and {}\n",
               traced.value("hosts", 0), traced.value("injection_before_host", 0), hops_before,
               pair.value("router_before", "?"), pair.value("router_after", "?"));
    headline_trace_ = fmt::format(", injected at hop {} between {} and {}", truth.value("interceptor_hop", 0),
                                  pair.value("router_before", "?"), pair.value("router_after", "?"));
    ok(traced.value("injection_before_host", 0) == static_cast<int>(intercepted.size()) &&
           traced["hops_before_host"].value(std::to_string(hops_before), 0) == static_cast<int>(intercepted.size()),
       fmt::format("every forged certificate injected at hop {}, {} hops before the host", truth.value("interceptor_hop", 0), hops_before));
  }

  // monitor: rounds every 6 s while the schedule pauses and resumes the interceptor.
  say("monitor: 5 rounds, one every 6 s (30 s); the interceptor pauses at 9 s and resumes at 21 s with a 24-hour validity shift");
  std::vector<std::string> monitor_hosts;
  for (const auto& ip : truth["intercepted_hosts"]) {
    if (monitor_hosts.size() < 4) monitor_hosts.push_back(host_line(ip.get<std::string>()));
  }
  for (const auto& ip : truth["bypass_hosts"]) {
    if (monitor_hosts.size() < 6) monitor_hosts.push_back(host_line(ip.get<std::string>()));
  }
  write_lines(work_ / "monitor-hosts.txt", monitor_hosts);
  write_lines(work_ / "monitor-domains.txt", std::vector<std::string>(discovered.begin(), discovered.begin() + std::min<size_t>(3, discovered.size())));
  if (run_child({"lab", "--state-dir", state_.string(), "switch", "restart"}, "lab-switch.log", false) != 0) {
    return fail_step("lab switch restart", "lab-switch.log");
  }
  if (run_child(with(with({"monitor", "--hosts", (work_ / "monitor-hosts.txt").string(), "--domains",
                           (work_ / "monitor-domains.txt").string(), "--every", "6s", "--rounds", "5", "--store", store,
                           "--name", "demo", "--stateful-delay", "0.5", "--retries", "2", "--json"},
                          trust),
                     engine),
                "monitor.log", true) != 0) {
    return fail_step("monitor", "monitor.log");
  }

  say("report: one self-contained HTML page with charts, and the tables in Markdown and JSON");
  const std::string html = (work_ / "report.html").string();
  if (run_child({"report", "--store", store, "--format", "html", "--out", html, "--title", "mitmscope demo: kz-2019 lab"},
                "report.log", false) != 0 ||
      run_child({"report", "--store", store, "--format", "md", "--out", (work_ / "report.md").string()}, "report.log", false) != 0 ||
      run_child({"report", "--store", store, "--format", "json", "--out", (work_ / "report.json").string()}, "report.log", false) != 0) {
    return fail_step("report", "report.log");
  }
  const Json report = read_json(work_ / "report.json");
  std::vector<std::string> events, rounds;
  for (const auto& event : report["events"]) {
    if (event["type"] != "hosts_stopped" && event["type"] != "hosts_started") {
      events.push_back(fmt::format("{} (round {})", event["type"].get<std::string>(), event["round"].get<int>()));
    }
  }
  for (const auto& round : report["rounds"]) {
    if (!round["monitor"].is_null() && round["intercepted_hosts"].is_number()) rounds.push_back(round["intercepted_hosts"].dump());
  }
  fmt::print("  intercepted hosts per round: {}\n  events: {}\n", fmt::join(rounds, " "), fmt::join(events, ", "));
  ok(events == std::vector<std::string>{"baseline (round 1)", "interception_stopped (round 3)", "interception_started (round 5)",
                                        "rules_changed (round 5)"},
     "the pause and the resumption with changed rules are seen, and nothing else");
  if (!report["profile"].empty()) {
    const auto& profile = report["profile"][0];
    fmt::print("  the interceptor: {}; validity shifted {} h; key {}; serial: {}; JA3S {}\n", profile.value("issuer", ""),
               profile["not_before_shift_hours"].is_number() ? fmt::format("{:g}", profile["not_before_shift_hours"].get<double>()) : "?", profile.value("key", ""), profile.value("serial", ""),
               profile.value("ja3s", ""));
  }

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  closing_ = fmt::format("\nreport: {}\n        {}\nstore:  {} (mitmscope report --store {})\n", html,
                         (work_ / "report.md").string(), store, store);
  closing_ += fmt::format("headline: {} of {} eligible hosts intercepted for {} domains{}; the pause and the 6 h -> 24 h rule change seen\n",
                          intercepted.size(), summary.value("eligible", 0), discovered.size(), headline_trace_);
  closing_ += fmt::format("{} check{} failed, {:.0f} s\n", failures_, failures_ == 1 ? "" : "s", seconds);
  return failures_ == 0 ? kExitOk : kExitInternal;
}

}  // namespace

int run_lab_demo(const LabDemoOptions& options) { return LabDemo(options).run(); }

}  // namespace mitmscope::cli
