// Files that hold measurements or keys (a store, the lab's private keys, the sentinel's visits) are created
// readable and writable by their owner only (0600), whatever the umask. A file that already exists keeps the
// mode it has: the user may have chosen another on purpose.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/error.h"

namespace mitmscope {

inline constexpr unsigned kPrivateFileMode = 0600;

// Creates `path` empty with mode 0600 when it does not exist; nothing when it does.
Result<void> create_private_file(const std::filesystem::path& path);

// Writes `text` to `path` (replacing what it held), creating it with mode 0600 when it does not exist.
Result<void> write_private_file(const std::filesystem::path& path, std::string_view text);

}  // namespace mitmscope
