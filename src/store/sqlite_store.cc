#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

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
  measurement TEXT NOT NULL DEFAULT '',
  UNIQUE (scan_id, ip, port, sni, measurement)
);
CREATE TABLE IF NOT EXISTS result_certificates (
  result_id INTEGER NOT NULL REFERENCES results(id),
  position INTEGER NOT NULL,
  sha256 TEXT NOT NULL REFERENCES certificates(sha256),
  PRIMARY KEY (result_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_by_verdict ON results(scan_id, verdict);
CREATE TABLE IF NOT EXISTS monitors (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  parameters TEXT NOT NULL,
  created_at TEXT NOT NULL,
  memory TEXT,
  last_round INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  monitor_id INTEGER NOT NULL REFERENCES monitors(id),
  round INTEGER NOT NULL,
  time TEXT NOT NULL,
  type TEXT NOT NULL,
  scope TEXT NOT NULL,
  detail TEXT NOT NULL,
  UNIQUE (monitor_id, round, type, scope)
);
CREATE TABLE IF NOT EXISTS traces (
  run INTEGER NOT NULL,
  time TEXT NOT NULL,
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  sni TEXT NOT NULL,
  kind TEXT NOT NULL,
  injection_ttl INTEGER NOT NULL,
  address_distance INTEGER NOT NULL,
  router_before TEXT NOT NULL,
  router_after TEXT NOT NULL,
  result TEXT NOT NULL,
  PRIMARY KEY (run, ip, port, sni)
) WITHOUT ROWID;
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
  if (sqlite3_db_readonly(database, "main") == 1) {
    // Read-only media or file: SQLite fell back to reading, but a WAL store also needs its -shm file beside it.
    // Opened as immutable it can be read (report, store counts, store copy FROM); every write fails, naming it.
    sqlite3_close(database);
    database = nullptr;
    const std::string uri = "file:" + path.string() + "?immutable=1";
    if (sqlite3_open_v2(uri.c_str(), &database, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
      const std::string message = database ? sqlite3_errmsg(database) : "out of memory";
      sqlite3_close(database);
      return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot open the read-only store: {}", path.string(), message));
    }
    return std::unique_ptr<SqliteStore>(new SqliteStore(database, path.string()));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(database, path.string()));
  sqlite3_busy_timeout(database, 5000);
  // WAL: a crash loses at most the batch in flight; readers never block the scan.
  if (auto result = store->execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"); !result) {
    return std::unexpected(result.error());
  }
  if (auto result = store->execute(kSchema); !result) return std::unexpected(result.error());
  if (auto result = store->migrate(); !result) return std::unexpected(result.error());
  return store;
}

SqliteStore::~SqliteStore() { sqlite3_close(database_); }

// Stores written before monitors existed get the round columns of `scans`; before `ooni`, the results'
// measurement column (their unique key stays (scan, ip, port, sni): such a store takes scans, not OONI ingests).
Result<void> SqliteStore::migrate() {
  {
    Statement results;
    sqlite3_prepare_v2(database_, "SELECT name FROM pragma_table_info('results')", -1, &results.handle, nullptr);
    bool has_measurement = false;
    while (sqlite3_step(results.handle) == SQLITE_ROW) {
      has_measurement |= std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(results.handle, 0))) == "measurement";
    }
    if (!has_measurement) {
      if (auto altered = execute("ALTER TABLE results ADD COLUMN measurement TEXT NOT NULL DEFAULT ''"); !altered) return altered;
    }
  }
  Statement columns;
  sqlite3_prepare_v2(database_, "SELECT name FROM pragma_table_info('scans')", -1, &columns.handle, nullptr);
  bool has_monitor = false;
  while (sqlite3_step(columns.handle) == SQLITE_ROW) {
    has_monitor |= std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(columns.handle, 0))) == "monitor_id";
  }
  if (has_monitor) return {};
  return execute("ALTER TABLE scans ADD COLUMN monitor_id INTEGER REFERENCES monitors(id); "
                 "ALTER TABLE scans ADD COLUMN round INTEGER; "
                 "CREATE INDEX IF NOT EXISTS scans_by_round ON scans(monitor_id, round);");
}

Result<void> SqliteStore::in_transaction(const std::function<Result<void>()>& body) {
  if (auto begin = execute("BEGIN IMMEDIATE"); !begin) return begin;
  if (auto done = body(); !done) {
    execute("ROLLBACK");
    return done;
  }
  if (auto commit = execute("COMMIT"); !commit) {
    execute("ROLLBACK");
    return commit;
  }
  return {};
}

// Inside a transaction: events of a monitor, replacing any of the same (round, type, scope).
Result<void> SqliteStore::insert_events(int64_t monitor_id, std::span<const StoredEvent> events) {
  Statement insert;
  sqlite3_prepare_v2(database_,
                     "INSERT OR REPLACE INTO events (monitor_id, round, time, type, scope, detail) VALUES (?, ?, ?, ?, ?, ?)",
                     -1, &insert.handle, nullptr);
  for (const auto& event : events) {
    sqlite3_reset(insert.handle);
    sqlite3_bind_int64(insert.handle, 1, monitor_id);
    sqlite3_bind_int(insert.handle, 2, event.round);
    sqlite3_bind_text(insert.handle, 3, event.time.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert.handle, 4, event.type.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert.handle, 5, event.scope.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert.handle, 6, event.detail_json.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(insert.handle) != SQLITE_DONE) return std::unexpected(error("cannot store an event"));
  }
  return {};
}

Result<MonitorRecord> SqliteStore::open_monitor(const std::string& name, const std::string& parameters) {
  Statement select;
  sqlite3_prepare_v2(database_, "SELECT id, parameters, memory, last_round FROM monitors WHERE name = ?", -1, &select.handle,
                     nullptr);
  sqlite3_bind_text(select.handle, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(select.handle) == SQLITE_ROW) {
    MonitorRecord record;
    record.id = sqlite3_column_int64(select.handle, 0);
    record.name = name;
    record.parameters = reinterpret_cast<const char*>(sqlite3_column_text(select.handle, 1));
    if (const auto* memory = sqlite3_column_text(select.handle, 2)) record.memory_json = reinterpret_cast<const char*>(memory);
    record.last_round = sqlite3_column_int(select.handle, 3);
    if (record.parameters != parameters) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: monitor '{}' exists with other parameters ({}); use another --name", path_,
                                    name, record.parameters));
    }
    Statement started;
    sqlite3_prepare_v2(database_, "SELECT started_at FROM scans WHERE monitor_id = ? AND round = ?", -1, &started.handle,
                       nullptr);
    sqlite3_bind_int64(started.handle, 1, record.id);
    sqlite3_bind_int(started.handle, 2, record.last_round);
    if (sqlite3_step(started.handle) == SQLITE_ROW) {
      record.last_round_started_at = reinterpret_cast<const char*>(sqlite3_column_text(started.handle, 0));
    }
    return record;
  }
  Statement insert;
  const std::string now = format_utc(now_utc());
  sqlite3_prepare_v2(database_, "INSERT INTO monitors (name, parameters, created_at) VALUES (?, ?, ?)", -1,
                     &insert.handle, nullptr);
  sqlite3_bind_text(insert.handle, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.handle, 2, parameters.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.handle, 3, now.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(insert.handle) != SQLITE_DONE) return std::unexpected(error("cannot record the monitor"));
  return MonitorRecord{sqlite3_last_insert_rowid(database_), name, parameters, "", 0, ""};
}

Result<ScanRecord> SqliteStore::begin_round(int64_t monitor_id, int round, const std::string& parameters) {
  if (auto begin = execute("BEGIN IMMEDIATE"); !begin) return std::unexpected(begin.error());
  const std::string clear = fmt::format(
      "DELETE FROM result_certificates WHERE result_id IN (SELECT r.id FROM results r JOIN scans s ON r.scan_id = s.id "
      "WHERE s.monitor_id = {0} AND s.round = {1} AND s.finished_at IS NULL); "
      "DELETE FROM results WHERE scan_id IN (SELECT id FROM scans WHERE monitor_id = {0} AND round = {1} AND finished_at IS NULL); "
      "DELETE FROM scans WHERE monitor_id = {0} AND round = {1} AND finished_at IS NULL;",
      monitor_id, round);
  if (auto cleared = execute(clear); !cleared) {
    execute("ROLLBACK");
    return std::unexpected(cleared.error());
  }
  Statement insert;
  const std::string now = format_utc(now_utc());
  sqlite3_prepare_v2(database_, "INSERT INTO scans (started_at, parameters, monitor_id, round) VALUES (?, ?, ?, ?)", -1,
                     &insert.handle, nullptr);
  sqlite3_bind_text(insert.handle, 1, now.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.handle, 2, parameters.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(insert.handle, 3, monitor_id);
  sqlite3_bind_int(insert.handle, 4, round);
  if (sqlite3_step(insert.handle) != SQLITE_DONE) {
    const Error failure = error("cannot record the round");
    execute("ROLLBACK");
    return std::unexpected(failure);
  }
  const int64_t id = sqlite3_last_insert_rowid(database_);
  if (auto commit = execute("COMMIT"); !commit) return std::unexpected(commit.error());
  return ScanRecord{id, now, parameters, false};
}

Result<void> SqliteStore::finish_round(int64_t monitor_id, int64_t scan_id, int round, const std::string& summary_json,
                                       const std::string& memory_json, std::span<const StoredEvent> events) {
  if (auto begin = execute("BEGIN IMMEDIATE"); !begin) return std::unexpected(begin.error());
  auto fail = [&](std::string_view what) {
    const Error failure = error(what);
    execute("ROLLBACK");
    return std::unexpected(failure);
  };
  if (auto inserted = insert_events(monitor_id, events); !inserted) {
    execute("ROLLBACK");
    return inserted;
  }
  Statement monitor;
  sqlite3_prepare_v2(database_, "UPDATE monitors SET memory = ?, last_round = ? WHERE id = ?", -1, &monitor.handle, nullptr);
  sqlite3_bind_text(monitor.handle, 1, memory_json.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(monitor.handle, 2, round);
  sqlite3_bind_int64(monitor.handle, 3, monitor_id);
  if (sqlite3_step(monitor.handle) != SQLITE_DONE) return fail("cannot update the monitor");
  Statement update;
  const std::string now = format_utc(now_utc());
  sqlite3_prepare_v2(database_, "UPDATE scans SET finished_at = ?, summary = ? WHERE id = ?", -1, &update.handle, nullptr);
  sqlite3_bind_text(update.handle, 1, now.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(update.handle, 2, summary_json.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(update.handle, 3, scan_id);
  if (sqlite3_step(update.handle) != SQLITE_DONE) return fail("cannot finish the round");
  if (auto commit = execute("COMMIT"); !commit) {
    execute("ROLLBACK");
    return std::unexpected(commit.error());
  }
  return {};
}

Result<std::vector<StoredEvent>> SqliteStore::monitor_events(int64_t monitor_id) {
  Statement select;
  sqlite3_prepare_v2(database_, "SELECT round, time, type, scope, detail FROM events WHERE monitor_id = ? ORDER BY round, id",
                     -1, &select.handle, nullptr);
  sqlite3_bind_int64(select.handle, 1, monitor_id);
  std::vector<StoredEvent> events;
  int step;
  auto text = [&](int column) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(select.handle, column))); };
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) {
    events.push_back({sqlite3_column_int(select.handle, 0), text(1), text(2), text(3), text(4)});
  }
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read events"));
  return events;
}

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

bool SqliteStore::same_certificate(sqlite3_stmt* select, const std::string& sha256, const std::vector<uint8_t>& der) {
  sqlite3_reset(select);
  sqlite3_bind_text(select, 1, sha256.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(select) != SQLITE_ROW) return false;
  const auto* stored = static_cast<const uint8_t*>(sqlite3_column_blob(select, 0));
  const auto size = static_cast<size_t>(sqlite3_column_bytes(select, 0));
  return size == der.size() && (size == 0 || std::memcmp(stored, der.data(), size) == 0);
}

Result<size_t> SqliteStore::add_results(int64_t scan_id, std::span<const StoredResult> results) {
  if (auto begin = execute("BEGIN IMMEDIATE"); !begin) return std::unexpected(begin.error());
  Statement certificate, result, link, stored_certificate;
  sqlite3_prepare_v2(database_, "SELECT der FROM certificates WHERE sha256 = ?", -1, &stored_certificate.handle, nullptr);
  sqlite3_prepare_v2(database_, "INSERT OR IGNORE INTO certificates (sha256, der) VALUES (?, ?)", -1, &certificate.handle, nullptr);
  sqlite3_prepare_v2(database_,
                     "INSERT OR IGNORE INTO results (scan_id, ip, port, sni, time, verdict, result, measurement) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
    sqlite3_bind_text(result.handle, 8, item.measurement.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(result.handle) != SQLITE_DONE) {
      const Error failure = error("cannot store a result");
      execute("ROLLBACK");
      return std::unexpected(failure);
    }
    if (sqlite3_changes(database_) == 0) {
      // Already stored (a resumed scan): left as it is, unless this write says something else about it.
      Statement existing;
      sqlite3_prepare_v2(database_,
                         "SELECT verdict FROM results WHERE scan_id = ? AND ip = ? AND port = ? AND sni = ? AND measurement = ?",
                         -1, &existing.handle, nullptr);
      sqlite3_bind_int64(existing.handle, 1, scan_id);
      sqlite3_bind_text(existing.handle, 2, item.ip.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(existing.handle, 3, item.port);
      sqlite3_bind_text(existing.handle, 4, item.sni.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(existing.handle, 5, item.measurement.c_str(), -1, SQLITE_TRANSIENT);
      const auto* stored_verdict = sqlite3_step(existing.handle) == SQLITE_ROW ? sqlite3_column_text(existing.handle, 0) : nullptr;
      const std::string verdict = stored_verdict ? reinterpret_cast<const char*>(stored_verdict) : item.verdict;
      if (verdict != item.verdict) {
        const Error refused{ErrorCode::kInvalidArgument,
                            fmt::format("{}: scan {}: {}:{} {} is stored with verdict '{}'; refusing '{}' (one verdict per "
                                        "observation)",
                                        path_, scan_id, item.ip, item.port, item.sni, verdict, item.verdict)};
        execute("ROLLBACK");
        return std::unexpected(refused);
      }
      continue;
    }
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
      const bool stored = sqlite3_step(certificate.handle) == SQLITE_DONE;
      const bool already_there = stored && sqlite3_changes(database_) == 0;
      if (!stored || sqlite3_step(link.handle) != SQLITE_DONE) {
        const Error failure = error("cannot store a certificate");
        execute("ROLLBACK");
        return std::unexpected(failure);
      }
      if (already_there && !same_certificate(stored_certificate.handle, sha256, der)) {
        const Error refused{ErrorCode::kInvalidArgument,
                            fmt::format("{}: certificate {} is stored with other bytes; refusing a second one under the "
                                        "same SHA-256", path_, sha256)};
        execute("ROLLBACK");
        return std::unexpected(refused);
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

namespace {
std::string column_text(sqlite3_stmt* statement, int column) {
  const auto* text = sqlite3_column_text(statement, column);
  return text ? reinterpret_cast<const char*>(text) : "";
}
}  // namespace

Result<std::vector<IssuerUse>> SqliteStore::intercepting_issuers() {
  Statement select;
  sqlite3_prepare_v2(database_,
                     "SELECT rc.sha256, c.der, COUNT(*), MIN(r.time), MAX(r.time) FROM results r "
                     "JOIN result_certificates rc ON rc.result_id = r.id AND rc.position = 1 "
                     "JOIN certificates c ON c.sha256 = rc.sha256 WHERE r.verdict = 'intercepted' "
                     "GROUP BY rc.sha256 ORDER BY MIN(r.time), rc.sha256",
                     -1, &select.handle, nullptr);
  std::vector<IssuerUse> out;
  int step;
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) {
    IssuerUse use;
    use.sha256 = column_text(select.handle, 0);
    const auto* der = static_cast<const uint8_t*>(sqlite3_column_blob(select.handle, 1));
    use.der.assign(der, der + sqlite3_column_bytes(select.handle, 1));
    use.results = static_cast<size_t>(sqlite3_column_int64(select.handle, 2));
    use.first_seen = column_text(select.handle, 3);
    use.last_seen = column_text(select.handle, 4);
    out.push_back(std::move(use));
  }
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read intercepting issuers"));
  return out;
}

Result<std::pair<size_t, size_t>> SqliteStore::uses_outside(const std::string& issuer_sha256, const std::string& from,
                                                            const std::string& to) {
  Statement select;
  sqlite3_prepare_v2(database_,
                     "SELECT COALESCE(SUM(r.time < ?2), 0), COALESCE(SUM(r.time > ?3), 0) FROM results r "
                     "JOIN result_certificates rc ON rc.result_id = r.id AND rc.position = 1 "
                     "WHERE r.verdict = 'intercepted' AND rc.sha256 = ?1",
                     -1, &select.handle, nullptr);
  sqlite3_bind_text(select.handle, 1, issuer_sha256.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(select.handle, 2, from.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(select.handle, 3, to.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(select.handle) != SQLITE_ROW) return std::unexpected(error("cannot count uses"));
  return std::pair{static_cast<size_t>(sqlite3_column_int64(select.handle, 0)),
                   static_cast<size_t>(sqlite3_column_int64(select.handle, 1))};
}

Result<std::vector<std::string>> SqliteStore::intercepted_results(int64_t scan_id, size_t limit) {
  Statement select;
  sqlite3_prepare_v2(database_,
                     "SELECT result FROM results WHERE scan_id = ? AND verdict = 'intercepted' ORDER BY ip, port, sni LIMIT ?",
                     -1, &select.handle, nullptr);
  sqlite3_bind_int64(select.handle, 1, scan_id);
  sqlite3_bind_int64(select.handle, 2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<std::string> out;
  int step;
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) out.push_back(column_text(select.handle, 0));
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read intercepted results"));
  return out;
}

Result<void> SqliteStore::add_traces(std::span<const StoredTrace> traces) {
  return in_transaction([&]() -> Result<void> {
    Statement insert;
    sqlite3_prepare_v2(database_,
                       "INSERT OR REPLACE INTO traces (run, time, ip, port, sni, kind, injection_ttl, address_distance, "
                       "router_before, router_after, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       -1, &insert.handle, nullptr);
    for (const auto& trace : traces) {
      sqlite3_reset(insert.handle);
      sqlite3_bind_int64(insert.handle, 1, trace.run);
      int column = 2;
      for (const auto* text : {&trace.time, &trace.ip}) sqlite3_bind_text(insert.handle, column++, text->c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(insert.handle, column++, trace.port);
      for (const auto* text : {&trace.sni, &trace.kind}) sqlite3_bind_text(insert.handle, column++, text->c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(insert.handle, column++, trace.injection_ttl);
      sqlite3_bind_int(insert.handle, column++, trace.address_distance);
      for (const auto* text : {&trace.router_before, &trace.router_after, &trace.result_json}) {
        sqlite3_bind_text(insert.handle, column++, text->c_str(), -1, SQLITE_TRANSIENT);
      }
      if (sqlite3_step(insert.handle) != SQLITE_DONE) return std::unexpected(error("cannot store a trace"));
    }
    return {};
  });
}

Result<std::vector<StoredTrace>> SqliteStore::traces() {
  Statement select;
  sqlite3_prepare_v2(database_,
                     "SELECT run, time, ip, port, sni, kind, injection_ttl, address_distance, router_before, router_after, "
                     "result FROM traces ORDER BY run, ip, port, sni",
                     -1, &select.handle, nullptr);
  std::vector<StoredTrace> out;
  int step;
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) {
    auto* h = select.handle;
    out.push_back({sqlite3_column_int64(h, 0), column_text(h, 1), column_text(h, 2),
                   static_cast<uint16_t>(sqlite3_column_int(h, 3)), column_text(h, 4), column_text(h, 5),
                   sqlite3_column_int(h, 6), sqlite3_column_int(h, 7), column_text(h, 8), column_text(h, 9),
                   column_text(h, 10)});
  }
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read traces"));
  return out;
}

Result<std::vector<ScanRow>> SqliteStore::scan_rows() {
  Statement select;
  sqlite3_prepare_v2(database_,
                     "SELECT id, started_at, finished_at, parameters, summary, monitor_id, round FROM scans ORDER BY id", -1,
                     &select.handle, nullptr);
  std::vector<ScanRow> out;
  int step;
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) {
    auto* h = select.handle;
    out.push_back({sqlite3_column_int64(h, 0), column_text(h, 1), column_text(h, 2), column_text(h, 3), column_text(h, 4),
                   sqlite3_column_int64(h, 5), sqlite3_column_int(h, 6)});
  }
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read scans"));
  return out;
}

Result<std::vector<MonitorRow>> SqliteStore::monitor_rows() {
  Statement select;
  sqlite3_prepare_v2(database_, "SELECT id, name, parameters, created_at, memory, last_round FROM monitors ORDER BY id", -1,
                     &select.handle, nullptr);
  std::vector<MonitorRow> out;
  int step;
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) {
    auto* h = select.handle;
    out.push_back({sqlite3_column_int64(h, 0), column_text(h, 1), column_text(h, 2), column_text(h, 3), column_text(h, 4),
                   sqlite3_column_int(h, 5)});
  }
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read monitors"));
  return out;
}

Result<std::vector<std::pair<int64_t, StoredEvent>>> SqliteStore::event_rows() {
  Statement select;
  sqlite3_prepare_v2(database_,
                     "SELECT monitor_id, round, time, type, scope, detail FROM events ORDER BY monitor_id, round, id", -1,
                     &select.handle, nullptr);
  std::vector<std::pair<int64_t, StoredEvent>> out;
  int step;
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) {
    auto* h = select.handle;
    out.push_back({sqlite3_column_int64(h, 0),
                   {sqlite3_column_int(h, 1), column_text(h, 2), column_text(h, 3), column_text(h, 4), column_text(h, 5)}});
  }
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read events"));
  return out;
}

Result<void> SqliteStore::for_each_result(int64_t scan_id, size_t page,
                                          const std::function<Result<void>(std::span<const StoredResult>)>& visit) {
  Statement select, chain;
  sqlite3_prepare_v2(database_,
                     "SELECT id, ip, port, sni, time, verdict, result, measurement FROM results WHERE scan_id = ? "
                     "ORDER BY ip, port, sni, measurement",
                     -1, &select.handle, nullptr);
  sqlite3_prepare_v2(database_,
                     "SELECT rc.sha256, c.der FROM result_certificates rc JOIN certificates c ON c.sha256 = rc.sha256 "
                     "WHERE rc.result_id = ? ORDER BY rc.position",
                     -1, &chain.handle, nullptr);
  sqlite3_bind_int64(select.handle, 1, scan_id);
  std::vector<StoredResult> batch;
  int step;
  while ((step = sqlite3_step(select.handle)) == SQLITE_ROW) {
    auto* h = select.handle;
    StoredResult result{column_text(h, 1), static_cast<uint16_t>(sqlite3_column_int(h, 2)), column_text(h, 3),
                        column_text(h, 4), column_text(h, 5), column_text(h, 6), {}, column_text(h, 7)};
    sqlite3_reset(chain.handle);
    sqlite3_bind_int64(chain.handle, 1, sqlite3_column_int64(h, 0));
    while (sqlite3_step(chain.handle) == SQLITE_ROW) {
      const auto* der = static_cast<const uint8_t*>(sqlite3_column_blob(chain.handle, 1));
      result.certificates.emplace_back(column_text(chain.handle, 0),
                                       std::vector<uint8_t>(der, der + sqlite3_column_bytes(chain.handle, 1)));
    }
    batch.push_back(std::move(result));
    if (batch.size() >= page) {
      if (auto visited = visit(batch); !visited) return visited;
      batch.clear();
    }
  }
  if (step != SQLITE_DONE) return std::unexpected(error("cannot read results"));
  if (!batch.empty()) return visit(batch);
  return {};
}

Result<void> SqliteStore::put_monitor(const MonitorRow& monitor) {
  Statement insert;
  sqlite3_prepare_v2(database_,
                     "INSERT OR REPLACE INTO monitors (id, name, parameters, created_at, memory, last_round) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     -1, &insert.handle, nullptr);
  sqlite3_bind_int64(insert.handle, 1, monitor.id);
  sqlite3_bind_text(insert.handle, 2, monitor.name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.handle, 3, monitor.parameters.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.handle, 4, monitor.created_at.c_str(), -1, SQLITE_TRANSIENT);
  if (monitor.memory_json.empty()) {
    sqlite3_bind_null(insert.handle, 5);
  } else {
    sqlite3_bind_text(insert.handle, 5, monitor.memory_json.c_str(), -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_int(insert.handle, 6, monitor.last_round);
  if (sqlite3_step(insert.handle) != SQLITE_DONE) {
    return std::unexpected(error(fmt::format("cannot store monitor {} ('{}')", monitor.id, monitor.name)));
  }
  return {};
}

Result<void> SqliteStore::put_scan(const ScanRow& scan) {
  Statement insert;
  sqlite3_prepare_v2(database_,
                     "INSERT OR REPLACE INTO scans (id, started_at, finished_at, parameters, summary, monitor_id, round) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     -1, &insert.handle, nullptr);
  auto text_or_null = [&](int column, const std::string& text) {
    if (text.empty()) return sqlite3_bind_null(insert.handle, column);
    return sqlite3_bind_text(insert.handle, column, text.c_str(), -1, SQLITE_TRANSIENT);
  };
  sqlite3_bind_int64(insert.handle, 1, scan.id);
  sqlite3_bind_text(insert.handle, 2, scan.started_at.c_str(), -1, SQLITE_TRANSIENT);
  text_or_null(3, scan.finished_at);
  sqlite3_bind_text(insert.handle, 4, scan.parameters.c_str(), -1, SQLITE_TRANSIENT);
  text_or_null(5, scan.summary_json);
  if (scan.monitor_id) {
    sqlite3_bind_int64(insert.handle, 6, scan.monitor_id);
    sqlite3_bind_int(insert.handle, 7, scan.round);
  } else {
    sqlite3_bind_null(insert.handle, 6);
    sqlite3_bind_null(insert.handle, 7);
  }
  if (sqlite3_step(insert.handle) != SQLITE_DONE) return std::unexpected(error(fmt::format("cannot store scan {}", scan.id)));
  return {};
}

Result<void> SqliteStore::put_events(int64_t monitor_id, std::span<const StoredEvent> events) {
  return in_transaction([&] { return insert_events(monitor_id, events); });
}

Result<std::map<std::string, int64_t>> SqliteStore::counts() {
  std::map<std::string, int64_t> out;
  for (const char* table : {"scans", "monitors", "events", "results", "certificates", "traces"}) {
    auto rows = count(table);
    if (!rows) return std::unexpected(rows.error());
    out[table] = *rows;
  }
  return out;
}

}  // namespace mitmscope
