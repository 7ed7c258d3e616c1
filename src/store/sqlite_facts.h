// The typed columns of the SQLite store, named once: a result's facts (store/result_facts.h) as columns of
// `results`, a finished scan's tally as columns of `scans` and rows of `scan_groups`. SqliteStore binds and
// reads them through these helpers only, so the column lists of CREATE, INSERT and SELECT cannot drift apart.
#pragma once

#include <iterator>
#include <span>
#include <string>
#include <string_view>

#include "store/result_facts.h"
#include "store/sqlite_statement.h"

namespace mitmscope::sqlite_facts {

struct Column {
  std::string_view name;
  std::string_view type;    // with its default, as ALTER TABLE ADD COLUMN takes it
};

// The schema version of a store whose results and scans have typed facts (PRAGMA user_version).
inline constexpr int kTypedVersion = 3;

inline constexpr Column kResultColumns[] = {
    {"outcome", "TEXT NOT NULL DEFAULT ''"},      {"networks", "TEXT NOT NULL DEFAULT ''"},     {"interceptor", "TEXT NOT NULL DEFAULT ''"},
    {"leaf_issuer", "TEXT NOT NULL DEFAULT ''"},  {"ja3s", "TEXT NOT NULL DEFAULT ''"},
    {"ja4s", "TEXT NOT NULL DEFAULT ''"},         {"ja4x", "TEXT NOT NULL DEFAULT ''"},
    {"forged", "INTEGER NOT NULL DEFAULT 0"},     {"not_before_shift_hours", "REAL"},
    {"not_after_shift_hours", "REAL"},            {"serial_leading_bits_kept", "INTEGER NOT NULL DEFAULT 0"},
    {"serial_trailing_bits_differing", "INTEGER NOT NULL DEFAULT 0"},
    {"serial_length_changed", "INTEGER NOT NULL DEFAULT 0"},
    {"key_type", "TEXT NOT NULL DEFAULT ''"},     {"key_bits", "INTEGER NOT NULL DEFAULT 0"},
    {"key_exponent", "TEXT NOT NULL DEFAULT ''"}, {"extensions_dropped", "TEXT NOT NULL DEFAULT ''"},
    {"source", "TEXT NOT NULL DEFAULT ''"},       // last: a store from before it gets it by ALTER TABLE
};
inline constexpr int kResultColumnCount = static_cast<int>(std::size(kResultColumns));

// NULL until the scan is finished (or, written by an earlier version, migrated).
inline constexpr Column kScanColumns[] = {
    {"source", "TEXT"}, {"hosts", "INTEGER"}, {"eligible", "INTEGER"}, {"results", "INTEGER"}, {"intercepted_hosts", "INTEGER"},
};
inline constexpr int kScanColumnCount = static_cast<int>(std::size(kScanColumns));

// "a, b, c" (with `prefix` before each name: "r.").
std::string column_list(std::span<const Column> columns, std::string_view prefix = "");
// "a = ?, b = ?"
std::string assignments(std::span<const Column> columns);
std::string placeholders(int count);

void bind_facts(SqliteStatement& statement, int first, const ResultFacts& facts);
ResultFacts read_facts(const SqliteStatement& statement, int first);
void bind_tally(SqliteStatement& statement, int first, const ScanTally& tally);
// Empty when the tally columns are NULL; groups are read separately.
std::optional<ScanTally> read_tally(const SqliteStatement& statement, int first);

}  // namespace mitmscope::sqlite_facts
