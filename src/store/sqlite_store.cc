#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "core/private_file.h"
#include "core/time.h"
#include "store/legacy_json.h"
#include "store/sqlite_facts.h"
#include "store/sqlite_statement.h"

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
CREATE TABLE IF NOT EXISTS scan_groups (
  scan_id INTEGER NOT NULL REFERENCES scans(id),
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  name TEXT NOT NULL,
  hosts INTEGER NOT NULL,
  eligible INTEGER NOT NULL,
  intercepted INTEGER NOT NULL,
  PRIMARY KEY (scan_id, kind, key)
) WITHOUT ROWID;
)sql";

namespace columns = sqlite_facts;


}  // namespace

Result<SqliteStatement> SqliteStore::prepare(std::string_view sql) { return SqliteStatement::prepare(database_, sql, path_); }

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

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& path, bool for_migration) {
  sqlite3* database = nullptr;
  // A new store is its owner's alone (SQLite gives its -wal and -shm files the store's mode). When it cannot be
  // created here, SQLite's own attempt below says why.
  std::error_code missing;
  if (!std::filesystem::exists(path, missing) && !missing) (void)create_private_file(path);
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
    std::unique_ptr<SqliteStore> store(new SqliteStore(database, path.string()));
    if (auto typed = store->check_version(false); !typed) return std::unexpected(typed.error());
    return store;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(database, path.string()));
  sqlite3_busy_timeout(database, 5000);
  // WAL: a crash loses at most the batch in flight; readers never block the scan.
  if (auto result = store->execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"); !result) {
    return std::unexpected(result.error());
  }
  if (auto result = store->execute(kSchema); !result) return std::unexpected(result.error());
  if (auto result = store->add_columns(); !result) return std::unexpected(result.error());
  if (auto typed = store->check_version(for_migration); !typed) return std::unexpected(typed.error());
  return store;
}

SqliteStore::~SqliteStore() { sqlite3_close(database_); }

Result<std::set<std::string>> SqliteStore::column_names(std::string_view table) {
  auto select = prepare(fmt::format("SELECT name FROM pragma_table_info('{}')", table));
  if (!select) return std::unexpected(select.error());
  std::set<std::string> names;
  Result<bool> row;
  while ((row = select->step()) && *row) names.insert(select->column_text(0));
  if (!row) return std::unexpected(row.error());
  return names;
}

// Columns later versions added, added to a store that lacks them: the round columns of `scans` (monitors),
// the results' measurement (OONI; their unique key stays (scan, ip, port, sni): such a store takes scans, not
// OONI ingests), the typed facts and tallies (empty until written, or filled by `store migrate`).
Result<void> SqliteStore::add_columns() {
  auto results = column_names("results");
  auto scans = column_names("scans");
  if (!results || !scans) return std::unexpected(!results ? results.error() : scans.error());
  std::string sql;
  if (!results->contains("measurement")) sql += "ALTER TABLE results ADD COLUMN measurement TEXT NOT NULL DEFAULT ''; ";
  if (!scans->contains("monitor_id")) {
    sql += "ALTER TABLE scans ADD COLUMN monitor_id INTEGER REFERENCES monitors(id); ALTER TABLE scans ADD COLUMN round INTEGER; ";
  }
  for (const auto& column : columns::kResultColumns) {
    if (!results->contains(std::string(column.name))) sql += fmt::format("ALTER TABLE results ADD COLUMN {} {}; ", column.name, column.type);
  }
  for (const auto& column : columns::kScanColumns) {
    if (!scans->contains(std::string(column.name))) sql += fmt::format("ALTER TABLE scans ADD COLUMN {} {}; ", column.name, column.type);
  }
  sql += "CREATE INDEX IF NOT EXISTS scans_by_round ON scans(monitor_id, round);";
  return execute(sql);
}

Result<int64_t> SqliteStore::single_number(const std::string& sql) {
  auto select = prepare(sql);
  if (!select) return std::unexpected(select.error());
  auto row = select->step();
  if (!row) return std::unexpected(row.error());
  return *row ? select->column_int64(0) : 0;
}

// A store with results or finished scans from before typed facts is refused until `store migrate` fills them;
// an empty one is typed from the start.
Result<void> SqliteStore::check_version(bool for_migration) {
  auto version = single_number("PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  if (*version >= columns::kTypedVersion || for_migration) return {};
  auto old_rows = single_number("SELECT EXISTS (SELECT 1 FROM results) OR EXISTS (SELECT 1 FROM scans WHERE finished_at IS NOT NULL)");
  if (!old_rows) return std::unexpected(old_rows.error());
  if (*old_rows) return std::unexpected(needs_migration(path_, "its results and scans have no typed columns"));
  return execute(fmt::format("PRAGMA user_version = {}", columns::kTypedVersion));
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
  auto insert = prepare("INSERT OR REPLACE INTO events (monitor_id, round, time, type, scope, detail) VALUES (?, ?, ?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
  for (const auto& event : events) {
    insert->reset();
    insert->bind(1, static_cast<int64_t>(monitor_id));
    insert->bind(2, static_cast<int64_t>(event.round));
    insert->bind(3, event.time);
    insert->bind(4, event.type);
    insert->bind(5, event.scope);
    insert->bind(6, event.detail_json);
    if (!insert->run()) return std::unexpected(error("cannot store an event"));
  }
  return {};
}

Result<MonitorRecord> SqliteStore::open_monitor(const std::string& name, const std::string& parameters) {
  auto select = prepare("SELECT id, parameters, memory, last_round FROM monitors WHERE name = ?");
  if (!select) return std::unexpected(select.error());
  select->bind(1, name);
  auto select_row = select->step();
  if (!select_row) return std::unexpected(select_row.error());
  if (*select_row) {
    MonitorRecord record;
    record.id = select->column_int64(0);
    record.name = name;
    record.parameters = select->column_text(1);
    record.memory_json = select->column_text(2);
    record.last_round = select->column_int(3);
    if (record.parameters != parameters) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: monitor '{}' exists with other parameters ({}); use another --name", path_,
                                    name, record.parameters));
    }
    auto started = prepare("SELECT started_at FROM scans WHERE monitor_id = ? AND round = ?");
    if (!started) return std::unexpected(started.error());
    started->bind(1, static_cast<int64_t>(record.id));
    started->bind(2, static_cast<int64_t>(record.last_round));
    auto started_row = started->step();
    if (!started_row) return std::unexpected(started_row.error());
    if (*started_row) {
      record.last_round_started_at = started->column_text(0);
    }
    return record;
  }
  const std::string now = format_utc(now_utc());
  auto insert = prepare("INSERT INTO monitors (name, parameters, created_at) VALUES (?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
  insert->bind(1, name);
  insert->bind(2, parameters);
  insert->bind(3, now);
  if (!insert->run()) return std::unexpected(error("cannot record the monitor"));
  return MonitorRecord{sqlite3_last_insert_rowid(database_), name, parameters, "", 0, ""};
}

Result<ScanRecord> SqliteStore::begin_round(int64_t monitor_id, int round, const std::string& parameters) {
  const std::string clear = fmt::format(
      "DELETE FROM result_certificates WHERE result_id IN (SELECT r.id FROM results r JOIN scans s ON r.scan_id = s.id "
      "WHERE s.monitor_id = {0} AND s.round = {1} AND s.finished_at IS NULL); "
      "DELETE FROM results WHERE scan_id IN (SELECT id FROM scans WHERE monitor_id = {0} AND round = {1} AND finished_at IS NULL); "
      "DELETE FROM scans WHERE monitor_id = {0} AND round = {1} AND finished_at IS NULL;",
      monitor_id, round);
  auto insert = prepare("INSERT INTO scans (started_at, parameters, monitor_id, round) VALUES (?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
  const std::string now = format_utc(now_utc());
  int64_t id = 0;
  auto done = in_transaction([&]() -> Result<void> {
    if (auto cleared = execute(clear); !cleared) return cleared;
    insert->bind_all(now, parameters, monitor_id, int64_t{round});
    if (auto ran = insert->run(); !ran) return ran;
    id = sqlite3_last_insert_rowid(database_);
    return {};
  });
  if (!done) return std::unexpected(done.error());
  return ScanRecord{id, now, parameters, false};
}

Result<void> SqliteStore::finish_round(int64_t monitor_id, int64_t scan_id, int round, const ScanTally& tally,
                                       const std::string& summary_json, const std::string& memory_json,
                                       std::span<const StoredEvent> events) {
  auto monitor = prepare("UPDATE monitors SET memory = ?, last_round = ? WHERE id = ?");
  auto update = prepare("UPDATE scans SET finished_at = ?, summary = ? WHERE id = ?");
  if (!monitor || !update) return std::unexpected(!monitor ? monitor.error() : update.error());
  const std::string now = format_utc(now_utc());
  return in_transaction([&]() -> Result<void> {
    if (auto inserted = insert_events(monitor_id, events); !inserted) return inserted;
    monitor->bind_all(memory_json, int64_t{round}, monitor_id);
    if (auto ran = monitor->run(); !ran) return ran;
    update->bind_all(now, summary_json, scan_id);
    if (auto ran = update->run(); !ran) return ran;
    return write_tally(scan_id, tally);
  });
}

// Inside a transaction: the scan's typed counts and its groups, replacing any.
Result<void> SqliteStore::write_tally(int64_t scan_id, const ScanTally& tally) {
  auto update = prepare(fmt::format("UPDATE scans SET {} WHERE id = ?", columns::assignments(columns::kScanColumns)));
  auto clear = prepare("DELETE FROM scan_groups WHERE scan_id = ?");
  auto insert = prepare("INSERT INTO scan_groups (scan_id, kind, key, name, hosts, eligible, intercepted) VALUES (?, ?, ?, ?, ?, ?, ?)");
  for (const auto* statement : {&update, &clear, &insert}) {
    if (!*statement) return std::unexpected(statement->error());
  }
  columns::bind_tally(*update, 1, tally);
  update->bind(columns::kScanColumnCount + 1, scan_id);
  if (auto ran = update->run(); !ran) return ran;
  clear->bind(1, scan_id);
  if (auto ran = clear->run(); !ran) return ran;
  for (const auto& group : tally.groups) {
    insert->reset();
    insert->bind_all(scan_id, tally_kind_name(group.kind), group.key, group.name, static_cast<int64_t>(group.hosts),
                     static_cast<int64_t>(group.eligible), static_cast<int64_t>(group.intercepted));
    if (auto ran = insert->run(); !ran) return ran;
  }
  return {};
}

Result<std::vector<StoredEvent>> SqliteStore::monitor_events(int64_t monitor_id) {
  auto select = prepare("SELECT round, time, type, scope, detail FROM events WHERE monitor_id = ? ORDER BY round, id");
  if (!select) return std::unexpected(select.error());
  select->bind(1, static_cast<int64_t>(monitor_id));
  std::vector<StoredEvent> events;
  Result<bool> step;
  auto text = [&](int column) { return select->column_text(column); };
  while ((step = select->step()) && *step) {
    events.push_back({select->column_int(0), text(1), text(2), text(3), text(4)});
  }
  if (!step) return std::unexpected(step.error());
  return events;
}

Result<ScanRecord> SqliteStore::begin_scan(const std::string& parameters, bool resume) {
  if (resume) {
    auto select = prepare("SELECT id, started_at FROM scans WHERE parameters = ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1");
  if (!select) return std::unexpected(select.error());
    select->bind(1, parameters);
    auto select_row = select->step();
    if (!select_row) return std::unexpected(select_row.error());
    if (*select_row) {
      return ScanRecord{select->column_int64(0),
                        select->column_text(1), parameters, false};
    }
  }
  const std::string now = format_utc(now_utc());
  auto insert = prepare("INSERT INTO scans (started_at, parameters) VALUES (?, ?)");
  if (!insert) return std::unexpected(insert.error());
  insert->bind(1, now);
  insert->bind(2, parameters);
  if (!insert->run()) return std::unexpected(error("cannot record the scan"));
  return ScanRecord{sqlite3_last_insert_rowid(database_), now, parameters, false};
}

// The statements of add_results, prepared once per batch.
struct SqliteStore::ResultStatements {
  SqliteStatement result, existing, certificate, stored_certificate, link;
};

Result<SqliteStore::ResultStatements> SqliteStore::result_statements() {
  auto result = prepare(fmt::format("INSERT OR IGNORE INTO results (scan_id, ip, port, sni, time, verdict, result, measurement, "
                                    "{}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {})", columns::column_list(columns::kResultColumns),
                                    columns::placeholders(columns::kResultColumnCount)));
  auto existing = prepare("SELECT verdict FROM results WHERE scan_id = ? AND ip = ? AND port = ? AND sni = ? AND measurement = ?");
  auto certificate = prepare("INSERT OR IGNORE INTO certificates (sha256, der) VALUES (?, ?)");
  auto stored_certificate = prepare("SELECT der FROM certificates WHERE sha256 = ?");
  auto link = prepare("INSERT INTO result_certificates (result_id, position, sha256) VALUES (?, ?, ?)");
  for (const auto* statement : {&result, &existing, &certificate, &stored_certificate, &link}) {
    if (!*statement) return std::unexpected(statement->error());
  }
  return ResultStatements{std::move(*result), std::move(*existing), std::move(*certificate), std::move(*stored_certificate),
                          std::move(*link)};
}

// A result already stored (a resumed scan) is left as it is, unless this write gives it another verdict.
Result<void> SqliteStore::check_same_verdict(ResultStatements& statements, int64_t scan_id, const StoredResult& item) {
  auto& existing = statements.existing;
  existing.reset();
  existing.bind_all(scan_id, item.ip, int64_t{item.port}, item.sni, item.measurement);
  auto row = existing.step();
  if (!row) return std::unexpected(row.error());
  const std::string verdict = *row ? existing.column_text(0) : item.verdict;
  if (verdict == item.verdict) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("{}: scan {}: {}:{} {} is stored with verdict '{}'; refusing '{}' (one verdict per observation)",
                                path_, scan_id, item.ip, item.port, item.sni, verdict, item.verdict));
}

// Certificates are stored once by SHA-256; other bytes under a stored SHA-256 are refused.
Result<void> SqliteStore::add_certificates(ResultStatements& statements, int64_t result_id, const StoredResult& item) {
  for (size_t position = 0; position < item.certificates.size(); ++position) {
    const auto& [sha256, der] = item.certificates[position];
    statements.certificate.reset();
    statements.certificate.bind_all(sha256, std::span<const uint8_t>(der));
    if (auto stored = statements.certificate.run(); !stored) return stored;
    if (sqlite3_changes(database_) == 0) {
      auto& select = statements.stored_certificate;
      select.reset();
      select.bind(1, sha256);
      auto row = select.step();
      if (!row) return std::unexpected(row.error());
      if (!*row || select.column_blob(0) != der) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: certificate {} is stored with other bytes; refusing a second one under the "
                                      "same SHA-256", path_, sha256));
      }
    }
    statements.link.reset();
    statements.link.bind_all(result_id, static_cast<int64_t>(position), sha256);
    if (auto linked = statements.link.run(); !linked) return linked;
  }
  return {};
}

Result<size_t> SqliteStore::add_results(int64_t scan_id, std::span<const StoredResult> results) {
  auto statements = result_statements();
  if (!statements) return std::unexpected(statements.error());
  size_t added = 0;
  auto body = [&]() -> Result<void> {
    for (const auto& item : results) {
      auto& insert = statements->result;
      insert.reset();
      insert.bind_all(scan_id, item.ip, int64_t{item.port}, item.sni, item.time, item.verdict, item.result_json,
                      item.measurement);
      columns::bind_facts(insert, 9, item.facts);
      if (auto ran = insert.run(); !ran) return ran;
      if (sqlite3_changes(database_) == 0) {
        if (auto same = check_same_verdict(*statements, scan_id, item); !same) return same;
        continue;
      }
      ++added;
      if (auto stored = add_certificates(*statements, sqlite3_last_insert_rowid(database_), item); !stored) return stored;
    }
    return {};
  };
  if (auto done = in_transaction(body); !done) return std::unexpected(done.error());
  return added;
}

Result<std::set<std::string>> SqliteStore::stored_pairs(int64_t scan_id) {
  auto select = prepare("SELECT ip, port, sni FROM results WHERE scan_id = ?");
  if (!select) return std::unexpected(select.error());
  select->bind(1, static_cast<int64_t>(scan_id));
  std::set<std::string> pairs;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    pairs.insert(fmt::format("{}:{} {}", select->column_text(0),
                             select->column_int(1),
                             select->column_text(2)));
  }
  if (!step) return std::unexpected(step.error());
  return pairs;
}

Result<void> SqliteStore::finish_scan(int64_t scan_id, const ScanTally& tally, const std::string& summary_json) {
  const std::string now = format_utc(now_utc());
  auto update = prepare("UPDATE scans SET finished_at = ?, summary = ? WHERE id = ?");
  if (!update) return std::unexpected(update.error());
  return in_transaction([&]() -> Result<void> {
    update->bind_all(now, summary_json, scan_id);
    if (auto ran = update->run(); !ran) return ran;
    return write_tally(scan_id, tally);
  });
}

Result<int64_t> SqliteStore::count(const std::string& table) {
  auto select = prepare(fmt::format("SELECT COUNT(*) FROM {}", table));
  if (!select) return std::unexpected(select.error());
  auto row = select->step();
  if (!row) return std::unexpected(row.error());
  return *row ? select->column_int64(0) : 0;
}

Result<std::vector<IssuerUse>> SqliteStore::intercepting_issuers() {
  auto select = prepare("SELECT rc.sha256, c.der, COUNT(*), MIN(r.time), MAX(r.time) FROM results r "
                        "JOIN result_certificates rc ON rc.result_id = r.id AND rc.position = 1 "
                        "JOIN certificates c ON c.sha256 = rc.sha256 WHERE r.verdict = 'intercepted' "
                        "GROUP BY rc.sha256 ORDER BY MIN(r.time), rc.sha256");
  if (!select) return std::unexpected(select.error());
  std::vector<IssuerUse> out;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    IssuerUse use;
    use.sha256 = select->column_text(0);
    use.der = select->column_blob(1);
    use.results = static_cast<size_t>(select->column_int64(2));
    use.first_seen = select->column_text(3);
    use.last_seen = select->column_text(4);
    out.push_back(std::move(use));
  }
  if (!step) return std::unexpected(step.error());
  return out;
}

Result<std::vector<IssuerReach>> SqliteStore::issuer_reach() {
  auto select = prepare("SELECT rc.sha256, r.sni, r.networks, r.source, COUNT(*) FROM results r "
                        "JOIN result_certificates rc ON rc.result_id = r.id AND rc.position = 1 "
                        "WHERE r.verdict = 'intercepted' GROUP BY rc.sha256, r.sni, r.networks, r.source ORDER BY rc.sha256");
  if (!select) return std::unexpected(select.error());
  std::vector<IssuerReach> out;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    if (out.empty() || out.back().sha256 != select->column_text(0)) out.push_back({select->column_text(0), {}, {}, {}});
    IssuerReach& reach = out.back();
    reach.names.insert(select->column_text(1));
    for (auto& network : split_lines(select->column_text(2))) reach.networks.insert(std::move(network));
    reach.sources[select->column_text(3)] += static_cast<size_t>(select->column_int64(4));
  }
  if (!step) return std::unexpected(step.error());
  return out;
}

Result<std::pair<size_t, size_t>> SqliteStore::uses_outside(const std::string& issuer_sha256, const std::string& from,
                                                            const std::string& to) {
  auto select = prepare("SELECT COALESCE(SUM(r.time < ?2), 0), COALESCE(SUM(r.time > ?3), 0) FROM results r "
                     "JOIN result_certificates rc ON rc.result_id = r.id AND rc.position = 1 "
                     "WHERE r.verdict = 'intercepted' AND rc.sha256 = ?1");
  if (!select) return std::unexpected(select.error());
  select->bind(1, issuer_sha256);
  select->bind(2, from);
  select->bind(3, to);
  auto row = select->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::unexpected(error("cannot count uses"));
  return std::pair{static_cast<size_t>(select->column_int64(0)),
                   static_cast<size_t>(select->column_int64(1))};
}

Result<std::vector<StoredResult>> SqliteStore::intercepted_results(int64_t scan_id, size_t limit) {
  auto select = prepare(fmt::format("SELECT ip, port, sni, time, verdict, measurement, {} FROM results WHERE scan_id = ? AND "
                                    "verdict = 'intercepted' ORDER BY ip, port, sni, measurement LIMIT ?",
                                    columns::column_list(columns::kResultColumns)));
  if (!select) return std::unexpected(select.error());
  select->bind_all(scan_id, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<StoredResult> out;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    out.push_back({select->column_text(0), static_cast<uint16_t>(select->column_int(1)), select->column_text(2),
                   select->column_text(3), select->column_text(4), {}, {}, select->column_text(5),
                   columns::read_facts(*select, 6)});
  }
  if (!step) return std::unexpected(step.error());
  return out;
}

Result<std::optional<StoredResult>> SqliteStore::example_intercepted(const std::string& issuer_sha256) {
  auto select = prepare(fmt::format("SELECT r.id, r.ip, r.port, r.sni, r.time, r.verdict, r.measurement, {} FROM results r "
                                    "JOIN result_certificates rc ON rc.result_id = r.id AND rc.position = 1 "
                                    "WHERE r.verdict = 'intercepted' AND rc.sha256 = ? ORDER BY r.time DESC, r.ip, r.port, r.sni, r.measurement LIMIT 1",
                                    columns::column_list(columns::kResultColumns, "r.")));
  if (!select) return std::unexpected(select.error());
  select->bind(1, issuer_sha256);
  auto row = select->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<StoredResult>();
  StoredResult result{select->column_text(1), static_cast<uint16_t>(select->column_int(2)), select->column_text(3),
                      select->column_text(4), select->column_text(5), {}, {}, select->column_text(6),
                      columns::read_facts(*select, 7)};
  auto chain = chain_of(select->column_int64(0));
  if (!chain) return std::unexpected(chain.error());
  result.certificates = std::move(*chain);
  return std::optional<StoredResult>(std::move(result));
}

Result<std::vector<std::pair<std::string, std::vector<uint8_t>>>> SqliteStore::chain_of(int64_t result_id) {
  auto chain = prepare("SELECT rc.sha256, c.der FROM result_certificates rc JOIN certificates c ON c.sha256 = rc.sha256 "
                       "WHERE rc.result_id = ? ORDER BY rc.position");
  if (!chain) return std::unexpected(chain.error());
  chain->bind(1, result_id);
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  Result<bool> row;
  while ((row = chain->step()) && *row) out.emplace_back(chain->column_text(0), chain->column_blob(1));
  if (!row) return std::unexpected(row.error());
  return out;
}

Result<void> SqliteStore::add_traces(std::span<const StoredTrace> traces) {
  return in_transaction([&]() -> Result<void> {
    auto insert = prepare("INSERT OR REPLACE INTO traces (run, time, ip, port, sni, kind, injection_ttl, address_distance, "
                       "router_before, router_after, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
    for (const auto& trace : traces) {
      insert->reset();
      insert->bind(1, static_cast<int64_t>(trace.run));
      int column = 2;
      for (const auto* text : {&trace.time, &trace.ip}) insert->bind(column++, *text);
      insert->bind(column++, static_cast<int64_t>(trace.port));
      for (const auto* text : {&trace.sni, &trace.kind}) insert->bind(column++, *text);
      insert->bind(column++, static_cast<int64_t>(trace.injection_ttl));
      insert->bind(column++, static_cast<int64_t>(trace.address_distance));
      for (const auto* text : {&trace.router_before, &trace.router_after, &trace.result_json}) {
        insert->bind(column++, *text);
      }
      if (!insert->run()) return std::unexpected(error("cannot store a trace"));
    }
    return {};
  });
}

Result<std::vector<StoredTrace>> SqliteStore::traces() {
  auto select = prepare("SELECT run, time, ip, port, sni, kind, injection_ttl, address_distance, router_before, router_after, "
                     "result FROM traces ORDER BY run, ip, port, sni");
  if (!select) return std::unexpected(select.error());
  std::vector<StoredTrace> out;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    out.push_back({select->column_int64(0), select->column_text(1), select->column_text(2),
                   static_cast<uint16_t>(select->column_int(3)), select->column_text(4), select->column_text(5),
                   select->column_int(6), select->column_int(7), select->column_text(8), select->column_text(9),
                   select->column_text(10)});
  }
  if (!step) return std::unexpected(step.error());
  return out;
}

Result<std::vector<ScanRow>> SqliteStore::scan_rows() {
  auto select = prepare(fmt::format("SELECT id, started_at, finished_at, parameters, summary, monitor_id, round, {} FROM scans "
                                    "ORDER BY id", columns::column_list(columns::kScanColumns)));
  if (!select) return std::unexpected(select.error());
  std::vector<ScanRow> out;
  std::map<int64_t, size_t> by_id;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    by_id[select->column_int64(0)] = out.size();
    out.push_back({select->column_int64(0), select->column_text(1), select->column_text(2), select->column_text(3), select->column_text(4),
                   select->column_int64(5), select->column_int(6), columns::read_tally(*select, 7)});
  }
  if (!step) return std::unexpected(step.error());
  if (auto grouped = read_groups(out, by_id); !grouped) return std::unexpected(grouped.error());
  return out;
}

Result<void> SqliteStore::read_groups(std::vector<ScanRow>& scans, const std::map<int64_t, size_t>& by_id) {
  auto select = prepare("SELECT scan_id, kind, key, name, hosts, eligible, intercepted FROM scan_groups ORDER BY scan_id, kind, key");
  if (!select) return std::unexpected(select.error());
  Result<bool> step;
  while ((step = select->step()) && *step) {
    const auto scan = by_id.find(select->column_int64(0));
    const auto kind = tally_kind_from_name(select->column_text(1));
    if (scan == by_id.end() || !kind || !scans[scan->second].tally) continue;
    scans[scan->second].tally->groups.push_back({*kind, select->column_text(2), select->column_text(3),
                                                 static_cast<size_t>(select->column_int64(4)),
                                                 static_cast<size_t>(select->column_int64(5)),
                                                 static_cast<size_t>(select->column_int64(6))});
  }
  if (!step) return std::unexpected(step.error());
  return {};
}

Result<std::vector<MonitorRow>> SqliteStore::monitor_rows() {
  auto select = prepare("SELECT id, name, parameters, created_at, memory, last_round FROM monitors ORDER BY id");
  if (!select) return std::unexpected(select.error());
  std::vector<MonitorRow> out;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    out.push_back({select->column_int64(0), select->column_text(1), select->column_text(2), select->column_text(3), select->column_text(4),
                   select->column_int(5)});
  }
  if (!step) return std::unexpected(step.error());
  return out;
}

Result<std::vector<std::pair<int64_t, StoredEvent>>> SqliteStore::event_rows() {
  auto select = prepare("SELECT monitor_id, round, time, type, scope, detail FROM events ORDER BY monitor_id, round, id");
  if (!select) return std::unexpected(select.error());
  std::vector<std::pair<int64_t, StoredEvent>> out;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    out.push_back({select->column_int64(0),
                   {select->column_int(1), select->column_text(2), select->column_text(3), select->column_text(4), select->column_text(5)}});
  }
  if (!step) return std::unexpected(step.error());
  return out;
}

Result<void> SqliteStore::for_each_result(int64_t scan_id, size_t page,
                                          const std::function<Result<void>(std::span<const StoredResult>)>& visit) {
  auto select = prepare(fmt::format("SELECT id, ip, port, sni, time, verdict, result, measurement, {} FROM results "
                                    "WHERE scan_id = ? ORDER BY ip, port, sni, measurement",
                                    columns::column_list(columns::kResultColumns)));
  if (!select) return std::unexpected(select.error());
  auto chain = prepare("SELECT rc.sha256, c.der FROM result_certificates rc JOIN certificates c ON c.sha256 = rc.sha256 "
                     "WHERE rc.result_id = ? ORDER BY rc.position");
  if (!chain) return std::unexpected(chain.error());
  select->bind(1, static_cast<int64_t>(scan_id));
  std::vector<StoredResult> batch;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    StoredResult result{select->column_text(1), static_cast<uint16_t>(select->column_int(2)), select->column_text(3),
                        select->column_text(4), select->column_text(5), select->column_text(6), {}, select->column_text(7),
                        columns::read_facts(*select, 8)};
    chain->reset();
    chain->bind(1, select->column_int64(0));
    Result<bool> chain_row;
    while ((chain_row = chain->step()) && *chain_row) {
      result.certificates.emplace_back(chain->column_text(0), chain->column_blob(1));
    }
    if (!chain_row) return std::unexpected(chain_row.error());
    batch.push_back(std::move(result));
    if (batch.size() >= page) {
      if (auto visited = visit(batch); !visited) return visited;
      batch.clear();
    }
  }
  if (!step) return std::unexpected(step.error());
  if (!batch.empty()) return visit(batch);
  return {};
}

Result<void> SqliteStore::put_monitor(const MonitorRow& monitor) {
  auto insert = prepare("INSERT OR REPLACE INTO monitors (id, name, parameters, created_at, memory, last_round) "
                     "VALUES (?, ?, ?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
  insert->bind(1, static_cast<int64_t>(monitor.id));
  insert->bind(2, monitor.name);
  insert->bind(3, monitor.parameters);
  insert->bind(4, monitor.created_at);
  if (monitor.memory_json.empty()) {
    insert->bind_null(5);
  } else {
    insert->bind(5, monitor.memory_json);
  }
  insert->bind(6, static_cast<int64_t>(monitor.last_round));
  if (!insert->run()) {
    return std::unexpected(error(fmt::format("cannot store monitor {} ('{}')", monitor.id, monitor.name)));
  }
  return {};
}

Result<void> SqliteStore::put_scan(const ScanRow& scan) {
  auto insert = prepare("INSERT OR REPLACE INTO scans (id, started_at, finished_at, parameters, summary, monitor_id, round) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error());
  auto text_or_null = [&](int column, const std::string& text) {
    if (text.empty()) {
      insert->bind_null(column);
    } else {
      insert->bind(column, text);
    }
  };
  insert->bind(1, static_cast<int64_t>(scan.id));
  insert->bind(2, scan.started_at);
  text_or_null(3, scan.finished_at);
  insert->bind(4, scan.parameters);
  text_or_null(5, scan.summary_json);
  if (scan.monitor_id) {
    insert->bind(6, static_cast<int64_t>(scan.monitor_id));
    insert->bind(7, static_cast<int64_t>(scan.round));
  } else {
    insert->bind_null(6);
    insert->bind_null(7);
  }
  return in_transaction([&]() -> Result<void> {
    if (!insert->run()) return std::unexpected(error(fmt::format("cannot store scan {}", scan.id)));
    return scan.tally ? write_tally(scan.id, *scan.tally) : Result<void>{};
  });
}

Result<void> SqliteStore::put_events(int64_t monitor_id, std::span<const StoredEvent> events) {
  return in_transaction([&] { return insert_events(monitor_id, events); });
}

// `store migrate`: every result and finished scan written before typed facts gets them from the JSON it kept,
// in one transaction; then the store is marked typed.
Result<MigrationReport> SqliteStore::migrate() {
  auto version = single_number("PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  if (*version >= columns::kTypedVersion) return MigrationReport{0, 0, true};
  MigrationReport report;
  auto done = in_transaction([&]() -> Result<void> {
    auto results = migrate_results();
    if (!results) return std::unexpected(results.error());
    auto scans = migrate_scans();
    if (!scans) return std::unexpected(scans.error());
    report = {*results, *scans, false};
    return execute(fmt::format("PRAGMA user_version = {}", columns::kTypedVersion));
  });
  if (!done) return std::unexpected(done.error());
  return report;
}

// In pages by id: a page is read whole before its rows are updated (SQLite does not promise what a statement
// sees of rows changed while it steps).
Result<int64_t> SqliteStore::migrate_results() {
  constexpr int64_t kPage = 4096;
  auto select = prepare("SELECT id, result FROM results WHERE id > ? ORDER BY id LIMIT ?");
  auto update = prepare(fmt::format("UPDATE results SET {} WHERE id = ?", columns::assignments(columns::kResultColumns)));
  if (!select || !update) return std::unexpected(!select ? select.error() : update.error());
  int64_t migrated = 0, after = 0;
  while (true) {
    std::vector<std::pair<int64_t, ResultFacts>> page;
    select->reset();
    select->bind_all(after, kPage);
    Result<bool> step;
    while ((step = select->step()) && *step) page.emplace_back(select->column_int64(0), facts_from_result_json(select->column_text(1)));
    if (!step) return std::unexpected(step.error());
    if (page.empty()) return migrated;
    for (const auto& [id, facts] : page) {
      update->reset();
      columns::bind_facts(*update, 1, facts);
      update->bind(columns::kResultColumnCount + 1, id);
      if (auto ran = update->run(); !ran) return std::unexpected(ran.error());
    }
    migrated += static_cast<int64_t>(page.size());
    after = page.back().first;
  }
}

Result<int64_t> SqliteStore::migrate_scans() {
  auto select = prepare("SELECT id, summary FROM scans WHERE finished_at IS NOT NULL AND hosts IS NULL");
  if (!select) return std::unexpected(select.error());
  std::vector<std::pair<int64_t, ScanTally>> tallies;
  Result<bool> step;
  while ((step = select->step()) && *step) {
    auto tally = tally_from_summary_json(select->column_text(1));
    if (tally) tallies.emplace_back(select->column_int64(0), std::move(*tally));
  }
  if (!step) return std::unexpected(step.error());
  for (const auto& [id, tally] : tallies) {
    if (auto written = write_tally(id, tally); !written) return std::unexpected(written.error());
  }
  return static_cast<int64_t>(tallies.size());
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
