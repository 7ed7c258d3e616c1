// The embedded store: one SQLite file in WAL mode. A batch is one transaction, so a
// scan killed at any point leaves whole batches only; `begin_scan(resume=true)` and
// `stored_pairs` let the scan skip what is already there.
#pragma once

#include <filesystem>
#include <memory>

#include "store/sqlite_statement.h"
#include "store/store.h"

struct sqlite3;

namespace mitmscope {

class SqliteStore final : public Store {
 public:
  // A store written by an earlier version is refused unless `for_migration`.
  static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& path, bool for_migration = false);
  ~SqliteStore() override;

  Result<ScanRecord> begin_scan(const std::string& parameters, bool resume) override;
  Result<size_t> add_results(int64_t scan_id, std::span<const StoredResult> results) override;
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
  std::string location() const override { return path_; }

  // For tests: rows of one table.
  Result<int64_t> count(const std::string& table);

 private:
  SqliteStore(sqlite3* database, std::string path) : database_(database), path_(std::move(path)) {}
  Result<void> execute(const std::string& sql);
  // BEGIN IMMEDIATE, body, COMMIT; ROLLBACK when either fails.
  Result<void> in_transaction(const std::function<Result<void>()>& body);
  Result<void> insert_events(int64_t monitor_id, std::span<const StoredEvent> events);
  Result<std::set<std::string>> column_names(std::string_view table);
  Result<void> add_columns();
  Result<int64_t> single_number(const std::string& sql);
  Result<void> check_version(bool for_migration);
  Result<void> write_tally(int64_t scan_id, const ScanTally& tally);
  Result<void> read_groups(std::vector<ScanRow>& scans, const std::map<int64_t, size_t>& by_id);
  Result<int64_t> migrate_results();
  Result<std::vector<std::pair<std::string, std::vector<uint8_t>>>> chain_of(int64_t result_id);
  Result<int64_t> migrate_scans();
  Result<SqliteStatement> prepare(std::string_view sql);
  struct ResultStatements;
  Result<ResultStatements> result_statements();
  Result<void> check_same_verdict(ResultStatements& statements, int64_t scan_id, const StoredResult& item);
  Result<void> add_certificates(ResultStatements& statements, int64_t result_id, const StoredResult& item);
  Error error(std::string_view what) const;
  sqlite3* database_;
  std::string path_;
};

}  // namespace mitmscope
