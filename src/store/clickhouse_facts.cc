#include "store/clickhouse_facts.h"

#include <charconv>

#include <fmt/format.h>

#include "store/clickhouse_http.h"

namespace mitmscope::clickhouse_facts {
namespace {

void field(std::string& row, std::string_view text) {
  row += '\t';
  clickhouse::append_tsv(row, text);
}

template <typename Items, typename Text>
void array_field(std::string& row, const Items& items, Text text) {
  std::string array = "[";
  for (const auto& item : items) {
    if (array.size() > 1) array += ',';
    text(array, item);
  }
  array += ']';
  field(row, array);
}

void strings_field(std::string& row, const std::vector<std::string>& items) {
  array_field(row, items, [](std::string& out, const std::string& item) { clickhouse::append_quoted(out, item); });
}

void optional_field(std::string& row, const std::optional<double>& value) {
  row += value ? fmt::format("\t{}", *value) : std::string("\t\\N");
}

int64_t number(std::string_view text) {
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// NULL comes back as \N (unescaped by parse_tsv to "N"): anything that is not a number is absent.
std::optional<double> optional_number(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// [1,2,3] → {1, 2, 3}
std::vector<size_t> numbers(std::string_view array) {
  std::vector<size_t> out;
  if (array.size() < 2 || array.front() != '[' || array.back() != ']') return out;
  array = array.substr(1, array.size() - 2);
  while (!array.empty()) {
    const size_t comma = array.find(',');
    out.push_back(static_cast<size_t>(number(array.substr(0, comma))));
    if (comma == std::string_view::npos) break;
    array.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

std::string definitions(std::span<const Column> columns) {
  std::string out;
  for (const auto& column : columns) out += fmt::format(", {} {}", column.name, column.type);
  return out;
}

std::string select_list(std::span<const Column> columns, std::string_view wrap) {
  std::string out;
  for (const auto& column : columns) out += fmt::format(", {}", fmt::format(fmt::runtime(wrap), column.name));
  return out;
}

void append_facts(std::string& row, const ResultFacts& facts) {
  field(row, outcome_name(facts.outcome));
  strings_field(row, facts.networks);
  for (const auto* text : {&facts.interceptor, &facts.issuer, &facts.ja3s, &facts.ja4s, &facts.ja4x}) field(row, *text);
  const ForgingFacts forging = facts.forging.value_or(ForgingFacts{});
  row += fmt::format("\t{}", facts.forging ? 1 : 0);
  optional_field(row, forging.not_before_shift_hours);
  optional_field(row, forging.not_after_shift_hours);
  row += fmt::format("\t{}\t{}\t{}", forging.serial_leading_bits_kept, forging.serial_trailing_bits_differing,
                     forging.serial_length_changed ? 1 : 0);
  field(row, forging.key_type);
  row += fmt::format("\t{}", forging.key_bits);
  field(row, forging.key_exponent);
  strings_field(row, forging.extensions_dropped);
  row += "\t1";   // typed
  field(row, facts.source);
}

ResultFacts read_facts(std::span<const std::string> fields) {
  ResultFacts facts;
  if (fields.size() < kResultColumnCount) return facts;
  facts.outcome = outcome_from_name(fields[0]).value_or(Outcome::kError);
  facts.networks = clickhouse::parse_array(fields[1]);
  size_t index = 2;
  for (auto* text : {&facts.interceptor, &facts.issuer, &facts.ja3s, &facts.ja4s, &facts.ja4x}) *text = fields[index++];
  facts.source = fields[kResultColumnCount - 1];
  if (number(fields[index++]) == 0) return facts;
  ForgingFacts& forging = facts.forging.emplace();
  forging.not_before_shift_hours = optional_number(fields[index++]);
  forging.not_after_shift_hours = optional_number(fields[index++]);
  forging.serial_leading_bits_kept = static_cast<int>(number(fields[index++]));
  forging.serial_trailing_bits_differing = static_cast<int>(number(fields[index++]));
  forging.serial_length_changed = number(fields[index++]) != 0;
  forging.key_type = fields[index++];
  forging.key_bits = static_cast<int>(number(fields[index++]));
  forging.key_exponent = fields[index++];
  forging.extensions_dropped = clickhouse::parse_array(fields[index++]);
  return facts;
}

void append_tally(std::string& row, const std::optional<ScanTally>& maybe) {
  const ScanTally tally = maybe.value_or(ScanTally{});
  row += fmt::format("\t{}", maybe ? 1 : 0);
  field(row, scan_source_name(tally.source));
  row += fmt::format("\t{}\t{}\t{}\t{}", tally.hosts, tally.eligible, tally.results, tally.intercepted_hosts);
  auto quoted = [](std::string& out, std::string_view text) { clickhouse::append_quoted(out, text); };
  array_field(row, tally.groups, [&](std::string& out, const TallyGroup& group) { quoted(out, tally_kind_name(group.kind)); });
  array_field(row, tally.groups, [&](std::string& out, const TallyGroup& group) { quoted(out, group.key); });
  array_field(row, tally.groups, [&](std::string& out, const TallyGroup& group) { quoted(out, group.name); });
  array_field(row, tally.groups, [](std::string& out, const TallyGroup& group) { out += std::to_string(group.hosts); });
  array_field(row, tally.groups, [](std::string& out, const TallyGroup& group) { out += std::to_string(group.eligible); });
  array_field(row, tally.groups, [](std::string& out, const TallyGroup& group) { out += std::to_string(group.intercepted); });
}

std::optional<ScanTally> read_tally(std::span<const std::string> fields) {
  if (fields.size() < kScanColumnCount || number(fields[0]) == 0) return std::nullopt;
  ScanTally tally;
  tally.source = scan_source_from_name(fields[1]).value_or(ScanSource::kScan);
  size_t index = 2;
  for (size_t* count : {&tally.hosts, &tally.eligible, &tally.results, &tally.intercepted_hosts}) {
    *count = static_cast<size_t>(number(fields[index++]));
  }
  const auto kinds = clickhouse::parse_array(fields[6]);
  const auto keys = clickhouse::parse_array(fields[7]);
  const auto names = clickhouse::parse_array(fields[8]);
  const auto hosts = numbers(fields[9]), eligible = numbers(fields[10]), intercepted = numbers(fields[11]);
  for (size_t i = 0; i < kinds.size(); ++i) {
    const auto kind = tally_kind_from_name(kinds[i]);
    if (!kind || i >= keys.size() || i >= names.size() || i >= hosts.size() || i >= eligible.size() || i >= intercepted.size()) continue;
    tally.groups.push_back({*kind, keys[i], names[i], hosts[i], eligible[i], intercepted[i]});
  }
  return tally;
}

}  // namespace mitmscope::clickhouse_facts
