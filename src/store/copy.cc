#include "store/copy.h"

#include <fmt/format.h>

namespace mitmscope {

Result<CopyReport> copy_store(Store& from, Store& to, size_t page, const std::function<void(std::string_view)>& progress) {
  auto say = [&](std::string_view text) {
    if (progress) progress(text);
  };
  auto before = to.counts();
  if (!before) return std::unexpected(before.error());
  const bool destination_was_empty = std::all_of(before->begin(), before->end(), [](const auto& item) { return item.second == 0; });

  auto monitors = from.monitor_rows();
  if (!monitors) return std::unexpected(monitors.error());
  for (const auto& monitor : *monitors) {
    if (auto put = to.put_monitor(monitor); !put) return std::unexpected(put.error());
  }
  auto scans = from.scan_rows();
  if (!scans) return std::unexpected(scans.error());
  CopyReport report;
  for (const auto& scan : *scans) {
    // The scan unfinished first, its results, then the scan as it is: a copy cut short never shows a
    // finished scan without all its results.
    ScanRow unfinished = scan;
    unfinished.finished_at.clear();
    unfinished.summary_json.clear();
    unfinished.tally.reset();
    if (auto put = to.put_scan(unfinished); !put) return std::unexpected(put.error());
    int64_t copied = 0;
    auto visited = from.for_each_result(scan.id, page, [&](std::span<const StoredResult> batch) -> Result<void> {
      auto added = to.add_results(scan.id, batch);
      if (!added) return std::unexpected(added.error());
      copied += static_cast<int64_t>(batch.size());
      return {};
    });
    if (!visited) return std::unexpected(visited.error());
    if (auto put = to.put_scan(scan); !put) return std::unexpected(put.error());
    report.results_copied += copied;
    say(fmt::format("scan {}: {} results", scan.id, copied));
  }
  auto events = from.event_rows();
  if (!events) return std::unexpected(events.error());
  std::map<int64_t, std::vector<StoredEvent>> per_monitor;
  for (auto& [monitor_id, event] : *events) per_monitor[monitor_id].push_back(std::move(event));
  for (const auto& [monitor_id, list] : per_monitor) {
    if (auto put = to.put_events(monitor_id, list); !put) return std::unexpected(put.error());
  }
  auto traces = from.traces();
  if (!traces) return std::unexpected(traces.error());
  for (size_t start = 0; start < traces->size(); start += page) {
    const size_t count = std::min(page, traces->size() - start);
    if (auto put = to.add_traces(std::span(*traces).subspan(start, count)); !put) return std::unexpected(put.error());
  }
  say(fmt::format("{} monitors, {} events, {} traces", monitors->size(), events->size(), traces->size()));

  auto source = from.counts();
  if (!source) return std::unexpected(source.error());
  auto destination = to.counts();
  if (!destination) return std::unexpected(destination.error());
  report.source = *source;
  report.destination = *destination;
  // Certificates: the destination holds those the copied results name; the source may also keep
  // some that only results of removed rounds named.
  for (const auto& [table, rows] : *source) {
    const int64_t there = (*destination)[table];
    const bool exact = destination_was_empty && table != "certificates";
    if (exact ? there != rows : there < (table == "certificates" ? 0 : rows)) {
      return make_error(ErrorCode::kParseError,
                        fmt::format("store copy {} -> {}: {} {} in the source but {} in the destination", from.location(),
                                    to.location(), rows, table, there));
    }
  }
  return report;
}

}  // namespace mitmscope
