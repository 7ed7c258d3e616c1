// libcurl's functions the ClickHouse client (store/clickhouse_http) calls, loaded on first use through
// core/shared_library.h instead of linked: a scan without a ClickHouse store never loads libcurl and the thirty
// libraries it brings. The types come from <curl/curl.h> of the libcurl the project is built with (Debian's
// libcurl4, soname libcurl.so.4).
#pragma once

#include <curl/curl.h>

#include "core/error.h"

namespace mitmscope::clickhouse {

struct CurlApi {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
  decltype(&::curl_mime_init) mime_init = nullptr;
  decltype(&::curl_mime_free) mime_free = nullptr;
  decltype(&::curl_mime_addpart) mime_addpart = nullptr;
  decltype(&::curl_mime_name) mime_name = nullptr;
  decltype(&::curl_mime_filename) mime_filename = nullptr;
  decltype(&::curl_mime_data) mime_data = nullptr;
};

// The process's libcurl, loaded and globally initialised by the first call (thread-safe); every later call
// returns the same answer, a failure included.
Result<const CurlApi*> curl_api();

}  // namespace mitmscope::clickhouse
