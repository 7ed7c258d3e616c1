// Reading many measurement files on every core.
//
// Workers share two kinds of work: inflating the next block of a file (one worker at a time
// per file, since a compressed stream is sequential) and parsing a block already inflated.
// A worker parses when a block is waiting and inflates otherwise, so one large file keeps
// both cores busy (one inflates, the other parses) and a tree of small files does too.
// At most `threads` blocks wait at once: memory is bounded by the block size, not the input.
#pragma once

#include <atomic>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/error.h"
#include "ooni/input.h"

namespace mitmscope::ooni {

struct PipelineStats {
  uint64_t files = 0;
  uint64_t files_failed = 0;
  uint64_t bytes_in = 0;      // as stored (compressed)
  uint64_t bytes_out = 0;     // uncompressed
  uint64_t blocks = 0;
  bool stopped = false;       // `stop` was set: files after it were not read to their end
};

struct PipelineCallbacks {
  // Every block of every file, on worker `worker` (0 .. threads-1).
  std::function<void(Block& block, size_t worker)> consume;
  // A file that could not be opened or ended in an error; its earlier blocks were consumed.
  std::function<void(size_t file_index, const Error& error)> file_failed;
  // Polled between blocks: when set, the workers finish the block in hand and return (a signal, run/run.h).
  const std::atomic<bool>* stop = nullptr;
};

PipelineStats run_pipeline(const std::vector<InputFile>& files, size_t threads, const PipelineCallbacks& callbacks);

}  // namespace mitmscope::ooni
