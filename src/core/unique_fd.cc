#include "core/unique_fd.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace mitmscope {

Result<UniquePipe> make_pipe(int flags) {
  int ends[2];
  if (::pipe2(ends, flags) != 0) return make_error(ErrorCode::kNetworkError, fmt::format("pipe: {}", std::strerror(errno)));
  return UniquePipe{UniqueFd(ends[0]), UniqueFd(ends[1])};
}

Result<UniqueFile> open_file(const std::filesystem::path& path, const char* mode) {
  UniqueFile file(std::fopen(path.c_str(), mode));
  if (!file) {
    const bool reading = mode[0] == 'r';
    return make_error(reading ? (errno == ENOENT ? ErrorCode::kFileNotFound : ErrorCode::kFileUnreadable)
                              : ErrorCode::kFileUnwritable,
                      fmt::format("{}: {}", path.string(), std::strerror(errno)));
  }
  return file;
}

}  // namespace mitmscope
