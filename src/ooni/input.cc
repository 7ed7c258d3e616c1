#include "ooni/input.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <unistd.h>
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "core/unique_fd.h"

namespace mitmscope::ooni {
namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::optional<FileFormat> format_of(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  if (ends_with(name, ".jsonl.gz")) return FileFormat::kJsonLinesGzip;
  if (ends_with(name, ".jsonl")) return FileFormat::kJsonLines;
  if (ends_with(name, ".json.gz")) return FileFormat::kJsonGzip;
  if (ends_with(name, ".json")) return FileFormat::kJson;
  return std::nullopt;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Raw layout: raw/YYYYMMDD/HH/CC/testname/. A folder that the filter excludes is not entered.
bool folder_excluded(const std::filesystem::path& folder, const FileFilter& filter) {
  const std::string name = folder.filename().string();
  const std::string parent = folder.parent_path().filename().string();
  if (name.size() == 8 && all_digits(name) && (filter.since || filter.until)) {
    const int year = std::stoi(name.substr(0, 4));
    const unsigned month = static_cast<unsigned>(std::stoi(name.substr(4, 2)));
    const unsigned day = static_cast<unsigned>(std::stoi(name.substr(6, 2)));
    const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
    if (!date.ok()) return false;
    const UtcSeconds start{std::chrono::sys_days{date}};
    if (filter.since && start + std::chrono::days{1} <= *filter.since) return true;
    if (filter.until && start >= *filter.until) return true;
    return false;
  }
  if (!filter.country.empty() && name.size() == 2 && std::isupper(static_cast<unsigned char>(name[0])) &&
      std::isupper(static_cast<unsigned char>(name[1])) && parent.size() == 2 && all_digits(parent)) {
    return name != filter.country;
  }
  return false;
}

Error file_error(const std::filesystem::path& path, std::string_view what) {
  return {ErrorCode::kFileUnreadable, fmt::format("{}: {}: {}", path.string(), what, std::strerror(errno))};
}

// Turns produced bytes into blocks of whole lines, counting lines and cutting off lines that are
// too long (kept from being buffered: memory stays bounded).
class LineAssembler {
 public:
  explicit LineAssembler(size_t file_index) : file_index_(file_index) {}
  ~LineAssembler() { recycle_buffer(std::move(buffer_)); }
  LineAssembler(const LineAssembler&) = delete;
  LineAssembler& operator=(const LineAssembler&) = delete;

  // Room for `count` more bytes at the end; commit() what was written there.
  char* reserve(size_t count) {
    // Not zero-filled: every byte up to used_ is written before it is read, and the padding is set in take().
    const size_t size = used_ + count + kBlockPadding;
    if (buffer_.capacity() < size) {
      std::string larger = take_buffer(std::max(size, 2 * buffer_.capacity()));
      larger.resize_and_overwrite(used_, [&](char* out, size_t n) {
        std::memcpy(out, buffer_.data(), n);
        return n;
      });
      recycle_buffer(std::move(buffer_));
      buffer_ = std::move(larger);
    }
    if (buffer_.size() < size) buffer_.resize_and_overwrite(size, [](char*, size_t n) { return n; });
    return buffer_.data() + used_;
  }
  void commit(size_t count) {
    const size_t start = used_;
    used_ += count;
    if (discarding_) {
      const char* newline = static_cast<const char*>(std::memchr(buffer_.data() + start, '\n', used_ - start));
      if (!newline) {
        used_ = start;
        return;
      }
      const size_t after = static_cast<size_t>(newline - buffer_.data()) + 1;
      std::memmove(buffer_.data() + start, buffer_.data() + after, used_ - after);
      used_ = start + (used_ - after);
      discarding_ = false;
      ++next_line_;
    }
    // The first buffered line too long: dropped (and the rest of it, still to come, with it).
    if (used_ > BlockReader::kMaxLine) {
      const char* newline = static_cast<const char*>(std::memchr(buffer_.data(), '\n', used_));
      const size_t first_line = newline ? static_cast<size_t>(newline - buffer_.data()) : used_;
      if (first_line > BlockReader::kMaxLine) {
        errors_.emplace_back(next_line_, fmt::format("line longer than {} MiB, skipped", BlockReader::kMaxLine >> 20));
        if (newline) {
          std::memmove(buffer_.data(), newline + 1, used_ - first_line - 1);
          used_ -= first_line + 1;
          ++next_line_;
        } else {
          used_ = 0;
          discarding_ = true;
        }
      }
    }
  }
  size_t used() const { return used_; }

  // Whether the first buffered line is a whole JSON value on its own ('{'...'}' or '['...']'): a .json file that
  // is JSON Lines (Censored Planet's results.json), not one document spread over lines. nullopt until a line ends
  // (or `at_end`).
  std::optional<bool> first_line_whole(bool at_end) const {
    const char* data = buffer_.data();
    const char* newline = static_cast<const char*>(std::memchr(data, '\n', used_));
    if (!newline && !at_end) return std::nullopt;
    std::string_view line(data, newline ? static_cast<size_t>(newline - data) : used_);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    if (line.size() < 2) return false;
    return (line.front() == '{' && line.back() == '}') || (line.front() == '[' && line.back() == ']');
  }

  // The complete lines buffered (all of them at the end of the file), when at least `minimum` bytes are.
  std::optional<Block> take(size_t minimum, bool at_end) {
    if (used_ < minimum || (used_ == 0 && errors_.empty())) return std::nullopt;
    size_t cut = used_;
    if (!at_end) {
      const char* data = buffer_.data();
      size_t last = used_;
      while (last > 0 && data[last - 1] != '\n') --last;
      if (last == 0 && errors_.empty()) return std::nullopt;
      cut = last;
    }
    Block block;
    block.file_index = file_index_;
    block.first_line = next_line_;
    block.errors = std::move(errors_);
    errors_.clear();
    std::string rest(buffer_.data() + cut, used_ - cut);
    for (const char* cursor = buffer_.data(); const char* newline = static_cast<const char*>(
             std::memchr(cursor, '\n', static_cast<size_t>(buffer_.data() + cut - cursor)));
         cursor = newline + 1) {
      ++next_line_;
    }
    if (at_end && cut > 0 && buffer_[cut - 1] != '\n') ++next_line_;
    block.data = std::move(buffer_);
    block.data.resize(cut + kBlockPadding);
    std::memset(block.data.data() + cut, ' ', kBlockPadding);
    block.size = cut;
    buffer_ = std::move(rest);
    used_ = buffer_.size();
    return block;
  }

 private:
  size_t file_index_;
  std::string buffer_;
  size_t used_ = 0;
  uint64_t next_line_ = 1;
  bool discarding_ = false;
  std::vector<std::pair<uint64_t, std::string>> errors_;
};

// Reads up to `count` bytes; 0 at the end.
Result<size_t> read_some(int fd, char* out, size_t count, const std::filesystem::path& path) {
  while (true) {
    const ssize_t got = ::read(fd, out, count);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return std::unexpected(file_error(path, "cannot read"));
  }
}

// One reader for every format: bytes come from the file (plain), from libdeflate (a whole gzip
// member at once) or from ISA-L (streaming); the assembler cuts them into lines.
class FileReader final : public BlockReader {
 public:
  FileReader(const InputFile& file, size_t file_index, UniqueFd handle)
      : file_(file), handle_(std::move(handle)), lines_(file_index) {}
  ~FileReader() override {
    if (decompressor_) libdeflate_free_decompressor(decompressor_);
    recycle_buffer(std::move(compressed_));
  }

  Result<void> start() {
    const bool gzip = file_.format == FileFormat::kJsonLinesGzip || file_.format == FileFormat::kJsonGzip;
    if (!gzip) return {};
    if (file_.size <= kWholeFileLimit) {
      compressed_ = take_buffer(file_.size);
      compressed_.resize_and_overwrite(file_.size, [](char*, size_t n) { return n; });  // read over at once
      size_t got = 0;
      while (got < compressed_.size()) {
        auto read = read_some(handle_.get(), compressed_.data() + got, compressed_.size() - got, file_.path);
        if (!read) return std::unexpected(read.error());
        if (*read == 0) break;
        got += *read;
      }
      compressed_.resize(got);
      whole_ = true;
      decompressor_ = libdeflate_alloc_decompressor();
      if (!decompressor_) return make_error(ErrorCode::kCryptoError, "cannot allocate a decompressor");
    }
    return {};
  }

  Result<std::optional<Block>> next() override {
    while (true) {
      decide_layout();
      const bool document = document_;
      if (done_) return std::optional<Block>{};
      if (pending_error_) {
        // The whole lines before the damage first; the partial line at the damage is dropped.
        if (auto block = lines_.take(0, false)) return block;
        done_ = true;
        return std::unexpected(*pending_error_);
      }
      if (!document) {
        if (auto block = lines_.take(finished_ ? 0 : kStreamBlock, finished_)) return block;
      }
      if (finished_) {
        done_ = true;
        if (!document) return std::optional<Block>{};
        auto block = lines_.take(0, true);
        if (!block || block->size == 0) {
          return make_error(ErrorCode::kParseError, fmt::format("{}: empty file", file_.path.string()));
        }
        block->whole_document = true;
        return block;
      }
      if (auto produced = produce(); !produced) {
        pending_error_ = produced.error();
      } else if (!*produced) {
        finished_ = true;
      } else if (whole_ && !stream_active_ && !document) {
        // A whole member was inflated: hand its lines out now.
        if (auto block = lines_.take(0, false)) return block;
      }
      if (document && lines_.used() > kMaxLine) {
        done_ = true;
        return make_error(ErrorCode::kParseError,
                          fmt::format("{}: a .json file holds one measurement of at most {} MiB", file_.path.string(),
                                      kMaxLine >> 20));
      }
    }
  }

  uint64_t bytes_in() const override { return bytes_in_; }
  uint64_t bytes_out() const override { return bytes_out_; }

 private:
  // A .json file is one document (OONI's API, a RIPE Atlas result array, pretty-printed) unless its first line is a
  // whole JSON value: then it is JSON Lines under another name and is read line by line, in bounded blocks.
  void decide_layout() {
    if (layout_decided_) return;
    if (file_.format != FileFormat::kJson && file_.format != FileFormat::kJsonGzip) {
      layout_decided_ = true;
      document_ = false;
      return;
    }
    auto whole = lines_.first_line_whole(finished_);
    if (!whole) return;
    layout_decided_ = true;
    document_ = !*whole;
  }

  // Adds bytes to the assembler; false at the end of the file.
  Result<bool> produce() {
    switch (file_.format) {
      case FileFormat::kJsonLines:
      case FileFormat::kJson: {
        char* out = lines_.reserve(kStreamBlock);
        auto got = read_some(handle_.get(), out, kStreamBlock, file_.path);
        if (!got) return std::unexpected(got.error());
        lines_.commit(*got);
        bytes_in_ += *got;
        bytes_out_ += *got;
        return *got > 0;
      }
      case FileFormat::kJsonLinesGzip:
      case FileFormat::kJsonGzip:
        if (whole_ && !stream_active_) return inflate_member();
        return inflate_stream();
    }
    return false;
  }

  // libdeflate: the next gzip member of the file in memory, in one call.
  Result<bool> inflate_member() {
    if (offset_ >= compressed_.size()) return false;
    const uint8_t* in = reinterpret_cast<const uint8_t*>(compressed_.data()) + offset_;
    const size_t available = compressed_.size() - offset_;
    // The trailer's ISIZE is exact for the usual single-member file.
    size_t guess = 0;
    if (available >= 18) {
      const uint8_t* trailer = reinterpret_cast<const uint8_t*>(compressed_.data()) + compressed_.size() - 4;
      guess = static_cast<size_t>(trailer[0]) | static_cast<size_t>(trailer[1]) << 8 |
              static_cast<size_t>(trailer[2]) << 16 | static_cast<size_t>(trailer[3]) << 24;
    }
    // A (last) member larger than one call may inflate, as its trailer says: the file streams from the start, since
    // trying first would inflate kWholeMemberLimit bytes for nothing.
    if (offset_ == 0 && guess > kWholeMemberLimit) return start_stream_at(offset_);
    size_t capacity = std::clamp<size_t>(std::max(guess, available * 4), 1u << 16, kWholeMemberLimit);
    while (true) {
      char* out = lines_.reserve(capacity);
      size_t used_in = 0, used_out = 0;
      const auto result =
          libdeflate_gzip_decompress_ex(decompressor_, in, available, out, capacity, &used_in, &used_out);
      if (result == LIBDEFLATE_SUCCESS) {
        lines_.commit(used_out);
        offset_ += used_in;
        bytes_in_ += used_in;
        bytes_out_ += used_out;
        return true;
      }
      lines_.commit(0);
      if (result == LIBDEFLATE_INSUFFICIENT_SPACE && capacity < kWholeMemberLimit) {
        capacity = std::min(capacity * 4, kWholeMemberLimit);
        continue;
      }
      // Too large for one call, or damaged: ISA-L streams this member and keeps what precedes the damage.
      return start_stream_at(offset_);
    }
  }

  Result<bool> start_stream_at(size_t offset) {
    if (!stream_) stream_ = std::make_unique<inflate_state>();
    isal_inflate_init(stream_.get());
    stream_->crc_flag = ISAL_GZIP;  // the gzip header parsed, the CRC-32 checked
    stream_active_ = true;
    stream_offset_ = offset;
    return true;
  }

  // The next input for the stream: the rest of the file in memory, or 1 MiB more from the file; false at its end.
  Result<bool> feed_stream() {
    if (whole_) {
      if (stream_offset_ >= compressed_.size()) return false;
      const size_t chunk = std::min<size_t>(compressed_.size() - stream_offset_, 1u << 30);
      stream_->next_in = reinterpret_cast<uint8_t*>(compressed_.data() + stream_offset_);
      stream_->avail_in = static_cast<uint32_t>(chunk);
      stream_offset_ += chunk;
      return true;
    }
    input_.resize(1u << 20);
    auto got = read_some(handle_.get(), input_.data(), input_.size(), file_.path);
    if (!got) return std::unexpected(got.error());
    stream_->next_in = reinterpret_cast<uint8_t*>(input_.data());
    stream_->avail_in = static_cast<uint32_t>(*got);
    return *got > 0;
  }

  // A member ended: the next one starts where it stopped (anything but a gzip header there is an error).
  Result<void> next_member() {
    member_open_ = false;
    if (stream_->avail_in > 0 && stream_->next_in[0] != 0x1f) {
      return make_error(ErrorCode::kParseError,
                        fmt::format("{}: data after the last gzip member at byte {}", file_.path.string(), bytes_in_));
    }
    uint8_t* next_in = stream_->next_in;
    const uint32_t avail_in = stream_->avail_in;
    isal_inflate_reset(stream_.get());
    stream_->crc_flag = ISAL_GZIP;
    stream_->next_in = next_in;
    stream_->avail_in = avail_in;
    return {};
  }

  // ISA-L (igzip, several times zlib's speed): up to kStreamBlock more bytes; members follow each other.
  Result<bool> inflate_stream() {
    if (!stream_active_) {
      if (auto started = start_stream_at(0); !started) return started;
    }
    size_t produced = 0;
    while (produced < kStreamBlock) {
      if (stream_->avail_in == 0) {
        auto fed = feed_stream();
        if (!fed) return std::unexpected(fed.error());
        if (!*fed) return end_of_input(produced);
      }
      const size_t room = kStreamBlock - produced;
      char* out = lines_.reserve(room);
      stream_->next_out = reinterpret_cast<uint8_t*>(out);
      stream_->avail_out = static_cast<uint32_t>(room);
      const uint32_t before_in = stream_->avail_in;
      const int status = isal_inflate(stream_.get());
      const size_t wrote = room - stream_->avail_out;
      lines_.commit(wrote);
      produced += wrote;
      bytes_out_ += wrote;
      bytes_in_ += before_in - stream_->avail_in;
      member_open_ = true;
      if (status < 0) {
        return make_error(ErrorCode::kParseError, fmt::format("{}: corrupt gzip data near compressed byte {} (ISA-L error {})",
                                                              file_.path.string(), bytes_in_, status));
      }
      if (stream_->block_state == ISAL_BLOCK_FINISH) {
        if (auto next = next_member(); !next) return std::unexpected(next.error());
      }
    }
    return true;
  }

  // The compressed input is used up: the end, unless a member is cut short.
  Result<bool> end_of_input(size_t produced) {
    if (produced > 0) return true;
    if (!member_open_) return false;
    return make_error(ErrorCode::kParseError,
                      fmt::format("{}: the gzip data ends early (truncated file) after {} compressed bytes",
                                  file_.path.string(), bytes_in_));
  }

  InputFile file_;
  UniqueFd handle_;
  LineAssembler lines_;
  std::string compressed_;
  std::string input_;
  size_t offset_ = 0;
  size_t stream_offset_ = 0;
  bool whole_ = false;
  libdeflate_decompressor* decompressor_ = nullptr;
  std::unique_ptr<inflate_state> stream_;   // ISA-L's state (tens of KiB): made when a file first streams
  bool stream_active_ = false;
  bool member_open_ = false;
  bool finished_ = false;
  bool done_ = false;
  bool document_ = true;         // until decide_layout() has seen the first line
  bool layout_decided_ = false;
  std::optional<Error> pending_error_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

}  // namespace

std::string BufferPool::take(size_t at_least) {
  {
    std::lock_guard guard(mutex_);
    auto best = buffers_.end();
    for (auto it = buffers_.begin(); it != buffers_.end(); ++it) {
      if (it->capacity() >= at_least && (best == buffers_.end() || it->capacity() < best->capacity())) best = it;
    }
    if (best != buffers_.end()) return release(best);
    // None is large enough: the largest is let go, so the pool follows the sizes in use.
    if (!buffers_.empty()) {
      release(std::max_element(buffers_.begin(), buffers_.end(),
                               [](const auto& a, const auto& b) { return a.capacity() < b.capacity(); }));
    }
  }
  std::string fresh;
  // Whole MiB, so that the next request of nearly the same size finds this buffer.
  fresh.reserve(at_least < kPooledMinimum ? at_least
                                          : (at_least + kPooledMinimum - 1) / kPooledMinimum * kPooledMinimum);
  return fresh;
}

void BufferPool::give(std::string&& buffer) {
  if (buffer.capacity() < kPooledMinimum) return;
  std::lock_guard guard(mutex_);
  if (buffers_.size() >= kPooledBuffers || bytes_ + buffer.capacity() > kPooledBytes) return;
  bytes_ += buffer.capacity();
  buffers_.push_back(std::move(buffer));
}

size_t BufferPool::size() const {
  std::lock_guard guard(mutex_);
  return buffers_.size();
}

std::string BufferPool::release(std::vector<std::string>::iterator it) {
  std::string buffer = std::move(*it);
  buffers_.erase(it);
  bytes_ -= buffer.capacity();
  return buffer;
}

BufferPool& shared_buffer_pool() {
  static BufferPool pool;
  return pool;
}

std::string take_buffer(size_t at_least) { return shared_buffer_pool().take(at_least); }

void recycle_buffer(std::string&& buffer) { shared_buffer_pool().give(std::move(buffer)); }

std::string_view file_format_name(FileFormat format) {
  switch (format) {
    case FileFormat::kJsonLines: return "jsonl";
    case FileFormat::kJsonLinesGzip: return "jsonl.gz";
    case FileFormat::kJson: return "json";
    case FileFormat::kJsonGzip: return "json.gz";
  }
  return "?";
}

Result<FileList> find_input_files(const std::vector<std::string>& paths, const FileFilter& filter) {
  FileList list;
  for (const auto& text : paths) {
    const std::filesystem::path path(text);
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (error || !std::filesystem::exists(status)) {
      return make_error(ErrorCode::kFileNotFound, fmt::format("{}: no such file or directory", text));
    }
    if (std::filesystem::is_directory(status)) {
      std::filesystem::recursive_directory_iterator it(path, std::filesystem::directory_options::skip_permission_denied,
                                                       error);
      if (error) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: {}", text, error.message()));
      for (; it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
        if (error) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: {}", it->path().string(), error.message()));
        if (it->is_directory(error)) {
          if (folder_excluded(it->path(), filter)) {
            ++list.skipped_by_layout;
            it.disable_recursion_pending();
          }
          continue;
        }
        if (!it->is_regular_file(error)) continue;
        auto format = format_of(it->path());
        if (!format) {
          list.ignored.push_back(it->path().string());
          continue;
        }
        list.files.push_back({it->path(), *format, static_cast<uint64_t>(it->file_size(error))});
      }
    } else {
      auto format = format_of(path);
      if (!format) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: not a measurement file (expected .jsonl, .jsonl.gz, .json or .json.gz)", text));
      }
      list.files.push_back({path, *format, static_cast<uint64_t>(std::filesystem::file_size(path, error))});
    }
  }
  std::sort(list.files.begin(), list.files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  list.files.erase(std::unique(list.files.begin(), list.files.end(), [](const auto& a, const auto& b) { return a.path == b.path; }),
                   list.files.end());
  return list;
}

Result<std::unique_ptr<BlockReader>> BlockReader::open(const InputFile& file, size_t file_index) {
  const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(file_error(file.path, "cannot open"));
  auto reader = std::make_unique<FileReader>(file, file_index, UniqueFd(fd));
  if (auto started = reader->start(); !started) return std::unexpected(started.error());
  return std::unique_ptr<BlockReader>(std::move(reader));
}

}  // namespace mitmscope::ooni
