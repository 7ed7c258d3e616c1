#include "store/sqlite_facts.h"

#include <fmt/format.h>

namespace mitmscope::sqlite_facts {

std::string column_list(std::span<const Column> columns, std::string_view prefix) {
  std::string out;
  for (const auto& column : columns) out += fmt::format("{}{}{}", out.empty() ? "" : ", ", prefix, column.name);
  return out;
}

std::string assignments(std::span<const Column> columns) {
  std::string out;
  for (const auto& column : columns) out += fmt::format("{}{} = ?", out.empty() ? "" : ", ", column.name);
  return out;
}

std::string placeholders(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out += i ? ", ?" : "?";
  return out;
}

void bind_facts(SqliteStatement& statement, int first, const ResultFacts& facts) {
  int index = first;
  statement.bind(index++, outcome_name(facts.outcome));
  statement.bind(index++, join_lines(facts.networks));
  for (const auto* text : {&facts.interceptor, &facts.issuer, &facts.ja3s, &facts.ja4s, &facts.ja4x}) statement.bind(index++, *text);
  const ForgingFacts forging = facts.forging.value_or(ForgingFacts{});
  statement.bind(index++, int64_t{facts.forging.has_value()});
  statement.bind(index++, forging.not_before_shift_hours);
  statement.bind(index++, forging.not_after_shift_hours);
  statement.bind(index++, forging.serial_leading_bits_kept);
  statement.bind(index++, forging.serial_trailing_bits_differing);
  statement.bind(index++, int64_t{forging.serial_length_changed});
  statement.bind(index++, forging.key_type);
  statement.bind(index++, forging.key_bits);
  statement.bind(index++, forging.key_exponent);
  statement.bind(index++, join_lines(forging.extensions_dropped));
  statement.bind(index++, facts.source);
}

ResultFacts read_facts(const SqliteStatement& statement, int first) {
  ResultFacts facts;
  int index = first;
  facts.outcome = outcome_from_name(statement.column_text(index++)).value_or(Outcome::kError);
  facts.networks = split_lines(statement.column_text(index++));
  for (auto* text : {&facts.interceptor, &facts.issuer, &facts.ja3s, &facts.ja4s, &facts.ja4x}) *text = statement.column_text(index++);
  facts.source = statement.column_text(first + kResultColumnCount - 1);
  if (statement.column_int(index++) == 0) return facts;
  ForgingFacts& forging = facts.forging.emplace();
  forging.not_before_shift_hours = statement.column_optional_double(index++);
  forging.not_after_shift_hours = statement.column_optional_double(index++);
  forging.serial_leading_bits_kept = statement.column_int(index++);
  forging.serial_trailing_bits_differing = statement.column_int(index++);
  forging.serial_length_changed = statement.column_int(index++) != 0;
  forging.key_type = statement.column_text(index++);
  forging.key_bits = statement.column_int(index++);
  forging.key_exponent = statement.column_text(index++);
  forging.extensions_dropped = split_lines(statement.column_text(index++));
  return facts;
}

void bind_tally(SqliteStatement& statement, int first, const ScanTally& tally) {
  statement.bind(first, scan_source_name(tally.source));
  int index = first + 1;
  for (size_t count : {tally.hosts, tally.eligible, tally.results, tally.intercepted_hosts}) {
    statement.bind(index++, static_cast<int64_t>(count));
  }
}

std::optional<ScanTally> read_tally(const SqliteStatement& statement, int first) {
  if (statement.column_is_null(first) || statement.column_is_null(first + 1)) return std::nullopt;
  ScanTally tally;
  tally.source = scan_source_from_name(statement.column_text(first)).value_or(ScanSource::kScan);
  int index = first + 1;
  for (size_t* count : {&tally.hosts, &tally.eligible, &tally.results, &tally.intercepted_hosts}) {
    *count = static_cast<size_t>(statement.column_int64(index++));
  }
  return tally;
}

}  // namespace mitmscope::sqlite_facts
