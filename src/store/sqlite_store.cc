#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include "core/time.h"

namespace mitmscope {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS scans (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  parameters TEXT NOT NULL,
  summary TEXT
);
CREATE TABLE IF NOT EXISTS certificates (
  sha256 TEXT PRIMARY KEY,
  der BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results (
  id INTEGER PRIMARY KEY,
  scan_id INTEGER NOT NULL REFERENCES scans(id),
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  sni TEXT NOT NULL,
  time TEXT NOT NULL,
  verdict TEXT NOT NULL,
  result TEXT NOT NULL,
  UNIQUE (scan_id, ip, port, sni)
);
CREATE TABLE IF NOT EXISTS result_certificates (
  result_id INTEGER NOT NULL REFERENCES results(id),
  position INTEGER NOT NULL,
  sha256 TEXT NOT NULL REFERENCES certificates(sha256),
  PRIMARY KEY (result_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_by_verdict ON results(scan_id, verdict);
)sql";

struct Statement {
  sqlite3_stmt* handle = nullptr;
  ~Statement() { sqlite3_finalize(handle); }
};

}  // namespace

Error SqliteStore::error(std::string_view what) const {
  return {ErrorCode::kFileUnreadable, fmt::format("{}: {}: {}", path_, what, sqlite3_errmsg(database_))};
}

Result<void> SqliteStore::execute(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(database_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    Error failure{ErrorCode::kFileUnreadable, fmt::format("{}: {}", path_, message ? message : "error")};
    sqlite3_free(message);
    return std::unexpected(failure);
  }
  return {};
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& path) {
  sqlite3* database = nullptr;
  if (sqlite3_open_v2(path.c_str(), &database, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const std::string message = database ? sqlite3_errmsg(database) : "out of memory";
    sqlite3_close(database);
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot open the store: {}", path.string(), message));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(database, path.string()));
  sqlite3_busy_timeout(database, 5000);
  // WAL: a crash loses at most the batch in flight; readers never block the scan.
  if (auto result = store->execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"); !result) {
    return std::unexpected(result.error());
  }
  if (auto result = store->execute(kSchema); !result) return std::unexpected(result.error());
  return store;
}

SqliteStore::~SqliteStore() { sqlite3_close(database_); }

Result<ScanRecord> SqliteStore::begin_scan(const std::string& parameters, bool resume) {
  if (resume) {
    Statement select;
    sqlite3_prepare_v2(database_, "SELECT id, started_at FROM scans WHERE parameters = ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
                       -1, &select.handle, nullptr);
    sqlite3_bind_text(select.handle, 1, parameters.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(select.handle) == SQLITE_ROW) {
      return ScanRecord{sqlite3_column_int64(select.handle, 0),
                        reinterpret_cast<const char*>(sqlite3_column_text(select.handle, 1)), parameters, false};
    }
  }
  Statement insert;
  const std::string now = format_utc(now_utc());
  sqlite3_prepare_v2(database_, "INSERT INTO scans (started_at, parameters) VALUES (?, ?)", -1, &insert.handle, nullptr);
  sqlite3_bind_text(insert.handle, 1, now.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.handle, 2, parameters.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(insert.handle) != SQLITE_DONE) return std::unexpected(error("cannot record the scan"));
  return ScanRecord{sqlite3_last_insert_rowid(database_), now, parameters, false};
}

Result<size_t> SqliteStore::add_results(int64_t scan_id, std::span<const StoredResult> results) {
  if (auto begin = execute("BEGIN IMMEDIATE"); !begin) return std::unexpected(begin.error());
  Statement certificate, result, link;
  sqlite3_prepare_v2(database_, "INSERT OR IGNORE INTO certificates (sha256, der) VALUES (?, ?)", -1, &certificate.handle, nullptr);
  sqlite3_prepare_v2(database_,
                     "INSERT OR IGNORE INTO results (scan_id, ip, port, sni, time, verdict, result) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     -1, &result.handle, nullptr);
  sqlite3_prepare_v2(database_, "INSERT INTO result_certificates (result_id, position, sha256) VALUES (?, ?, ?)", -1,
                     &link.handle, nullptr);
  size_t added = 0;
  for (const auto& item : results) {
    sqlite3_reset(result.handle);
    sqlite3_bind_int64(result.handle, 1, scan_id);
    sqlite3_bind_text(result.handle, 2, item.ip.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(result.handle, 3, item.port);
    sqlite3_bind_text(result.handle, 4, item.sni.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(result.handle, 5, item.time.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(result.handle, 6, item.verdict.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(result.handle, 7, item.result_json.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(result.handle) != SQLITE_DONE) {
      const Error failure = error("cannot store a result");
      execute("ROLLBACK");
      return std::unexpected(failure);
    }
    if (sqlite3_changes(database_) == 0) continue;  // already stored (a resumed scan): left as it is
    ++added;
    const int64_t result_id = sqlite3_last_insert_rowid(database_);
    for (size_t position = 0; position < item.certificates.size(); ++position) {
      const auto& [sha256, der] = item.certificates[position];
      sqlite3_reset(certificate.handle);
      sqlite3_bind_text(certificate.handle, 1, sha256.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(certificate.handle, 2, der.data(), static_cast<int>(der.size()), SQLITE_TRANSIENT);
      sqlite3_reset(link.handle);
      sqlite3_bind_int64(link.handle, 1, result_id);
      sqlite3_bind_int64(link.handle, 2, static_cast<int64_t>(position));
      sqlite3_bind_text(link.handle, 3, sha256.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(certificate.handle) != SQLITE_DONE || sqlite3_step(link.handle) != SQLITE_DONE) {
        const Error failure = error("cannot store a certificate");
        execute("ROLLBACK");
        return std::unexpected(failure);
      }
    }
  }
  if (auto commit = execute("COMMIT"); !commit) {
    execute("ROLLBACK");
    return std::unexpected(commit.error());
  }
  return added;
}

Result<std::set<std::string>> SqliteStore::stored_pairs(int64_t scan_id) {
  Statement select;
  sqlite3_prepare_v2(database_, "SELECT ip, port, sni FROM results WHERE scan_id = ?", -1, &select.handle, nullptr);
  sqlite3_bind_int64(select.handle, 1, scan_id);
  std::set<std::string> pairs;
  int step;
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) {
    pairs.insert(fmt::format("{}:{} {}", reinterpret_cast<const char*>(sqlite3_column_text(select.handle, 0)),
                             sqlite3_column_int(select.handle, 1),
                             reinterpret_cast<const char*>(sqlite3_column_text(select.handle, 2))));
  }
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read results"));
  return pairs;
}

Result<void> SqliteStore::finish_scan(int64_t scan_id, const std::string& summary_json) {
  Statement update;
  const std::string now = format_utc(now_utc());
  sqlite3_prepare_v2(database_, "UPDATE scans SET finished_at = ?, summary = ? WHERE id = ?", -1, &update.handle, nullptr);
  sqlite3_bind_text(update.handle, 1, now.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(update.handle, 2, summary_json.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(update.handle, 3, scan_id);
  if (sqlite3_step(update.handle) != SQLITE_DONE) return std::unexpected(error("cannot finish the scan"));
  return {};
}

Result<int64_t> SqliteStore::count(const std::string& table) {
  Statement select;
  if (sqlite3_prepare_v2(database_, fmt::format("SELECT COUNT(*) FROM {}", table).c_str(), -1, &select.handle, nullptr) != SQLITE_OK ||
      sqlite3_step(select.handle) != SQLITE_ROW) {
    return std::unexpected(error("cannot count"));
  }
  return sqlite3_column_int64(select.handle, 0);
}

}  // namespace mitmscope
