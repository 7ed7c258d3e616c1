// The Store: where measurements live beyond one run. Scan, monitor, trace and report
// work through this interface only, so the embedded SQLite store (store/sqlite_store) and
// the ClickHouse one (store/clickhouse_store) are interchangeable; `open_store` picks one
// from the --store argument and `store copy` moves a campaign between them row by row.
// Certificates are stored once, by SHA-256; every (scan, address, port, SNI, measurement) holds
// one result, so a resumed scan never stores anything twice.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/result_facts.h"

namespace mitmscope {

struct ScanRecord {
  int64_t id = 0;
  std::string started_at;
  std::string parameters;      // JSON: files, seed, shards, options; a resume must match it
  bool finished = false;
};

struct StoredResult {
  std::string ip;
  uint16_t port = 0;
  std::string sni;
  std::string time;
  std::string verdict;
  std::string result_json;     // the whole output object: a rendering, kept; readers use `facts`
  // sha256 hex, DER; leaf first, as sent; a lone leaf signed by a registry certificate gets that certificate as
  // its issuer (position 1): see cli/scan_round.cc, stored_chain
  std::vector<std::pair<std::string, std::vector<uint8_t>>> certificates;
  // Which measurement of (ip, port, sni) this is, when a source holds many (OONI: "report_id/file:line/handshake");
  // empty for scans, which hold one result per pair.
  std::string measurement;
  ResultFacts facts;
};

// A monitor: a named series of rounds (each round a scan). `memory` is the event derivation's
// state after the last finished round (analyze/monitor_events), stored with it atomically.
struct MonitorRecord {
  int64_t id = 0;
  std::string name;
  std::string parameters;
  std::string memory_json;          // empty before the first round
  int last_round = 0;               // the last finished round (0: none)
  std::string last_round_started_at;
};

struct StoredEvent {
  int round = 0;
  std::string time;
  std::string type;
  std::string scope;
  std::string detail_json;
};

// What `report` reads back.
struct StoredScan {
  int64_t id = 0;
  std::string started_at;
  std::string finished_at;          // empty: unfinished
  std::string monitor;              // empty: a plain scan
  int round = 0;
  std::optional<ScanTally> tally;   // empty: unfinished (or finished by an earlier version, before `store migrate`)
  std::string parameters;
};

// Rows as stored, ids included: what `store copy` reads from one store and puts into another.
struct ScanRow {
  int64_t id = 0;
  std::string started_at, finished_at, parameters, summary_json;   // summary_json: the printed summary, kept
  int64_t monitor_id = 0;           // 0: a plain scan
  int round = 0;
  std::optional<ScanTally> tally;
};

// What `store migrate` did: results and scans given their typed facts from the JSON an earlier version wrote.
struct MigrationReport {
  int64_t results = 0, scans = 0;
  bool already_typed = false;
};

struct MonitorRow {
  int64_t id = 0;
  std::string name, parameters, created_at, memory_json;
  int last_round = 0;
};

// One traced address (trace --store): the located injection and the whole result as JSON.
struct StoredTrace {
  int64_t run = 0;                  // one `trace` invocation
  std::string time, ip;
  uint16_t port = 0;
  std::string sni;
  std::string kind;                 // locate's classification: in_path_injector, no_interception, ...
  int injection_ttl = 0;            // 0: none
  int address_distance = 0;         // 0: unknown
  std::string router_before, router_after;
  std::string result_json;
};

// A certificate that signed intercepted leaves (position 1 of intercepted chains): how often and
// when it was first and last seen (result times, UTC text).
struct IssuerUse {
  std::string sha256;
  std::vector<uint8_t> der;
  size_t results = 0;
  std::string first_seen, last_seen;
};

// Where the intercepted results one issuer signed were seen (the report's interceptor families sum these up).
struct IssuerReach {
  std::string sha256;
  std::set<std::string> names;                 // the SNIs asked for
  std::set<std::string> networks;              // "AS9198", the hosts' tags
  std::map<std::string, size_t> sources;       // results per source ("scan", "atlas-sslcert"; "" when not stored)
  bool operator==(const IssuerReach&) const = default;
};

class Store {
 public:
  virtual ~Store() = default;
  // A new scan, or (resume) the latest unfinished scan with the same parameters.
  virtual Result<ScanRecord> begin_scan(const std::string& parameters, bool resume) = 0;
  // Stores a batch atomically; results already stored for the scan are left as they are.
  virtual Result<size_t> add_results(int64_t scan_id, std::span<const StoredResult> results) = 0;
  // "ip:port sni" of every result already stored for the scan.
  virtual Result<std::set<std::string>> stored_pairs(int64_t scan_id) = 0;
  // `tally` is what report reads; `summary_json` (the summary as printed) is kept beside it.
  virtual Result<void> finish_scan(int64_t scan_id, const ScanTally& tally, const std::string& summary_json) = 0;

  // The monitor of this name, created when new; refused when it exists with other parameters.
  virtual Result<MonitorRecord> open_monitor(const std::string& name, const std::string& parameters) = 0;
  // The scan of round `round`: an unfinished one of that number (a round interrupted by a crash) is
  // removed with its results first, so the round is measured again whole, under its number.
  virtual Result<ScanRecord> begin_round(int64_t monitor_id, int round, const std::string& parameters) = 0;
  // Finishes the round's scan, stores its events and the monitor's memory, in one transaction.
  virtual Result<void> finish_round(int64_t monitor_id, int64_t scan_id, int round, const ScanTally& tally,
                                    const std::string& summary_json, const std::string& memory_json,
                                    std::span<const StoredEvent> events) = 0;
  virtual Result<std::vector<StoredEvent>> monitor_events(int64_t monitor_id) = 0;

  // Every scan with its monitor's name, by id.
  Result<std::vector<StoredScan>> scans();
  // Every monitor's events with the monitor's name: (monitor, event), by monitor name and round.
  Result<std::vector<std::pair<std::string, StoredEvent>>> all_events();
  // By first use, then SHA-256.
  virtual Result<std::vector<IssuerUse>> intercepting_issuers() = 0;
  // Every issuer of intercepted results with where they were seen, by SHA-256.
  virtual Result<std::vector<IssuerReach>> issuer_reach() = 0;
  // Intercepted results signed by this issuer whose time is before `from` or after `to` (UTC text).
  virtual Result<std::pair<size_t, size_t>> uses_outside(const std::string& issuer_sha256, const std::string& from,
                                                         const std::string& to) = 0;
  // The latest intercepted result (of a live scan) whose leaf this issuer signed, with its chain: the forged chain
  // the report draws. Ties in time go to the first in (ip, port, sni) order, in every store alike. Empty when none.
  virtual Result<std::optional<StoredResult>> example_intercepted(const std::string& issuer_sha256) = 0;
  // The intercepted results of a scan with their facts (no JSON, no chain), the first `limit` in (ip, port, sni)
  // order (the interceptor's profile).
  virtual Result<std::vector<StoredResult>> intercepted_results(int64_t scan_id, size_t limit) = 0;

  // Traces: stored as they finish, read back whole.
  virtual Result<void> add_traces(std::span<const StoredTrace> traces) = 0;
  virtual Result<std::vector<StoredTrace>> traces() = 0;

  // Row access for `store copy`: everything, ids kept. `put_*` replace a row of the same id,
  // so a copy that was interrupted can run again.
  virtual Result<std::vector<ScanRow>> scan_rows() = 0;
  virtual Result<std::vector<MonitorRow>> monitor_rows() = 0;
  // (monitor id, event), by monitor, round and order of derivation.
  virtual Result<std::vector<std::pair<int64_t, StoredEvent>>> event_rows() = 0;
  // A scan's results in pages of about `page` results, in (ip, port, sni) order.
  virtual Result<void> for_each_result(int64_t scan_id, size_t page,
                                       const std::function<Result<void>(std::span<const StoredResult>)>& visit) = 0;
  virtual Result<void> put_monitor(const MonitorRow& monitor) = 0;
  virtual Result<void> put_scan(const ScanRow& scan) = 0;
  virtual Result<void> put_events(int64_t monitor_id, std::span<const StoredEvent> events) = 0;
  // Rows per table (scans, monitors, events, results, certificates, traces), as readers see them.
  virtual Result<std::map<std::string, int64_t>> counts() = 0;

  // Gives results and scans written by an earlier version (JSON only) their typed facts. A store that needs it
  // is refused by every other command, with a message naming this one.
  virtual Result<MigrationReport> migrate() = 0;

  // Where this store is, for messages ("clickhouse://127.0.0.1:8123/mitmscope", a file path).
  virtual std::string location() const = 0;
};

// `--store` argument: clickhouse://HOST:PORT[,HOST:PORT...]/DATABASE[?cluster=NAME] for ClickHouse,
// anything else a SQLite file (sqlite:// prefix allowed). A store written by an earlier version is refused
// unless `for_migration` (`store migrate`).
Result<std::unique_ptr<Store>> open_store(const std::string& spec, bool for_migration = false);

// The refusal of a store that needs `store migrate`.
Error needs_migration(const std::string& location, std::string_view what);

}  // namespace mitmscope
