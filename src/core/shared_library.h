// A shared library opened when a command first needs it (dlopen), not when mitmscope starts. The optional back
// ends only some commands use bring in most of the process's libraries: libcurl (ClickHouse stores) loads about
// thirty more (GnuTLS, Kerberos, LDAP, SSH...) and libpcap (the sentinel's captures) D-Bus and systemd's. Linked
// at start-up they cost every command, a scan or a probe included, 5.5 MB of memory and their constructors'
// time. A library that cannot be loaded is an error naming it, what needs it and the Debian package that has it.
// A library opened here stays loaded for the life of the process (libcurl's global state must not be unloaded).
#pragma once

#include <bit>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mitmscope {

class SharedLibrary {
 public:
  // `soname` "libcurl.so.4"; `package` "libcurl4" and `purpose` "a ClickHouse store" say what to do without it.
  static Result<SharedLibrary> open(const char* soname, std::string_view package, std::string_view purpose);

  // Points `slot` at the library's function `name`, whose type the caller states through `slot`
  // (decltype(&curl_easy_init)): a library of another ABI with that name is the caller's to rule out (its soname).
  template <class Function>
  Result<void> bind(const char* name, Function*& slot) const {
    void* address = find(name);
    if (!address) return missing(name);
    slot = std::bit_cast<Function*>(address);
    return {};
  }
  // The first failure among binds, or nothing: `all_bound({library.bind("f", api.f), library.bind("g", api.g)})`.
  static Result<void> all_bound(std::initializer_list<Result<void>> binds);

 private:
  explicit SharedLibrary(void* handle, std::string soname) : handle_(handle), soname_(std::move(soname)) {}
  void* find(const char* name) const;
  std::unexpected<Error> missing(const char* name) const;
  void* handle_;
  std::string soname_;
};

// A table of a library's functions loaded once (a function-local static Result<Api>), as the pointer its users
// keep, or its failure.
template <class Api>
Result<const Api*> address_of(const Result<Api>& loaded) {
  if (!loaded) return std::unexpected(loaded.error());
  return &*loaded;
}

}  // namespace mitmscope
