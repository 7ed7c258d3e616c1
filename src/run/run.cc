#include "run/run.h"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>

namespace mitmscope::run {

Result<LineOutput> LineOutput::open(const std::string& path, bool append) {
  LineOutput output;
  if (path == "-") {
    output.file_.reset(stdout);
  } else if (!path.empty()) {
    auto opened = open_file(path, append ? "a" : "w");
    if (!opened) return std::unexpected(opened.error());
    output.file_ = std::move(*opened);
  }
  return output;
}

void LineOutput::write(std::string_view line) {
  if (file_) fmt::print(file_.get(), "{}\n", line);
}

void Progress::add(bool intercepted, std::chrono::steady_clock::time_point now) {
  ++done_;
  intercepted_ += intercepted;
  if (!enabled_ || now - last_ <= std::chrono::milliseconds(500)) return;
  last_ = now;
  fmt::print(stderr, "\r{}   ", line(now));
}

std::string Progress::line(std::chrono::steady_clock::time_point now) const {
  const double seconds = std::chrono::duration<double>(now - started_).count();
  const double per_second = double(done_) / std::max(seconds, 1e-9);
  const double eta = expected_ > done_ ? double(expected_ - done_) / std::max(per_second, 1e-9) : 0;
  return fmt::format("{}/{} results, {:.0f}/s, ETA {:.0f} s, intercepted {}", done_, expected_, per_second, eta, intercepted_);
}

void Progress::finish() const {
  if (enabled_) fmt::print(stderr, "\n");
}

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {
void on_stop_signal(int number) {
  stop_requested() = true;
  std::signal(number, SIG_DFL);   // a second signal ends the process at once
}
}  // namespace

void stop_on_signals() {
  stop_requested() = false;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

void default_signals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

namespace {
int& stop_scope_depth() {
  static int depth = 0;
  return depth;
}
}  // namespace

StopScope::StopScope() {
  if (stop_scope_depth()++ == 0) stop_on_signals();
}

StopScope::~StopScope() {
  if (--stop_scope_depth() == 0) default_signals();
}

}  // namespace mitmscope::run
