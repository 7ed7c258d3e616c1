// Files of data/ compiled into the binary by CMake (cmake/EmbedFiles.cmake), so the
// tool needs no data directory at run time and always runs with the data it was
// tested with.
#pragma once

#include <span>
#include <string_view>

namespace mitmscope {

struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};

std::span<const EmbeddedFile> embedded_registry_files();   // data/known-roots/
std::span<const EmbeddedFile> embedded_scenario_files();   // data/scenarios/
std::span<const EmbeddedFile> embedded_fingerprint_files();   // data/fingerprints/
std::span<const EmbeddedFile> embedded_forging_files();   // data/forging/

}  // namespace mitmscope
