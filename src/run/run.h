// The run of a long command, owned by the library rather than written again per command (ZGrab2's framework).
// `Runner` is one run: every result goes through `add` once, which writes its line (`LineOutput`), hands its row
// to the store in batches (`StoreBatches`: a store failure keeps the error and the run going, so nothing measured
// is lost), and advances the progress line (`Progress`). It skips what an interrupted run already stored
// (`ResumeKeys`), and it is interrupted cleanly: for its life SIGINT/SIGTERM set a flag (`StopScope`) that the
// engine and the loops poll; `finish` then stores and closes what was measured and says it was interrupted, and
// a second signal ends the process at once. scan, monitor, discover, trace and ooni each own only their rules.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace mitmscope::run {

// JSON Lines to a file (replaced, or appended to: a resumed run, a monitor's rounds), to stdout ("-"), or nowhere
// (""), one line per write.
class LineOutput {
 public:
  static Result<LineOutput> open(const std::string& path, bool append = false);
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
      if (auto written = write_(pending_); !written) {
        error_ = written.error();
      } else {
        stored_ += pending_.size();
      }
    }
    pending_.clear();
  }
  const std::optional<Error>& error() const { return error_; }
  size_t stored() const { return stored_; }

 private:
  size_t batch_, stored_ = 0;
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

// stop_on_signals for a scope, default handlers after it. Nested scopes (a monitor's rounds) share the outermost:
// a signal between two rounds still stops the monitor.
class StopScope {
 public:
  StopScope();
  ~StopScope();
  StopScope(const StopScope&) = delete;
  StopScope& operator=(const StopScope&) = delete;
};

// What an interrupted run stored already, by the command's key (scan: "IP:PORT SNI"): a resumed run skips it.
class ResumeKeys {
 public:
  ResumeKeys() = default;
  explicit ResumeKeys(std::set<std::string> keys) : keys_(std::move(keys)) {}
  bool contains(const std::string& key) const { return keys_.contains(key); }
  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

 private:
  std::set<std::string> keys_;
};

struct RunnerOptions {
  size_t batch = 256;       // store rows per write
  size_t expected = 0;      // results expected, for the progress line
  bool progress = false;    // the progress line on stderr
};

// How a run ended: what it measured, whether a signal cut it short, and a store failure if one happened.
struct RunEnd {
  size_t results = 0;
  bool interrupted = false;
  std::optional<Error> store_error;
  size_t stored = 0;          // rows the store took (before its failure, if it failed)
};

// The row type of a run that stores nothing (discover).
struct NoRow {};

template <typename Row>
class Runner {
 public:
  using Write = typename StoreBatches<Row>::Write;
  Runner(LineOutput output, Write write, RunnerOptions options = {}, ResumeKeys resume = {})
      : output_(std::move(output)), batches_(options.batch, std::move(write)),
        progress_(options.expected, options.progress), resume_(std::move(resume)) {}

  // Stored by an interrupted run: not measured or written again.
  bool done_before(const std::string& key) const { return resume_.contains(key); }
  const ResumeKeys& resume() const { return resume_; }
  // One result: its line (empty: none), its row for the store (none: not stored), a step of the progress.
  void add(std::string_view line, std::optional<Row> row, bool intercepted) {
    if (!line.empty()) output_.write(line);
    if (row) batches_.add(std::move(*row));
    progress_.add(intercepted);
  }
  LineOutput& output() { return output_; }
  // Polled by the engine (EngineOptions::stop) and by loops between units of work.
  const std::atomic<bool>& stop_flag() const { return stop_requested(); }
  bool stopping() const { return stop_requested().load(); }
  // Stores what is pending and closes the output; the run's end as it happened.
  RunEnd finish() {
    batches_.flush();
    output_.close();
    progress_.finish();
    return {progress_.done(), stopping(), batches_.error(), batches_.stored()};
  }

 private:
  StopScope stop_;
  LineOutput output_;
  StoreBatches<Row> batches_;
  Progress progress_;
  ResumeKeys resume_;
};

}  // namespace mitmscope::run
