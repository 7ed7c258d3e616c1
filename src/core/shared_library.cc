#include "core/shared_library.h"

#include <dlfcn.h>

#include <fmt/format.h>

namespace mitmscope {

Result<SharedLibrary> SharedLibrary::open(const char* soname, std::string_view package, std::string_view purpose) {
  // RTLD_NOW: a missing function is found here, not in the middle of a scan's first insert.
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    return make_error(ErrorCode::kFileNotFound, fmt::format("{} needs {}, which cannot be loaded: {} (apt-get install {})",
                                                            purpose, soname, why ? why : "unknown reason", package));
  }
  return SharedLibrary(handle, soname);
}

Result<void> SharedLibrary::all_bound(std::initializer_list<Result<void>> binds) {
  for (const Result<void>& bound : binds) {
    if (!bound) return bound;
  }
  return {};
}

void* SharedLibrary::find(const char* name) const { return ::dlsym(handle_, name); }

std::unexpected<Error> SharedLibrary::missing(const char* name) const {
  return make_error(ErrorCode::kFileUnreadable, fmt::format("{} has no function {}: not the library mitmscope was built for",
                                                            soname_, name));
}

}  // namespace mitmscope
