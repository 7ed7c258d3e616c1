#include "store/curl_api.h"

#include "core/shared_library.h"

namespace mitmscope::clickhouse {
namespace {

Result<CurlApi> load() {
  auto library = SharedLibrary::open("libcurl.so.4", "libcurl4", "a ClickHouse store (clickhouse://)");
  if (!library) return std::unexpected(library.error());
  CurlApi api;
  const auto bound = SharedLibrary::all_bound(
      {library->bind("curl_global_init", api.global_init), library->bind("curl_easy_init", api.easy_init),
       library->bind("curl_easy_cleanup", api.easy_cleanup), library->bind("curl_easy_setopt", api.easy_setopt),
       library->bind("curl_easy_perform", api.easy_perform), library->bind("curl_easy_getinfo", api.easy_getinfo),
       library->bind("curl_easy_strerror", api.easy_strerror), library->bind("curl_slist_append", api.slist_append),
       library->bind("curl_slist_free_all", api.slist_free_all), library->bind("curl_mime_init", api.mime_init),
       library->bind("curl_mime_free", api.mime_free), library->bind("curl_mime_addpart", api.mime_addpart),
       library->bind("curl_mime_name", api.mime_name), library->bind("curl_mime_filename", api.mime_filename),
       library->bind("curl_mime_data", api.mime_data)});
  if (!bound) return std::unexpected(bound.error());
  if (const CURLcode code = api.global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
    return make_error(ErrorCode::kCryptoError, std::string("libcurl does not start: ") + api.easy_strerror(code));
  }
  return api;
}

}  // namespace

Result<const CurlApi*> curl_api() {
  static const Result<CurlApi> loaded = load();
  return address_of(loaded);
}

}  // namespace mitmscope::clickhouse
