// Ownership of the operating system's handles: a file descriptor (UniqueFd) and a C stdio stream
// (UniqueFile) close themselves when their owner goes, on every path out of a function. Nothing in
// mitmscope calls close(2) or fclose(3) by hand; a descriptor handed to another owner (a child process, a
// library) leaves with release().
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <utility>

#include "core/error.h"

namespace mitmscope {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Gives the descriptor up without closing it.
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// pipe2(2) as two owned ends.
struct UniquePipe {
  UniqueFd read;
  UniqueFd write;
};
Result<UniquePipe> make_pipe(int flags);

struct FileCloser {
  void operator()(std::FILE* file) const {
    if (file != stdout && file != stderr) std::fclose(file);
  }
};
// A stdio stream; stdout and stderr may be held too (they are never closed).
using UniqueFile = std::unique_ptr<std::FILE, FileCloser>;

// fopen(3) with the path and the reason in the error.
Result<UniqueFile> open_file(const std::filesystem::path& path, const char* mode);

}  // namespace mitmscope
