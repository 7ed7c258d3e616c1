#include "store/clickhouse_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/time.h"
#include "store/clickhouse_facts.h"
#include "store/legacy_json.h"

namespace mitmscope {
namespace {

using clickhouse::append_quoted;
using clickhouse::append_tsv;
using clickhouse::sql_string;

// The tables: (name, columns, engine, Distributed sharding key). Rows that change are replaced
// under their sorting key by a higher `version`; the sharding key is (part of) that sorting key.
struct TableSpec {
  const char* name;
  const char* columns;
  const char* engine;
  const char* shard_key;
};

constexpr TableSpec kTables[] = {
    {"scans",
     "id Int64, started_at String, finished_at String, parameters String, summary String, monitor_id Int64, "
     "round Int32, deleted UInt8, version UInt64",
     "ReplacingMergeTree(version) ORDER BY id", "intHash64(id)"},
    {"monitors",
     "id Int64, name String, parameters String, created_at String, memory String, last_round Int32, version UInt64",
     "ReplacingMergeTree(version) ORDER BY id", "intHash64(id)"},
    {"events",
     "monitor_id Int64, scan_id Int64, round Int32, seq UInt32, time String, type String, scope String, detail String, "
     "version UInt64",
     "ReplacingMergeTree(version) ORDER BY (monitor_id, round, type, scope)", "intHash64(monitor_id)"},
    {"certificates", "sha256 String, der String", "ReplacingMergeTree ORDER BY sha256", "cityHash64(sha256)"},
    {"results",
     "scan_id Int64, ip String, port UInt16, sni String, time DateTime('UTC'), verdict String, issuer String, "
     "chain Array(String), result String, measurement String",
     "ReplacingMergeTree PARTITION BY toYYYYMM(time) ORDER BY (scan_id, ip, port, sni, measurement)", "cityHash64(ip)"},
    {"traces",
     "run Int64, time DateTime('UTC'), ip String, port UInt16, sni String, kind String, injection_ttl Int32, "
     "address_distance Int32, router_before String, router_after String, result String, version UInt64",
     "ReplacingMergeTree(version) PARTITION BY toYYYYMM(time) ORDER BY (run, ip, port, sni)", "cityHash64(ip)"},
    {"schema_info", "version UInt32", "MergeTree ORDER BY version", "version"},
};

namespace facts = clickhouse_facts;

// The typed columns a table has after its first ones (added by ALTER to a database an earlier version made).
std::span<const facts::Column> typed_columns(std::string_view table) {
  if (table == "results") return facts::kResultColumns;
  if (table == "scans") return facts::kScanColumns;
  return {};
}

// "2019-07-18T10:00:00Z" ↔ "2019-07-18 10:00:00", clamped to what DateTime holds.
std::string to_datetime(std::string_view utc) {
  if (utc.size() < 19) return "1970-01-01 00:00:00";
  if (utc.substr(0, 4) < "1970") return "1970-01-01 00:00:00";
  if (utc.substr(0, 4) > "2105") return "2105-12-31 23:59:59";
  return fmt::format("{} {}", utc.substr(0, 10), utc.substr(11, 8));
}

std::string from_datetime(std::string_view text) {
  if (text.size() < 19) return std::string(text);
  return fmt::format("{}T{}Z", text.substr(0, 10), text.substr(11, 8));
}

int64_t to_int(std::string_view text) {
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

int64_t new_id() {
  // Milliseconds since 1970 with 10 random bits: unique across scanners writing at once, in time order.
  static std::mt19937_64 random{std::random_device{}()};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return (static_cast<int64_t>(ms.count()) << 10) | static_cast<int64_t>(random() & 1023);
}

}  // namespace

ClickHouseStore::ClickHouseStore(std::string uri, ClickHouseLocation location, std::string password)
    : uri_(std::move(uri)), location_(std::move(location)), password_(std::move(password)) {
  http_ = connect(location_.servers.front(), location_.cluster.empty() ? "" : "insert_distributed_sync=1");
}

std::unique_ptr<clickhouse::Http> ClickHouseStore::connect(const std::string& server, std::string settings) const {
  const std::string label = location_.servers.size() == 1 ? uri_ : fmt::format("{} (server {})", uri_, server);
  return std::make_unique<clickhouse::Http>(clickhouse_access(location_, server, password_), std::move(settings), label);
}

Result<std::unique_ptr<ClickHouseStore>> ClickHouseStore::open(const std::string& uri, bool for_migration) {
  auto location = parse_clickhouse_uri(uri);
  if (!location) return std::unexpected(location.error());
  auto password = clickhouse_password(*location, [](const char* name) { return std::getenv(name); });
  if (!password) return std::unexpected(password.error());
  std::unique_ptr<ClickHouseStore> store(new ClickHouseStore(uri, std::move(*location), std::move(*password)));
  if (auto created = store->create_schema(); !created) return std::unexpected(created.error());
  if (auto typed = store->check_version(for_migration); !typed) return std::unexpected(typed.error());
  return store;
}

// The tables of the store's database on the server `http` reaches; none when the database is not there.
Result<std::set<std::string>> ClickHouseStore::existing_tables(clickhouse::Http& http) {
  auto answer = http.query(fmt::format("SELECT name FROM system.tables WHERE database = {} FORMAT TabSeparated",
                                       sql_string(location_.database)));
  if (!answer) return std::unexpected(answer.error());
  std::set<std::string> names;
  for (auto& row : clickhouse::parse_tsv(*answer)) {
    if (!row.empty()) names.insert(std::move(row[0]));
  }
  return names;
}

// The database shows no tables and the user may not make them: either it is new, or the user was not given it.
std::unexpected<Error> ClickHouseStore::no_tables(const Error& refused) const {
  constexpr int kReadonly = 164, kDdlProhibited = 392;
  const int code = clickhouse::server_code(refused.message);
  if (code != kReadonly && code != kDdlProhibited) return std::unexpected(refused);
  const std::string who = location_.user.empty() ? std::string("the default user") : "user " + location_.user;
  return make_error(refused.code, fmt::format("{}: {} sees no tables in database {} and may not make them: a store's tables "
                                              "are made once by a user that may (docs/CLI.md, \"A ClickHouse store with "
                                              "users\"), and its users must be given the database (<allow_databases>)",
                                              uri_, who, location_.database));
}

// Only what is missing is created: a user without DDL rights opens a store whose tables exist.
Result<void> ClickHouseStore::create_schema() {
  const std::string& db = location_.database;
  for (const auto& server : location_.servers) {
    auto http = connect(server);
    auto present = existing_tables(*http);
    if (!present) return std::unexpected(present.error());
    auto run = [&](const std::string& name, const std::string& sql) -> Result<void> {
      if (present->contains(name)) return {};
      auto made = http->query(sql);
      if (!made) return std::unexpected(made.error());
      return {};
    };
    if (present->empty()) {
      if (auto made = http->query(fmt::format("CREATE DATABASE IF NOT EXISTS {}", db)); !made) return no_tables(made.error());
    }
    for (const auto& table : kTables) {
      const std::string local = location_.cluster.empty() ? table.name : fmt::format("{}_local", table.name);
      auto made = run(local, fmt::format("CREATE TABLE IF NOT EXISTS {}.{} ({}{}) ENGINE = {}", db, local, table.columns,
                                         facts::definitions(typed_columns(table.name)), table.engine));
      if (made && !location_.cluster.empty()) {
        made = run(table.name, fmt::format("CREATE TABLE IF NOT EXISTS {0}.{1} AS {0}.{2} ENGINE = Distributed({3}, {0}, {2}, {4})",
                                           db, table.name, local, location_.cluster, table.shard_key));
      }
      if (!made) return made;
    }
  }
  if (auto added = add_columns(); !added) return added;
  // A cluster that is not in the servers' configuration is found now, not at the first insert.
  if (!location_.cluster.empty()) {
    auto shards = select(fmt::format("SELECT count() FROM system.clusters WHERE cluster = {}", sql_string(location_.cluster)));
    if (!shards) return std::unexpected(shards.error());
    if (shards->empty() || shards->front().front() == "0") {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: cluster '{}' is not in the server's remote_servers configuration", uri_, location_.cluster));
    }
  }
  return {};
}

// A database an earlier version made lacks the typed columns: added on every server, to the local tables and
// to the Distributed ones (ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: system.columns says what is there).
Result<void> ClickHouseStore::add_columns() {
  const std::string& db = location_.database;
  for (const auto& server : location_.servers) {
    auto http = connect(server);
    auto answer = http->query(fmt::format("SELECT table, name FROM system.columns WHERE database = {} FORMAT TabSeparated", sql_string(db)));
    if (!answer) return std::unexpected(answer.error());
    std::set<std::pair<std::string, std::string>> present;
    for (auto& row : clickhouse::parse_tsv(*answer)) {
      if (row.size() >= 2) present.emplace(std::move(row[0]), std::move(row[1]));
    }
    for (std::string_view table : {"results", "scans"}) {
      std::vector<std::string> names{std::string(table)};
      if (!location_.cluster.empty()) names.push_back(fmt::format("{}_local", table));
      for (const auto& name : names) {
        for (const auto& column : typed_columns(table)) {
          if (present.contains({name, std::string(column.name)})) continue;
          auto altered = http->query(fmt::format("ALTER TABLE {}.{} ADD COLUMN {} {}", db, name, column.name, column.type));
          if (!altered) return std::unexpected(altered.error());
        }
      }
    }
  }
  return {};
}

// As SqliteStore: a database with results or finished scans from before typed facts is refused until
// `store migrate`; an empty one is marked typed from the start.
Result<void> ClickHouseStore::check_version(bool for_migration) {
  const std::string& db = location_.database;
  auto version = select(fmt::format("SELECT max(version) FROM {}.schema_info", db));
  if (!version) return std::unexpected(version.error());
  const bool typed = !version->empty() && !version->front().empty() && to_int(version->front()[0]) >= facts::kTypedVersion;
  if (typed || for_migration) return {};
  auto old_rows = select(fmt::format("SELECT (SELECT count() FROM {0}.results) + (SELECT count() FROM {0}.scans WHERE finished_at != '')", db));
  if (!old_rows) return std::unexpected(old_rows.error());
  if (!old_rows->empty() && !old_rows->front().empty() && to_int(old_rows->front()[0]) > 0) {
    return std::unexpected(needs_migration(uri_, "its results and scans have no typed columns"));
  }
  return mark_typed();
}

Result<void> ClickHouseStore::mark_typed() {
  return http_->insert(fmt::format("INSERT INTO {}.schema_info FORMAT TabSeparated", location_.database),
                       fmt::format("{}\n", facts::kTypedVersion));
}

Result<std::vector<std::vector<std::string>>> ClickHouseStore::select(const std::string& sql) {
  auto answer = http_->query(sql + " FORMAT TabSeparated");
  if (!answer) return std::unexpected(answer.error());
  return clickhouse::parse_tsv(*answer);
}

uint64_t ClickHouseStore::next_version() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
  last_version_ = std::max<uint64_t>(last_version_ + 1, static_cast<uint64_t>(us.count()));
  return last_version_;
}

namespace {
// Scans as readers see them: the latest version of each, tombstones left out.
std::string live_scans(const std::string& db) {
  return fmt::format("(SELECT id FROM {}.scans GROUP BY id HAVING argMax(deleted, version) = 0)", db);
}
}  // namespace

Result<void> ClickHouseStore::write_scan(const ScanRow& scan, bool deleted) {
  std::string row;
  append_tsv(row, std::to_string(scan.id));
  for (const auto* field : {&scan.started_at, &scan.finished_at, &scan.parameters, &scan.summary_json}) {
    row += '\t';
    append_tsv(row, *field);
  }
  row += fmt::format("\t{}\t{}\t{}\t{}", scan.monitor_id, scan.round, deleted ? 1 : 0, next_version());
  facts::append_tally(row, scan.tally);
  row += '\n';
  return http_->insert(fmt::format("INSERT INTO {}.scans FORMAT TabSeparated", location_.database), row);
}

Result<void> ClickHouseStore::write_monitor(const MonitorRow& monitor) {
  std::string row = std::to_string(monitor.id);
  for (const auto* field : {&monitor.name, &monitor.parameters, &monitor.created_at, &monitor.memory_json}) {
    row += '\t';
    append_tsv(row, *field);
  }
  row += fmt::format("\t{}\t{}\n", monitor.last_round, next_version());
  return http_->insert(fmt::format("INSERT INTO {}.monitors FORMAT TabSeparated", location_.database), row);
}

Result<void> ClickHouseStore::write_events(int64_t monitor_id, int64_t scan_id, std::span<const StoredEvent> events) {
  std::string rows;
  const uint64_t version = next_version();
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& event = events[i];
    rows += fmt::format("{}\t{}\t{}\t{}", monitor_id, scan_id, event.round, i);
    for (const auto* field : {&event.time, &event.type, &event.scope, &event.detail_json}) {
      rows += '\t';
      append_tsv(rows, *field);
    }
    rows += fmt::format("\t{}\n", version);
  }
  return http_->insert(fmt::format("INSERT INTO {}.events FORMAT TabSeparated", location_.database), rows);
}

Result<std::vector<ScanRow>> ClickHouseStore::scan_rows() {
  auto rows = select(fmt::format(
      "SELECT id, argMax(started_at, version), argMax(finished_at, version), argMax(parameters, version), "
      "argMax(summary, version), argMax(monitor_id, version), argMax(round, version){} FROM {}.scans GROUP BY id "
      "HAVING argMax(deleted, version) = 0 ORDER BY id",
      facts::select_list(facts::kScanColumns, "argMax({}, version)"), location_.database));
  if (!rows) return std::unexpected(rows.error());
  std::vector<ScanRow> out;
  for (auto& row : *rows) {
    if (row.size() < 7 + facts::kScanColumnCount) continue;
    out.push_back({to_int(row[0]), std::move(row[1]), std::move(row[2]), std::move(row[3]), std::move(row[4]),
                   to_int(row[5]), static_cast<int>(to_int(row[6])), facts::read_tally(std::span(row).subspan(7))});
  }
  return out;
}

Result<std::optional<ScanRow>> ClickHouseStore::scan_row(int64_t scan_id) {
  auto rows = scan_rows();
  if (!rows) return std::unexpected(rows.error());
  for (auto& row : *rows) {
    if (row.id == scan_id) return std::optional<ScanRow>(std::move(row));
  }
  return std::optional<ScanRow>();
}

Result<std::vector<MonitorRow>> ClickHouseStore::monitor_rows() {
  auto rows = select(fmt::format(
      "SELECT id, argMax(name, version), argMax(parameters, version), argMax(created_at, version), argMax(memory, version), "
      "argMax(last_round, version) FROM {}.monitors GROUP BY id ORDER BY id",
      location_.database));
  if (!rows) return std::unexpected(rows.error());
  std::vector<MonitorRow> out;
  for (auto& row : *rows) {
    if (row.size() < 6) continue;
    out.push_back({to_int(row[0]), std::move(row[1]), std::move(row[2]), std::move(row[3]), std::move(row[4]),
                   static_cast<int>(to_int(row[5]))});
  }
  return out;
}

Result<std::optional<MonitorRow>> ClickHouseStore::monitor_row(int64_t monitor_id) {
  auto rows = monitor_rows();
  if (!rows) return std::unexpected(rows.error());
  for (auto& row : *rows) {
    if (row.id == monitor_id) return std::optional<MonitorRow>(std::move(row));
  }
  return std::optional<MonitorRow>();
}

Result<ScanRecord> ClickHouseStore::begin_scan(const std::string& parameters, bool resume) {
  if (resume) {
    auto rows = scan_rows();
    if (!rows) return std::unexpected(rows.error());
    for (auto row = rows->rbegin(); row != rows->rend(); ++row) {
      if (row->parameters == parameters && row->finished_at.empty() && row->monitor_id == 0) {
        return ScanRecord{row->id, row->started_at, parameters, false};
      }
    }
  }
  ScanRow scan{new_id(), format_utc(now_utc()), "", parameters, "", 0, 0};
  if (auto written = write_scan(scan, false); !written) return std::unexpected(written.error());
  return ScanRecord{scan.id, scan.started_at, parameters, false};
}

namespace {

// SQL IN lists of at most this many bytes each: ClickHouse refuses a query longer than its max_query_size
// (256 KiB by default), which one list of a 10,000-result batch's keys exceeds.
constexpr size_t kMaxInListBytes = 128 * 1024;

std::vector<std::string> in_lists(const std::vector<std::string>& literals) {
  std::vector<std::string> lists;
  for (const auto& literal : literals) {
    if (lists.empty() || lists.back().size() + literal.size() + 1 > kMaxInListBytes) lists.emplace_back();
    if (!lists.back().empty()) lists.back() += ',';
    lists.back() += literal;
  }
  return lists;
}

}  // namespace

// The invariants SQLite enforces in its transaction, checked before a batch is written: no stored observation
// gets a second, different verdict, and no stored SHA-256 gets other certificate bytes. (Two writers racing on
// the same key are not caught: ClickHouse has no transactions; readers then keep one row per key.)
Result<void> ClickHouseStore::check_invariants(int64_t scan_id, std::span<const StoredResult> results) {
  if (results.empty()) return {};
  std::string keys;   // the batch's keys, sent as a table with the query
  std::set<std::string> shas;
  std::unordered_map<std::string, std::string_view> verdicts;
  std::unordered_map<std::string, const std::vector<uint8_t>*> ders;
  for (const auto& result : results) {
    std::string key;
    const std::string port = std::to_string(result.port);
    for (const std::string_view field : {std::string_view(result.ip), std::string_view(port), std::string_view(result.sni),
                                         std::string_view(result.measurement)}) {
      if (!key.empty()) key += '\t';
      clickhouse::append_tsv(key, field);
    }
    if (verdicts.emplace(key, result.verdict).second) keys += key + '\n';
    for (const auto& [sha256, der] : result.certificates) {
      if (ders.emplace(sha256, &der).second) shas.insert(sha256);
    }
  }
  auto stored = http_->query_with_table(
      fmt::format("SELECT ip, port, sni, measurement, any(verdict) FROM {}.results WHERE scan_id = {} AND "
                  "(ip, port, sni, measurement) IN batch_keys GROUP BY ip, port, sni, measurement FORMAT TabSeparated",
                  location_.database, scan_id),
      "batch_keys", "ip String, port UInt16, sni String, measurement String", keys);
  if (!stored) return std::unexpected(stored.error());
  for (const auto& row : clickhouse::parse_tsv(*stored)) {
    if (row.size() < 5) continue;
    std::string key;
    for (size_t i = 0; i < 4; ++i) {
      if (i) key += '\t';
      clickhouse::append_tsv(key, row[i]);
    }
    const auto wanted = verdicts.find(key);
    if (wanted != verdicts.end() && wanted->second != row[4]) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: scan {}: {}:{} {} is stored with verdict '{}'; refusing '{}' (one verdict per "
                                    "observation)", uri_, scan_id, row[0], row[1], row[2], row[4], wanted->second));
    }
  }
  auto stored_ders = certificates(shas);
  if (!stored_ders) return std::unexpected(stored_ders.error());
  for (const auto& [sha256, der] : *stored_ders) {
    if (der != *ders.at(sha256)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: certificate {} is stored with other bytes; refusing a second one under the same "
                                    "SHA-256", uri_, sha256));
    }
  }
  return {};
}

Result<size_t> ClickHouseStore::add_results(int64_t scan_id, std::span<const StoredResult> results) {
  if (auto checked = check_invariants(scan_id, results); !checked) return std::unexpected(checked.error());
  // Certificates first, so a stored result never names one that is missing.
  std::string certificates, rows;
  std::unordered_set<std::string_view> in_batch;
  for (const auto& result : results) {
    for (const auto& [sha256, der] : result.certificates) {
      if (!in_batch.insert(sha256).second) continue;
      append_tsv(certificates, sha256);
      certificates += '\t';
      certificates += clickhouse::hex(der);
      certificates += '\n';
    }
    rows += fmt::format("{}\t", scan_id);
    append_tsv(rows, result.ip);
    rows += fmt::format("\t{}\t", result.port);
    append_tsv(rows, result.sni);
    rows += '\t';
    rows += to_datetime(result.time);
    rows += '\t';
    append_tsv(rows, result.verdict);
    rows += '\t';
    if (result.certificates.size() > 1) append_tsv(rows, result.certificates[1].first);
    rows += "\t[";
    std::string array;
    for (size_t i = 0; i < result.certificates.size(); ++i) {
      if (i) array += ',';
      append_quoted(array, result.certificates[i].first);
    }
    append_tsv(rows, array);
    rows += "]\t";
    append_tsv(rows, result.result_json);
    rows += '\t';
    append_tsv(rows, result.measurement);
    facts::append_facts(rows, result.facts);
    rows += '\n';
  }
  const std::string& db = location_.database;
  if (auto written = http_->insert(fmt::format("INSERT INTO {}.certificates FORMAT TabSeparated", db), certificates); !written) {
    return std::unexpected(written.error());
  }
  if (auto written = http_->insert(fmt::format("INSERT INTO {}.results FORMAT TabSeparated", db), rows); !written) {
    return std::unexpected(written.error());
  }
  return results.size();
}

Result<std::set<std::string>> ClickHouseStore::stored_pairs(int64_t scan_id) {
  auto rows = select(fmt::format("SELECT DISTINCT ip, port, sni FROM {}.results WHERE scan_id = {}", location_.database, scan_id));
  if (!rows) return std::unexpected(rows.error());
  std::set<std::string> pairs;
  for (const auto& row : *rows) {
    if (row.size() >= 3) pairs.insert(fmt::format("{}:{} {}", row[0], row[1], row[2]));
  }
  return pairs;
}

Result<void> ClickHouseStore::finish_scan(int64_t scan_id, const ScanTally& tally, const std::string& summary_json) {
  auto scan = scan_row(scan_id);
  if (!scan) return std::unexpected(scan.error());
  if (!*scan) return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: no scan {}", uri_, scan_id));
  (*scan)->finished_at = format_utc(now_utc());
  (*scan)->summary_json = summary_json;
  (*scan)->tally = tally;
  return write_scan(**scan, false);
}

Result<MonitorRecord> ClickHouseStore::open_monitor(const std::string& name, const std::string& parameters) {
  auto monitors = monitor_rows();
  if (!monitors) return std::unexpected(monitors.error());
  for (const auto& monitor : *monitors) {
    if (monitor.name != name) continue;
    if (monitor.parameters != parameters) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: monitor '{}' exists with other parameters ({}); use another --name",
                                                                 uri_, name, monitor.parameters));
    }
    MonitorRecord record{monitor.id, name, parameters, monitor.memory_json, monitor.last_round, ""};
    auto scans = scan_rows();
    if (!scans) return std::unexpected(scans.error());
    for (const auto& scan : *scans) {
      if (scan.monitor_id == monitor.id && scan.round == monitor.last_round && !scan.finished_at.empty()) {
        record.last_round_started_at = scan.started_at;
      }
    }
    return record;
  }
  MonitorRow monitor{new_id(), name, parameters, format_utc(now_utc()), "", 0};
  if (auto written = write_monitor(monitor); !written) return std::unexpected(written.error());
  return MonitorRecord{monitor.id, name, parameters, "", 0, ""};
}

Result<ScanRecord> ClickHouseStore::begin_round(int64_t monitor_id, int round, const std::string& parameters) {
  // A scan of this round exists only when an earlier attempt did not commit it (the monitor's
  // last_round is below `round`): tombstoned, with its results and events out of every reader's sight.
  auto scans = scan_rows();
  if (!scans) return std::unexpected(scans.error());
  for (const auto& scan : *scans) {
    if (scan.monitor_id != monitor_id || scan.round != round) continue;
    if (auto written = write_scan(scan, true); !written) return std::unexpected(written.error());
  }
  ScanRow scan{new_id(), format_utc(now_utc()), "", parameters, "", monitor_id, round};
  if (auto written = write_scan(scan, false); !written) return std::unexpected(written.error());
  return ScanRecord{scan.id, scan.started_at, parameters, false};
}

Result<void> ClickHouseStore::finish_round(int64_t monitor_id, int64_t scan_id, int round, const ScanTally& tally,
                                           const std::string& summary_json, const std::string& memory_json,
                                           std::span<const StoredEvent> events) {
  // No transactions: events, then the finished scan, then the monitor's memory and last round,
  // which is the commit point. A crash before it leaves a round that begin_round tombstones.
  auto monitor = monitor_row(monitor_id);
  if (!monitor) return std::unexpected(monitor.error());
  if (!*monitor) return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: no monitor {}", uri_, monitor_id));
  if (auto written = write_events(monitor_id, scan_id, events); !written) return written;
  if (auto finished = finish_scan(scan_id, tally, summary_json); !finished) return finished;
  (*monitor)->memory_json = memory_json;
  (*monitor)->last_round = round;
  return write_monitor(**monitor);
}

namespace {
std::string events_query(const std::string& db, const std::string& where) {
  // Events of tombstoned rounds are left out; copied events (scan 0) stand on their own.
  return fmt::format(
      "SELECT monitor_id, round, argMax(time, version), type, scope, argMax(detail, version), argMax(seq, version) AS s "
      "FROM {0}.events WHERE {1} (scan_id = 0 OR scan_id GLOBAL IN {2}) GROUP BY monitor_id, round, type, scope "
      "ORDER BY monitor_id, round, s",
      db, where, live_scans(db));
}
}  // namespace

Result<std::vector<std::pair<int64_t, StoredEvent>>> ClickHouseStore::event_rows() {
  auto rows = select(events_query(location_.database, ""));
  if (!rows) return std::unexpected(rows.error());
  std::vector<std::pair<int64_t, StoredEvent>> out;
  for (auto& row : *rows) {
    if (row.size() < 7) continue;
    out.push_back({to_int(row[0]), {static_cast<int>(to_int(row[1])), std::move(row[2]), std::move(row[3]),
                                    std::move(row[4]), std::move(row[5])}});
  }
  return out;
}

Result<std::vector<StoredEvent>> ClickHouseStore::monitor_events(int64_t monitor_id) {
  auto rows = select(events_query(location_.database, fmt::format("monitor_id = {} AND", monitor_id)));
  if (!rows) return std::unexpected(rows.error());
  std::vector<StoredEvent> out;
  for (auto& row : *rows) {
    if (row.size() < 7) continue;
    out.push_back({static_cast<int>(to_int(row[1])), std::move(row[2]), std::move(row[3]), std::move(row[4]), std::move(row[5])});
  }
  return out;
}

namespace {
// Intercepted results of live scans, one row per (scan, ip, port, sni) even before ClickHouse
// has merged away a repeated insert.
std::string intercepted_rows(const std::string& db, const std::string& where) {
  return fmt::format(
      "(SELECT issuer, time FROM {0}.results WHERE verdict = 'intercepted' AND issuer != '' {1} AND scan_id GLOBAL IN {2} "
      "LIMIT 1 BY scan_id, ip, port, sni, measurement)",
      db, where, live_scans(db));
}
}  // namespace

Result<std::vector<IssuerUse>> ClickHouseStore::intercepting_issuers() {
  const std::string& db = location_.database;
  auto rows = select(fmt::format("SELECT issuer, count(), min(time), max(time) FROM {} GROUP BY issuer ORDER BY min(time), issuer",
                                 intercepted_rows(db, "")));
  if (!rows) return std::unexpected(rows.error());
  std::vector<IssuerUse> out;
  std::set<std::string> names;
  for (auto& row : *rows) {
    if (row.size() < 4) continue;
    names.insert(row[0]);
    out.push_back({row[0], {}, static_cast<size_t>(to_int(row[1])), from_datetime(row[2]), from_datetime(row[3])});
  }
  auto ders = certificates(names);
  if (!ders) return std::unexpected(ders.error());
  for (auto& use : out) {
    if (auto found = ders->find(use.sha256); found != ders->end()) use.der = std::move(found->second);
  }
  return out;
}

Result<std::vector<IssuerReach>> ClickHouseStore::issuer_reach() {
  const std::string& db = location_.database;
  // One row per stored result (a migrated result's typed row wins), then grouped as SQLite groups them.
  auto rows = select(fmt::format(
      "SELECT issuer, sni, networks, source, count() FROM (SELECT issuer, sni, argMax(networks, typed) AS networks, "
      "argMax(source, typed) AS source FROM {0}.results WHERE verdict = 'intercepted' AND issuer != '' AND scan_id "
      "GLOBAL IN {1} GROUP BY scan_id, ip, port, sni, measurement, issuer) GROUP BY issuer, sni, networks, source "
      "ORDER BY issuer",
      db, live_scans(db)));
  if (!rows) return std::unexpected(rows.error());
  std::vector<IssuerReach> out;
  for (auto& row : *rows) {
    if (row.size() < 5) continue;
    if (out.empty() || out.back().sha256 != row[0]) out.push_back({row[0], {}, {}, {}});
    IssuerReach& reach = out.back();
    reach.names.insert(row[1]);
    for (auto& network : clickhouse::parse_array(row[2])) reach.networks.insert(std::move(network));
    reach.sources[row[3]] += static_cast<size_t>(to_int(row[4]));
  }
  return out;
}

Result<std::pair<size_t, size_t>> ClickHouseStore::uses_outside(const std::string& issuer_sha256, const std::string& from,
                                                                const std::string& to) {
  auto rows = select(fmt::format(
      "SELECT countIf(time < toDateTime({}, 'UTC')), countIf(time > toDateTime({}, 'UTC')) FROM {}",
      sql_string(to_datetime(from)), sql_string(to_datetime(to)),
      intercepted_rows(location_.database, fmt::format("AND issuer = {}", sql_string(issuer_sha256)))));
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty() || rows->front().size() < 2) return std::pair<size_t, size_t>{0, 0};
  return std::pair{static_cast<size_t>(to_int(rows->front()[0])), static_cast<size_t>(to_int(rows->front()[1]))};
}

Result<std::vector<StoredResult>> ClickHouseStore::intercepted_results(int64_t scan_id, size_t limit) {
  // GROUP BY for the one-per-key guarantee (LIMIT BY with LIMIT misbehaves on Distributed tables in 18.16).
  auto rows = select(fmt::format("SELECT ip, port, sni, any(time), any(verdict), measurement{} FROM {}.results WHERE "
                                 "scan_id = {} AND verdict = 'intercepted' GROUP BY ip, port, sni, measurement "
                                 "ORDER BY ip, port, sni, measurement LIMIT {}",
                                 facts::select_list(facts::kResultColumns, "argMax({}, typed)"), location_.database, scan_id,
                                 limit));
  if (!rows) return std::unexpected(rows.error());
  std::vector<StoredResult> out;
  for (auto& row : *rows) {
    if (row.size() < 6 + facts::kResultColumnCount) continue;
    out.push_back({std::move(row[0]), static_cast<uint16_t>(to_int(row[1])), std::move(row[2]), from_datetime(row[3]),
                   std::move(row[4]), {}, {}, std::move(row[5]), facts::read_facts(std::span(row).subspan(6))});
  }
  return out;
}

Result<void> ClickHouseStore::add_traces(std::span<const StoredTrace> traces) {
  std::string rows;
  const uint64_t version = next_version();
  for (const auto& trace : traces) {
    rows += fmt::format("{}\t{}\t", trace.run, to_datetime(trace.time));
    append_tsv(rows, trace.ip);
    rows += fmt::format("\t{}\t", trace.port);
    append_tsv(rows, trace.sni);
    rows += '\t';
    append_tsv(rows, trace.kind);
    rows += fmt::format("\t{}\t{}\t", trace.injection_ttl, trace.address_distance);
    append_tsv(rows, trace.router_before);
    rows += '\t';
    append_tsv(rows, trace.router_after);
    rows += '\t';
    append_tsv(rows, trace.result_json);
    rows += fmt::format("\t{}\n", version);
  }
  return http_->insert(fmt::format("INSERT INTO {}.traces FORMAT TabSeparated", location_.database), rows);
}

Result<std::vector<StoredTrace>> ClickHouseStore::traces() {
  auto rows = select(fmt::format(
      "SELECT run, argMax(time, version), ip, port, sni, argMax(kind, version), argMax(injection_ttl, version), "
      "argMax(address_distance, version), argMax(router_before, version), argMax(router_after, version), "
      "argMax(result, version) FROM {}.traces GROUP BY run, ip, port, sni ORDER BY run, ip, port, sni",
      location_.database));
  if (!rows) return std::unexpected(rows.error());
  std::vector<StoredTrace> out;
  for (auto& row : *rows) {
    if (row.size() < 11) continue;
    out.push_back({to_int(row[0]), from_datetime(row[1]), std::move(row[2]), static_cast<uint16_t>(to_int(row[3])),
                   std::move(row[4]), std::move(row[5]), static_cast<int>(to_int(row[6])), static_cast<int>(to_int(row[7])),
                   std::move(row[8]), std::move(row[9]), std::move(row[10])});
  }
  return out;
}

Result<void> ClickHouseStore::for_each_result(int64_t scan_id, size_t page,
                                              const std::function<Result<void>(std::span<const StoredResult>)>& visit) {
  const std::string& db = location_.database;
  std::string after;   // keyset pagination in (ip, port, sni) order
  page = std::max<size_t>(page, 1);
  while (true) {
    // GROUP BY, not LIMIT 1 BY: over a Distributed table ClickHouse 18.16 applies LIMIT before LIMIT BY.
    auto rows = select(fmt::format("SELECT ip, port, sni, any(time), any(verdict), any(chain), any(result), measurement{} "
                                   "FROM {}.results WHERE scan_id = {} {} GROUP BY ip, port, sni, measurement "
                                   "ORDER BY ip, port, sni, measurement LIMIT {}",
                                   facts::select_list(facts::kResultColumns, "argMax({}, typed)"), db, scan_id, after, page));
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return {};
    std::vector<StoredResult> batch;
    std::set<std::string> wanted;
    std::vector<std::vector<std::string>> chains;
    for (auto& row : *rows) {
      if (row.size() < 8 + facts::kResultColumnCount) continue;
      chains.push_back(clickhouse::parse_array(row[5]));
      for (const auto& sha : chains.back()) wanted.insert(sha);
      batch.push_back({std::move(row[0]), static_cast<uint16_t>(to_int(row[1])), std::move(row[2]), from_datetime(row[3]),
                       std::move(row[4]), std::move(row[6]), {}, std::move(row[7]),
                       facts::read_facts(std::span(row).subspan(8))});
    }
    auto ders = certificates(wanted);
    if (!ders) return std::unexpected(ders.error());
    for (size_t i = 0; i < batch.size(); ++i) {
      for (const auto& sha : chains[i]) {
        const auto der = ders->find(sha);
        if (der == ders->end()) {
          return make_error(ErrorCode::kParseError, fmt::format("{}: scan {}: result {}:{} {} names certificate {} that is not stored",
                                                                uri_, scan_id, batch[i].ip, batch[i].port, batch[i].sni, sha));
        }
        batch[i].certificates.emplace_back(sha, der->second);
      }
    }
    if (auto visited = visit(batch); !visited) return visited;
    if (rows->size() < page) return {};
    const auto& last = batch.back();
    after = fmt::format(
        "AND (ip > {0} OR (ip = {0} AND (port > {1} OR (port = {1} AND (sni > {2} OR (sni = {2} AND measurement > {3}))))))",
        sql_string(last.ip), last.port, sql_string(last.sni), sql_string(last.measurement));
  }
}

// DER by SHA-256, in queries of bounded size.
Result<std::unordered_map<std::string, std::vector<uint8_t>>> ClickHouseStore::certificates(const std::set<std::string>& wanted) {
  std::unordered_map<std::string, std::vector<uint8_t>> ders;
  std::vector<std::string> names;
  for (const auto& name : wanted) names.push_back(sql_string(name));
  for (const auto& list : in_lists(names)) {
    auto found = select(fmt::format("SELECT sha256, any(der) FROM {}.certificates WHERE sha256 IN ({}) GROUP BY sha256",
                                    location_.database, list));
    if (!found) return std::unexpected(found.error());
    for (const auto& row : *found) {
      if (row.size() >= 2) ders[row[0]] = clickhouse::unhex(row[1]);
    }
  }
  return ders;
}

Result<std::optional<StoredResult>> ClickHouseStore::example_intercepted(const std::string& issuer_sha256) {
  const std::string& db = location_.database;
  // Its key first, from the key columns only (sorting the wide rows of every result the issuer signed took most of
  // a report's time), then that one row by its primary key.
  const std::string signed_by = fmt::format("verdict = 'intercepted' AND issuer = {} AND scan_id GLOBAL IN {}",
                                            sql_string(issuer_sha256), live_scans(db));
  auto keys = select(fmt::format("SELECT scan_id, ip, port, sni, measurement FROM {0}.results WHERE {1} AND time = "
                                 "(SELECT max(time) FROM {0}.results WHERE {1}) ORDER BY ip, port, sni, measurement LIMIT 1",
                                 db, signed_by));
  if (!keys) return std::unexpected(keys.error());
  if (keys->empty() || keys->front().size() < 5) return std::optional<StoredResult>();
  const auto& key = keys->front();
  auto rows = select(fmt::format("SELECT ip, port, sni, time, verdict, chain, measurement{} FROM {}.results WHERE scan_id = {} "
                                 "AND ip = {} AND port = {} AND sni = {} AND measurement = {} LIMIT 1",
                                 facts::select_list(facts::kResultColumns, "{}"), db, key[0], sql_string(key[1]),
                                 to_int(key[2]), sql_string(key[3]), sql_string(key[4])));
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty() || rows->front().size() < 7 + facts::kResultColumnCount) return std::optional<StoredResult>();
  auto& row = rows->front();
  StoredResult result{std::move(row[0]), static_cast<uint16_t>(to_int(row[1])), std::move(row[2]), from_datetime(row[3]),
                      std::move(row[4]), {}, {}, std::move(row[6]), facts::read_facts(std::span(row).subspan(7))};
  const auto chain = clickhouse::parse_array(row[5]);
  auto ders = certificates(std::set<std::string>(chain.begin(), chain.end()));
  if (!ders) return std::unexpected(ders.error());
  for (const auto& sha : chain) {
    const auto der = ders->find(sha);
    if (der == ders->end()) return make_error(ErrorCode::kParseError, fmt::format("{}: certificate {} is not stored", uri_, sha));
    result.certificates.emplace_back(sha, der->second);
  }
  return std::optional<StoredResult>(std::move(result));
}

Result<void> ClickHouseStore::put_monitor(const MonitorRow& monitor) { return write_monitor(monitor); }

Result<void> ClickHouseStore::put_scan(const ScanRow& scan) { return write_scan(scan, false); }

Result<void> ClickHouseStore::put_events(int64_t monitor_id, std::span<const StoredEvent> events) {
  return write_events(monitor_id, 0, events);
}

// `store migrate`: each result written before typed facts is written again with them, from the JSON it kept
// (readers take the typed row of a key: argMax by `typed`; merges keep the later row); each finished scan
// gets its tally from its summary in a new version of its row. Then the database is marked typed.
Result<MigrationReport> ClickHouseStore::migrate() {
  auto version = select(fmt::format("SELECT max(version) FROM {}.schema_info", location_.database));
  if (!version) return std::unexpected(version.error());
  if (!version->empty() && !version->front().empty() && to_int(version->front()[0]) >= facts::kTypedVersion) {
    return MigrationReport{0, 0, true};
  }
  auto scans = scan_rows();
  if (!scans) return std::unexpected(scans.error());
  MigrationReport report;
  for (auto& scan : *scans) {
    auto visited = for_each_result(scan.id, 4096, [&](std::span<const StoredResult> batch) -> Result<void> {
      std::vector<StoredResult> typed(batch.begin(), batch.end());
      for (auto& result : typed) result.facts = facts_from_result_json(result.result_json);
      auto added = add_results(scan.id, typed);
      if (!added) return std::unexpected(added.error());
      report.results += static_cast<int64_t>(typed.size());
      return {};
    });
    if (!visited) return std::unexpected(visited.error());
    if (scan.finished_at.empty() || scan.tally) continue;
    scan.tally = tally_from_summary_json(scan.summary_json);
    if (!scan.tally) continue;
    if (auto written = write_scan(scan, false); !written) return std::unexpected(written.error());
    ++report.scans;
  }
  if (auto marked = mark_typed(); !marked) return std::unexpected(marked.error());
  return report;
}

Result<std::map<std::string, int64_t>> ClickHouseStore::counts() {
  const std::string& db = location_.database;
  const std::pair<const char*, std::string> queries[] = {
      {"scans", fmt::format("SELECT count() FROM {}", live_scans(db))},
      {"monitors", fmt::format("SELECT uniqExact(id) FROM {}.monitors", db)},
      {"events", fmt::format("SELECT count() FROM ({})", events_query(db, ""))},
      {"results", fmt::format("SELECT count() FROM (SELECT 1 FROM {}.results WHERE scan_id GLOBAL IN {} "
                              "LIMIT 1 BY scan_id, ip, port, sni, measurement)",
                              db, live_scans(db))},
      {"certificates", fmt::format("SELECT uniqExact(sha256) FROM {}.certificates", db)},
      {"traces", fmt::format("SELECT count() FROM (SELECT 1 FROM {}.traces LIMIT 1 BY run, ip, port, sni)", db)},
  };
  std::map<std::string, int64_t> out;
  for (const auto& [table, sql] : queries) {
    auto rows = select(sql);
    if (!rows) return std::unexpected(rows.error());
    out[table] = rows->empty() || rows->front().empty() ? 0 : to_int(rows->front()[0]);
  }
  return out;
}

}  // namespace mitmscope
