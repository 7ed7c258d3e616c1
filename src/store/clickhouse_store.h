// The scale-out store: a ClickHouse server (Debian's clickhouse-server) over HTTP, or a
// cluster of them. Results and traces are MergeTree tables partitioned by month and
// ordered by (scan, ip, port, sni), so a time range reads only its partitions and a host
// within a scan is a primary-key range; certificates are stored once per SHA-256.
// ClickHouse has no transactions and no updates: rows that change (scans, monitors) are
// versioned (ReplacingMergeTree, read back with argMax by version), a round interrupted by
// a crash is tombstoned rather than deleted, and readers ignore the tombstoned scans'
// results and events. With `?cluster=NAME` every table is a local table on each listed
// server plus a Distributed table over the cluster, sharded by the key its rows are
// replaced under, so deduplication stays within a shard. Opening a store creates only the
// tables and columns it lacks, so a user without DDL rights (a writer) or a read-only one
// (a reader) opens a store an administrator made. See docs/ARCHITECTURE.md, "Stores".
#pragma once

#include <memory>
#include <set>
#include <unordered_map>
#include <string>
#include <vector>

#include "store/clickhouse_http.h"
#include "store/clickhouse_location.h"
#include "store/store.h"

namespace mitmscope {

class ClickHouseStore final : public Store {
 public:
  // A database written by an earlier version is refused unless `for_migration`.
  static Result<std::unique_ptr<ClickHouseStore>> open(const std::string& uri, bool for_migration = false);

  Result<ScanRecord> begin_scan(const std::string& parameters, bool resume) override;
  Result<size_t> add_results(int64_t scan_id, std::span<const StoredResult> results) override;
  Result<void> check_invariants(int64_t scan_id, std::span<const StoredResult> results);
  Result<std::set<std::string>> stored_pairs(int64_t scan_id) override;
  Result<void> finish_scan(int64_t scan_id, const ScanTally& tally, const std::string& summary_json) override;
  Result<MonitorRecord> open_monitor(const std::string& name, const std::string& parameters) override;
  Result<ScanRecord> begin_round(int64_t monitor_id, int round, const std::string& parameters) override;
  Result<void> finish_round(int64_t monitor_id, int64_t scan_id, int round, const ScanTally& tally,
                            const std::string& summary_json, const std::string& memory_json,
                            std::span<const StoredEvent> events) override;
  Result<std::vector<StoredEvent>> monitor_events(int64_t monitor_id) override;
  Result<std::vector<IssuerUse>> intercepting_issuers() override;
  Result<std::vector<IssuerReach>> issuer_reach() override;
  Result<std::pair<size_t, size_t>> uses_outside(const std::string& issuer_sha256, const std::string& from,
                                                 const std::string& to) override;
  Result<std::vector<StoredResult>> intercepted_results(int64_t scan_id, size_t limit) override;
  Result<std::optional<StoredResult>> example_intercepted(const std::string& issuer_sha256) override;
  Result<void> add_traces(std::span<const StoredTrace> traces) override;
  Result<std::vector<StoredTrace>> traces() override;
  Result<std::vector<ScanRow>> scan_rows() override;
  Result<std::vector<MonitorRow>> monitor_rows() override;
  Result<std::vector<std::pair<int64_t, StoredEvent>>> event_rows() override;
  Result<void> for_each_result(int64_t scan_id, size_t page,
                               const std::function<Result<void>(std::span<const StoredResult>)>& visit) override;
  Result<void> put_monitor(const MonitorRow& monitor) override;
  Result<void> put_scan(const ScanRow& scan) override;
  Result<void> put_events(int64_t monitor_id, std::span<const StoredEvent> events) override;
  Result<std::map<std::string, int64_t>> counts() override;
  Result<MigrationReport> migrate() override;
  std::string location() const override { return uri_; }

 private:
  ClickHouseStore(std::string uri, ClickHouseLocation location, std::string password);
  std::unique_ptr<clickhouse::Http> connect(const std::string& server, std::string settings = {}) const;
  Result<std::set<std::string>> existing_tables(clickhouse::Http& http);
  std::unexpected<Error> no_tables(const Error& refused) const;
  Result<void> create_schema();
  Result<void> add_columns();
  Result<void> check_version(bool for_migration);
  Result<void> mark_typed();
  Result<std::unordered_map<std::string, std::vector<uint8_t>>> certificates(const std::set<std::string>& wanted);
  Result<std::vector<std::vector<std::string>>> select(const std::string& sql);
  Result<void> write_scan(const ScanRow& scan, bool deleted);
  Result<void> write_monitor(const MonitorRow& monitor);
  Result<void> write_events(int64_t monitor_id, int64_t scan_id, std::span<const StoredEvent> events);
  Result<std::optional<ScanRow>> scan_row(int64_t scan_id);
  Result<std::optional<MonitorRow>> monitor_row(int64_t monitor_id);
  uint64_t next_version();

  std::string uri_;
  ClickHouseLocation location_;
  std::string password_;
  std::unique_ptr<clickhouse::Http> http_;
  uint64_t last_version_ = 0;
};

}  // namespace mitmscope
