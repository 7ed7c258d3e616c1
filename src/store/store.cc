#include "store/store.h"

#include <algorithm>

#include <fmt/format.h>

#include "store/clickhouse_store.h"
#include "store/sqlite_store.h"

namespace mitmscope {
namespace {

Result<std::map<int64_t, std::string>> monitor_names(Store& store) {
  auto monitors = store.monitor_rows();
  if (!monitors) return std::unexpected(monitors.error());
  std::map<int64_t, std::string> names;
  for (const auto& monitor : *monitors) names[monitor.id] = monitor.name;
  return names;
}

}  // namespace

Result<std::vector<StoredScan>> Store::scans() {
  auto rows = scan_rows();
  if (!rows) return std::unexpected(rows.error());
  auto names = monitor_names(*this);
  if (!names) return std::unexpected(names.error());
  std::vector<StoredScan> out;
  out.reserve(rows->size());
  for (auto& row : *rows) {
    const auto name = names->find(row.monitor_id);
    out.push_back({row.id, std::move(row.started_at), std::move(row.finished_at),
                   row.monitor_id && name != names->end() ? name->second : std::string(), row.round,
                   std::move(row.tally), std::move(row.parameters)});
  }
  return out;
}

Result<std::vector<std::pair<std::string, StoredEvent>>> Store::all_events() {
  auto rows = event_rows();
  if (!rows) return std::unexpected(rows.error());
  auto names = monitor_names(*this);
  if (!names) return std::unexpected(names.error());
  std::vector<std::pair<std::string, StoredEvent>> out;
  for (auto& [monitor_id, event] : *rows) {
    const auto name = names->find(monitor_id);
    out.emplace_back(name != names->end() ? name->second : std::to_string(monitor_id), std::move(event));
  }
  // By monitor name, then as stored (round, order of derivation).
  std::ranges::stable_sort(out, [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

Error needs_migration(const std::string& location, std::string_view what) {
  return {ErrorCode::kInvalidArgument,
          fmt::format("{}: written by an earlier version of mitmscope: {}. Run `mitmscope store migrate {}` once "
                      "to add them from the stored JSON (nothing is lost), then run this again", location, what, location)};
}

Result<std::unique_ptr<Store>> open_store(const std::string& spec, bool for_migration) {
  if (spec.starts_with("clickhouse://")) {
    auto store = ClickHouseStore::open(spec, for_migration);
    if (!store) return std::unexpected(store.error());
    return std::unique_ptr<Store>(std::move(*store));
  }
  const std::string path = spec.starts_with("sqlite://") ? spec.substr(9) : spec;
  if (path.empty()) return make_error(ErrorCode::kInvalidArgument, "--store: empty path");
  auto store = SqliteStore::open(path, for_migration);
  if (!store) return std::unexpected(store.error());
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace mitmscope
