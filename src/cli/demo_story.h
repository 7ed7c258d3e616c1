// `mitmscope demo`, the README's main job, in three acts (docs/CLI.md, demo):
//  1. 2019, measured live (cli/demo_lab.cc): the kz-2019 lab; discover, scan, trace, monitor, report;
//  2. 2021-2024, found in the data (cli/demo_data.cc): the kz-2021 scenario as OONI measurements (lab/ooni_corpus),
//     analysed by `ooni` as a researcher would analyse the real archives, stored and reported;
//  3. what defenders do with it (cli/demo_defend.cc): export, a sentinel visited by real clients, audit.
// Each step is this same binary run as a child (its log under the work directory); the demo prints what it does,
// checks the headline figures against the ground truth, and takes the lab down on every exit, Ctrl-C and SIGTERM
// included. `demo --act N` runs one act.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <set>
#include <string_view>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "lab/ooni_corpus.h"

namespace mitmscope::cli::demo {

namespace fs = std::filesystem;
using Json = nlohmann::json;

inline volatile std::sig_atomic_t g_interrupted = 0;
inline volatile pid_t g_child = 0;

void on_signal(int);
Json read_json(const fs::path& path);
std::vector<std::string> read_lines(const fs::path& path);
void write_lines(const fs::path& path, const std::vector<std::string>& lines);

class DemoStory {
 public:
  explicit DemoStory(const LabDemoOptions& options) : options_(options) {}
  // The acts asked for; the lab down on every exit; the closing lines. The exit status: 0 when every check passed.
  int run();

 private:
  void say(std::string_view text);
  void act(int number, std::string_view title);
  // This binary with `args`, in the lab's vantage point when `in_lab`; output to the work directory's `log`.
  int run_child(std::vector<std::string> args, const std::string& log, bool in_lab, bool even_if_interrupted = false);
  // Another program (found in PATH), the same way.
  int run_program(std::vector<std::string> argv, const std::string& log, bool in_lab, bool even_if_interrupted = false);
  bool ok(bool condition, const std::string& what);
  int fail_step(const std::string& what, const std::string& log);
  int prepare_work();

  int story();
  // Act 1: 2019, measured live (cli/demo_lab.cc).
  int lab_act();
  int prepare();
  int discover();
  int scan();
  int trace();
  int monitor();
  int monitor_findings();
  int report();
  std::vector<std::string> with_trust(std::vector<std::string> args, bool with_engine = true) const;
  std::string host_line(const std::string& ip) const;
  // Act 2: 2021-2024, found in the data (cli/demo_data.cc).
  int data_act();
  void sources_findings(const Json& analysis);
  int data_findings(const fs::path& analysis);
  int data_report();
  // Act 3: what defenders do with it (cli/demo_defend.cc).
  int defend_act();
  int export_step();
  int sentinel_step();
  void visit(const std::string& address, bool chromium);
  int sentinel_findings(const std::string& through, const std::string& beside, bool chromium, int reassembled);
  int audit_step();

  LabDemoOptions options_;
  fs::path self_ = fs::read_symlink("/proc/self/exe");
  fs::path work_, state_;
  bool lab_up_ = false;
  std::string closing_, headline_trace_;   // printed after lab down
  std::vector<std::string> headlines_;     // one per act, printed at the end
  std::string store_;
  bool loopback_ = false;
  Json truth_;                              // the lab's ground truth
  double first_shift_hours_ = 0;            // the scenario's first forging rules: the validity shift
  std::vector<std::string> hosts_lines_, discovered_;
  std::set<std::string> intercepted_;
  size_t eligible_ = 0;
  fs::path corpus_;                         // act 2: the measurements and their ground truth
  std::optional<lab::OoniCorpusTruth> data_truth_;
  std::string defend_headline_;
  pid_t background_ = 0;                    // act 3's sentinel while it runs
  std::string data_store_;
  int step_ = 0;
  int failures_ = 0;
};

}  // namespace mitmscope::cli::demo
