// What every long-running command shares, owned by the library rather than written again per command (ZGrab2's
// framework): where result lines go (`LineOutput`), how results reach a store (`StoreBatches`: batched writes
// that keep the run going after a store failure), how a person sees it advance (`Progress`), and how it is
// stopped (`stop_requested`: SIGINT/SIGTERM set a flag the loops poll; a second signal ends the process).
// scan, monitor, trace and ooni use them; each command keeps only what is its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace mitmscope::run {

// JSON Lines to a file, to stdout ("-"), or nowhere (""), one line per write.
class LineOutput {
 public:
  static Result<LineOutput> open(const std::string& path);
  LineOutput() = default;
  bool active() const { return file_ != nullptr; }
  bool is_stdout() const { return file_.get() == stdout; }
  void write(std::string_view line);
  void close() { file_.reset(); }

 private:
  UniqueFile file_;
};

// Rows for a store, written `batch` at a time by `write`. After a failed write the store takes no more rows (the
// error is kept for the end of the run); the run and its other outputs go on, so nothing measured is lost.
template <typename Row>
class StoreBatches {
 public:
  using Write = std::function<Result<void>(std::span<const Row>)>;
  StoreBatches(size_t batch, Write write) : batch_(batch), write_(std::move(write)) {}
  void add(Row row) {
    if (!write_) return;
    pending_.push_back(std::move(row));
    if (pending_.size() >= batch_) flush();
  }
  void flush() {
    if (write_ && !pending_.empty() && !error_) {
      if (auto written = write_(pending_); !written) error_ = written.error();
    }
    pending_.clear();
  }
  const std::optional<Error>& error() const { return error_; }

 private:
  size_t batch_;
  Write write_;
  std::vector<Row> pending_;
  std::optional<Error> error_;
};

// "done/expected results, rate/s, ETA, intercepted" on stderr, at most twice a second; off when not `enabled`.
class Progress {
 public:
  Progress(size_t expected, bool enabled, std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now())
      : expected_(expected), enabled_(enabled), started_(started), last_(started) {}
  void add(bool intercepted, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // The line as it would be printed now (for tests).
  std::string line(std::chrono::steady_clock::time_point now) const;
  void finish() const;
  size_t done() const { return done_; }

 private:
  size_t expected_, done_ = 0, intercepted_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point started_, last_;
};

// SIGINT and SIGTERM set this flag (stop_on_signals); loops check it between units of work.
std::atomic<bool>& stop_requested();
void stop_on_signals();
void default_signals();

}  // namespace mitmscope::run
