// `mitmscope demo`, the frame of every act (cli/demo_story.h): the work directory, the acts asked for, the children
// they run, their checks, and the lab down on every exit.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <utility>

#include <fmt/format.h>

#include "cli/common.h"
#include "cli/demo_story.h"
#include "core/process.h"

namespace mitmscope::cli::demo {

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

int DemoStory::run() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal_number, &action, nullptr);
  const int status = story();
  if (background_ > 0) {
    ::kill(background_, SIGTERM);
    wait_for_exit(background_, std::chrono::milliseconds(5000));
  }
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

void DemoStory::say(std::string_view text) { fmt::print("\n== {}. {}\n", ++step_, text); }

void DemoStory::act(int number, std::string_view title) { fmt::print("\n=== Act {}: {}\n", number, title); }

int DemoStory::run_child(std::vector<std::string> args, const std::string& log, bool in_lab, bool even_if_interrupted) {
  args.insert(args.begin(), self_.string());
  return run_program(std::move(args), log, in_lab, even_if_interrupted);
}

int DemoStory::run_program(std::vector<std::string> args, const std::string& log, bool in_lab, bool even_if_interrupted) {
  if (g_interrupted && !even_if_interrupted) return 130;
  if (in_lab) args.insert(args.begin(), {self_.string(), "lab", "--state-dir", state_.string(), "exec", "--"});
  // The child ignores the terminal's Ctrl-C (its own process group): the demo forwards SIGTERM and then cleans up in
  // order.
  auto child = spawn({.argv = args, .log = work_ / log, .truncate_log = true, .own_process_group = true});
  if (!child) return 127;
  g_child = child->pid;
  const ExitStatus status = wait_for_exit(child->pid);
  g_child = 0;
  return status.shell_status();
}

bool DemoStory::ok(bool condition, const std::string& what) {
  fmt::print("  [{}] {}\n", condition ? " ok " : "FAIL", what);
  failures_ += !condition;
  return condition;
}

int DemoStory::fail_step(const std::string& what, const std::string& log) {
  if (g_interrupted) return 130;
  fmt::print("  FAILED: {} (see {})\n", what, (work_ / log).string());
  const auto lines = read_lines(work_ / log);
  for (size_t i = lines.size() > 8 ? lines.size() - 8 : 0; i < lines.size(); ++i) fmt::print("    {}\n", lines[i]);
  return kExitInternal;
}

// The work directory, made and named.
int DemoStory::prepare_work() {
  work_ = options_.work_directory.empty() ? fs::temp_directory_path() / fmt::format("mitmscope-demo-{}", ::getuid())
                                          : fs::path(options_.work_directory);
  std::error_code error;
  fs::create_directories(work_, error);
  if (error) return report_error({ErrorCode::kFileUnreadable, fmt::format("{}: {}", work_.string(), error.message())});
  work_ = fs::canonical(work_);
  state_ = work_ / "lab";
  store_ = (work_ / "demo.db").string();
  data_store_ = (work_ / "data.db").string();
  corpus_ = work_ / "corpus";
  loopback_ = options_.loopback || ::geteuid() != 0;
  fmt::print("mitmscope demo: TLS interception in Kazakhstan, 2019-2024, and what defenders do about it\n");
  fmt::print("work directory {}\n", work_.string());
  return kExitOk;
}

int DemoStory::story() {
  const auto started = std::chrono::steady_clock::now();
  if (const int status = prepare_work(); status != kExitOk) return status;
  using Act = int (DemoStory::*)();
  for (auto [number, act] : {std::pair<int, Act>{1, &DemoStory::lab_act}, std::pair<int, Act>{2, &DemoStory::data_act},
                             std::pair<int, Act>{3, &DemoStory::defend_act}}) {
    if (options_.act != 0 && options_.act != number) continue;
    if (const int status = (this->*act)(); status != kExitOk) return status;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const auto& headline : headlines_) closing_ += headline;
  closing_ += fmt::format("{} check{} failed, {:.0f} s\n", failures_, failures_ == 1 ? "" : "s", seconds);
  return failures_ == 0 ? kExitOk : kExitInternal;
}

}  // namespace mitmscope::cli::demo

namespace mitmscope::cli {

int run_lab_demo(const LabDemoOptions& options) { return demo::DemoStory(options).run(); }

}  // namespace mitmscope::cli
