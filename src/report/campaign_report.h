// The campaign's tables, read from a Store: rounds over time (the study's Figure 3 as numbers),
// monitor events, intercepted share per AS and per domain (BRIEF's Tables 1 and 2, from the
// latest finished scan), and the intercepting intermediates with their validity and whether they
// were used outside it. Written as Markdown, JSON or CSV (`mitmscope report`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store.h"
#include "x509/registry.h"

namespace mitmscope {

struct ReportTable {
  std::string name;                      // rounds, events, per_as, per_domain, intermediates
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;
  // Columns for programs only (raw JSON detail): in JSON and CSV, left out of Markdown and HTML, which say the
  // same in words in another column.
  std::vector<std::string> machine_columns = {};
  bool shown_in_text(size_t column) const;
};

struct ReportOptions {
  // The scan (or monitor round) the per-AS, per-domain and profile tables show, with its other shards; default:
  // the latest finished plain scan, else the latest finished round.
  std::optional<int64_t> scan;
  // Where the forged chain's root is looked up when the interceptor did not send it; null: not looked up.
  const InterceptorRegistry* registry = nullptr;
};

Result<std::vector<ReportTable>> build_report_tables(Store& store, const ReportOptions& options = {});

// --format from --out when not given: .html/.htm html, .json json, .md markdown, a directory (or a path ending
// in /) csv, stdout markdown. An explicit format is kept; an unknown one is an error naming the choices.
Result<std::string> report_format(std::string_view format, std::string_view out);

// One cell as text (floats to 4 places, null empty), and a table's rows as objects keyed by column:
// what every output format is written from.
std::string report_cell_text(const nlohmann::json& value);
nlohmann::ordered_json table_records(const ReportTable& table);

std::string tables_markdown(const std::vector<ReportTable>& tables);
nlohmann::ordered_json tables_json(const std::vector<ReportTable>& tables);
std::string table_csv(const ReportTable& table);   // RFC 4180 quoting

}  // namespace mitmscope
