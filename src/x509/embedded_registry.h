// The files of data/known-roots/, compiled into the binary by CMake
// (cmake/EmbedFiles.cmake), so the tool needs no data directory at run time.
#pragma once

#include <span>
#include <string_view>

namespace mitmscope {

struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};

std::span<const EmbeddedFile> embedded_registry_files();

}  // namespace mitmscope
