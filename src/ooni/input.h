// OONI measurement files as they are published, read as blocks of whole lines.
//
// Inputs: `.jsonl`, `.jsonl.gz` (one measurement per line, one or several gzip members),
// `.json` / `.json.gz` (one measurement, possibly pretty-printed), and directory trees in the
// raw bucket layout `raw/YYYYMMDD/HH/CC/testname/*.jsonl.gz`, whose folder names let a
// country or date filter skip whole folders without opening them.
//
// Memory is bounded whatever the file: a gzip member of up to kWholeMemberLimit bytes is
// inflated in one call with libdeflate (about twice zlib's speed); a larger member, or a
// compressed file larger than kWholeFileLimit, streams through ISA-L's igzip in blocks of
// kStreamBlock. The limit is low on purpose: a 60 MB member inflated whole needs 60 MB of fresh
// pages, and the kernel zeroing them cost more than libdeflate saved (Hyperquack v1, bench/RESULTS.md). A line longer
// than kMaxLine is reported and skipped, and so is the rest of a file after corrupt
// compressed data; every line before it is kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace mitmscope::ooni {

enum class FileFormat { kJsonLines, kJsonLinesGzip, kJson, kJsonGzip };

struct InputFile {
  std::filesystem::path path;
  FileFormat format = FileFormat::kJsonLines;
  uint64_t size = 0;
};

struct FileFilter {
  std::string country;                  // "KZ"; empty: all
  std::optional<UtcSeconds> since;      // inclusive
  std::optional<UtcSeconds> until;      // exclusive
};

struct FileList {
  std::vector<InputFile> files;         // sorted by path, so runs are repeatable
  size_t skipped_by_layout = 0;         // files under raw-layout folders outside the filter
  std::vector<std::string> ignored;     // files in the trees that are not measurement files
};

// Files given directly must be measurement files; directories are walked.
Result<FileList> find_input_files(const std::vector<std::string>& paths, const FileFilter& filter);

// Some whole lines of one file. `data` holds `size` bytes of complete lines and then at least
// kBlockPadding readable bytes (the JSON parser reads ahead).
struct Block {
  size_t file_index = 0;
  uint64_t first_line = 1;              // line number of the first line of `data`
  bool whole_document = false;          // .json: `data` is one measurement, newlines included
  std::string data;
  size_t size = 0;
  std::vector<std::pair<uint64_t, std::string>> errors;  // (line, reason) met while reading: too long, ...
};
inline constexpr size_t kBlockPadding = 64;

class BlockReader {
 public:
  static constexpr size_t kWholeFileLimit = 64u << 20;     // compressed bytes read in one go
  static constexpr size_t kWholeMemberLimit = 8u << 20;    // inflated bytes of one member in one call
  static constexpr size_t kStreamBlock = 8u << 20;
  static constexpr size_t kMaxLine = 32u << 20;

  static Result<std::unique_ptr<BlockReader>> open(const InputFile& file, size_t file_index);
  virtual ~BlockReader() = default;
  // The next block; nullopt at the end. An error ends the file (its message names the file and
  // where); the blocks before it were whole.
  virtual Result<std::optional<Block>> next() = 0;
  // Bytes of the file consumed so far (compressed), and produced (uncompressed).
  virtual uint64_t bytes_in() const = 0;
  virtual uint64_t bytes_out() const = 0;
};

std::string_view file_format_name(FileFormat format);

// Large buffers (inflated blocks, compressed files) are reused across files and threads. A fresh one costs the
// kernel a zeroed page for every page touched: a fifth of the time on whole-inflated 60 MB files. The pool keeps
// at most kPooledBuffers buffers of kPooledMinimum bytes or more, kPooledBytes in all, so memory stays bounded.
inline constexpr size_t kPooledBuffers = 8;
inline constexpr size_t kPooledMinimum = 1u << 20;
inline constexpr size_t kPooledBytes = 512u << 20;
class BufferPool {
 public:
  // A buffer whose capacity is at least `at_least` (its contents are unspecified).
  std::string take(size_t at_least);
  // Keeps a buffer for a later take(); small ones, and any beyond the bounds, are freed.
  void give(std::string&& buffer);
  size_t size() const;

 private:
  std::string release(std::vector<std::string>::iterator it);

  mutable std::mutex mutex_;
  std::vector<std::string> buffers_;
  size_t bytes_ = 0;
};

// The pool every reader and the pipeline share.
BufferPool& shared_buffer_pool();
std::string take_buffer(size_t at_least);
void recycle_buffer(std::string&& buffer);

}  // namespace mitmscope::ooni
