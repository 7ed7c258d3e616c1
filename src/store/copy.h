// `mitmscope store copy FROM TO`: a campaign moved between stores (SQLite ↔ ClickHouse)
// row by row, ids kept: monitors, scans with their results and certificates, events,
// traces. Re-running an interrupted copy replaces what it already wrote. Afterwards the
// destination's counts are checked against the source's.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "store/store.h"

namespace mitmscope {

struct CopyReport {
  std::map<std::string, int64_t> source, destination;   // counts() of both after the copy
  int64_t results_copied = 0;
};

Result<CopyReport> copy_store(Store& from, Store& to, size_t page,
                              const std::function<void(std::string_view)>& progress = {});

}  // namespace mitmscope
