#include "core/private_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/unique_fd.h"

namespace mitmscope {
namespace {

Result<UniqueFd> open_private(const std::filesystem::path& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_WRONLY | O_CREAT | O_CLOEXEC, kPrivateFileMode));
  if (!fd) return make_error(ErrorCode::kFileUnwritable, fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno)));
  return fd;
}

}  // namespace

Result<void> create_private_file(const std::filesystem::path& path) {
  auto fd = open_private(path, 0);
  if (!fd) return std::unexpected(fd.error());
  return {};
}

Result<void> write_private_file(const std::filesystem::path& path, std::string_view text) {
  auto fd = open_private(path, O_TRUNC);
  if (!fd) return std::unexpected(fd.error());
  for (size_t written = 0; written < text.size();) {
    const ssize_t count = ::write(fd->get(), text.data() + written, text.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) return make_error(ErrorCode::kFileUnwritable, fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno)));
    written += static_cast<size_t>(count);
  }
  return {};
}

}  // namespace mitmscope
