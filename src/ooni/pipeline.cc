#include "ooni/pipeline.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace mitmscope::ooni {
namespace {

struct OpenFile {
  size_t index = 0;
  std::unique_ptr<BlockReader> reader;
};

class Pipeline {
 public:
  Pipeline(const std::vector<InputFile>& files, size_t threads, const PipelineCallbacks& callbacks)
      : files_(files), threads_(threads), callbacks_(callbacks) {}

  PipelineStats run() {
    std::vector<std::thread> workers;
    for (size_t i = 1; i < threads_; ++i) workers.emplace_back([this, i] { work(i); });
    work(0);
    for (auto& worker : workers) worker.join();
    return stats_;
  }

 private:
  void work(size_t worker) {
    std::unique_lock lock(mutex_);
    while (true) {
      if (callbacks_.stop && callbacks_.stop->load()) {
        stats_.stopped = true;
        changed_.notify_all();
        return;
      }
      if (!ready_.empty()) {
        Block block = std::move(ready_.front());
        ready_.pop_front();
        changed_.notify_all();
        lock.unlock();
        callbacks_.consume(block, worker);
        recycle_buffer(std::move(block.data));
        lock.lock();
        continue;
      }
      std::optional<OpenFile> file;
      if (!idle_.empty()) {
        file = std::move(idle_.front());
        idle_.pop_front();
      } else if (next_file_ < files_.size()) {
        file = OpenFile{next_file_++, nullptr};
      }
      if (!file) {
        if (reading_ == 0 && ready_.empty()) {
          changed_.notify_all();
          return;
        }
        changed_.wait_for(lock, std::chrono::milliseconds(100));   // also to see `stop`
        continue;
      }
      ++reading_;
      lock.unlock();
      auto block = read_block(*file);
      lock.lock();
      --reading_;
      if (block) {
        ++stats_.blocks;
        ready_.push_back(std::move(*block));
        idle_.push_front(std::move(*file));
      }
      changed_.notify_all();
      // Keep the number of waiting blocks bounded: parse before inflating more.
      while (ready_.size() > threads_ && !ready_.empty()) {
        Block waiting = std::move(ready_.front());
        ready_.pop_front();
        lock.unlock();
        callbacks_.consume(waiting, worker);
        recycle_buffer(std::move(waiting.data));
        lock.lock();
      }
    }
  }

  // The next block of a file; nullopt when the file is done (its totals are then counted).
  std::optional<Block> read_block(OpenFile& file) {
    if (!file.reader) {
      auto opened = BlockReader::open(files_[file.index], file.index);
      if (!opened) {
        finish_file(file, &opened.error());
        return std::nullopt;
      }
      file.reader = std::move(*opened);
    }
    auto block = file.reader->next();
    if (!block) {
      finish_file(file, &block.error());
      return std::nullopt;
    }
    if (!*block) {
      finish_file(file, nullptr);
      return std::nullopt;
    }
    return std::move(**block);
  }

  void finish_file(OpenFile& file, const Error* error) {
    if (error) callbacks_.file_failed(file.index, *error);
    std::lock_guard guard(stats_mutex_);
    ++stats_.files;
    if (error) ++stats_.files_failed;
    if (file.reader) {
      stats_.bytes_in += file.reader->bytes_in();
      stats_.bytes_out += file.reader->bytes_out();
    }
  }

  const std::vector<InputFile>& files_;
  size_t threads_;
  const PipelineCallbacks& callbacks_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Block> ready_;
  std::deque<OpenFile> idle_;
  size_t next_file_ = 0;
  size_t reading_ = 0;
  std::mutex stats_mutex_;
  PipelineStats stats_;
};

}  // namespace

PipelineStats run_pipeline(const std::vector<InputFile>& files, size_t threads, const PipelineCallbacks& callbacks) {
  Pipeline pipeline(files, threads == 0 ? 1 : threads, callbacks);
  return pipeline.run();
}

}  // namespace mitmscope::ooni
