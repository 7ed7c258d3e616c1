// The typed columns of the ClickHouse store, named once (as store/sqlite_facts does for SQLite): a result's
// facts as columns of `results`, a finished scan's tally as columns of `scans` (its groups as parallel arrays,
// so a scan row and its tally are one versioned row). Written as TabSeparated, read back by position.
#pragma once

#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/result_facts.h"

namespace mitmscope::clickhouse_facts {

struct Column {
  std::string_view name;
  std::string_view type;
};

// The schema version of a database whose results and scans have typed facts (table schema_info).
inline constexpr int kTypedVersion = 3;

// `typed`: 1 on rows written with facts; a result rewritten by `store migrate` is read from its typed row.
inline constexpr Column kResultColumns[] = {
    {"outcome", "String"},               {"networks", "Array(String)"},       {"interceptor", "String"},        {"leaf_issuer", "String"},
    {"ja3s", "String"},                  {"ja4s", "String"},               {"ja4x", "String"},
    {"forged", "UInt8"},                 {"not_before_shift_hours", "Nullable(Float64)"},
    {"not_after_shift_hours", "Nullable(Float64)"},                        {"serial_leading_bits_kept", "Int32"},
    {"serial_trailing_bits_differing", "Int32"},                           {"serial_length_changed", "UInt8"},
    {"key_type", "String"},              {"key_bits", "Int32"},            {"key_exponent", "String"},
    {"extensions_dropped", "Array(String)"},                               {"typed", "UInt8"},
    {"source", "String"},                // last: a database from before it gets it by ALTER TABLE ... ADD COLUMN
};
inline constexpr size_t kResultColumnCount = std::size(kResultColumns);

// `tallied`: 0 until the scan is finished.
inline constexpr Column kScanColumns[] = {
    {"tallied", "UInt8"},                {"source", "String"},             {"hosts", "UInt64"},
    {"eligible", "UInt64"},              {"results", "UInt64"},            {"intercepted_hosts", "UInt64"},
    {"group_kind", "Array(String)"},     {"group_key", "Array(String)"},   {"group_name", "Array(String)"},
    {"group_hosts", "Array(UInt64)"},    {"group_eligible", "Array(UInt64)"}, {"group_intercepted", "Array(UInt64)"},
};
inline constexpr size_t kScanColumnCount = std::size(kScanColumns);

// "name type, ..." for CREATE TABLE.
std::string definitions(std::span<const Column> columns);
// "wrap(name), ..." with `wrap` a format string taking the column name ("argMax({}, version)").
std::string select_list(std::span<const Column> columns, std::string_view wrap);

// Tab-separated fields, each preceded by a tab.
void append_facts(std::string& row, const ResultFacts& facts);
ResultFacts read_facts(std::span<const std::string> fields);
void append_tally(std::string& row, const std::optional<ScanTally>& tally);
std::optional<ScanTally> read_tally(std::span<const std::string> fields);

}  // namespace mitmscope::clickhouse_facts
