// ooni_inflate: the decompression floor of `mitmscope ooni`. Runs the same reading pipeline
// (libdeflate for whole members, zlib when streaming, blocks of whole lines, all workers) over the
// same files and does nothing with the lines, so bench/ooni_bench.sh can print how much of the
// end-to-end time is inflating. Usage: ooni_inflate THREADS PATH...
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ooni/input.h"
#include "ooni/pipeline.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: ooni_inflate THREADS PATH...\n");
    return 2;
  }
  const size_t threads = std::stoul(argv[1]);
  std::vector<std::string> paths(argv + 2, argv + argc);
  auto files = mitmscope::ooni::find_input_files(paths, {});
  if (!files) {
    fmt::print(stderr, "ooni_inflate: {}\n", files.error().message);
    return 3;
  }
  const auto started = std::chrono::steady_clock::now();
  std::vector<uint64_t> lines(threads, 0);
  mitmscope::ooni::PipelineCallbacks callbacks{
      .consume = [&](mitmscope::ooni::Block& block, size_t worker) { lines[worker] += block.size; },
      .file_failed = [](size_t, const mitmscope::Error& error) { fmt::print(stderr, "ooni_inflate: {}\n", error.message); },
  };
  const auto stats = mitmscope::ooni::run_pipeline(files->files, threads, callbacks);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("{{\"threads\": {}, \"files\": {}, \"bytes_compressed\": {}, \"bytes_uncompressed\": {}, \"seconds\": {:.3f}, "
             "\"mb_per_second\": {:.1f}}}\n",
             threads, stats.files, stats.bytes_in, stats.bytes_out, seconds, static_cast<double>(stats.bytes_out) / 1e6 / seconds);
  return stats.files_failed ? 1 : 0;
}
