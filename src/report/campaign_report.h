// The campaign's tables, read from a Store: rounds over time (the study's Figure 3 as numbers),
// monitor events, intercepted share per AS and per domain (BRIEF's Tables 1 and 2, from the
// latest finished scan), and the intercepting intermediates with their validity and whether they
// were used outside it. Written as Markdown, JSON or CSV (`mitmscope report`).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace mitmscope {

struct ReportTable {
  std::string name;                      // rounds, events, per_as, per_domain, intermediates
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;
};

Result<std::vector<ReportTable>> build_report_tables(Store& store);

// One cell as text (floats to 4 places, null empty), and a table's rows as objects keyed by column:
// what every output format is written from.
std::string report_cell_text(const nlohmann::json& value);
nlohmann::ordered_json table_records(const ReportTable& table);

std::string tables_markdown(const std::vector<ReportTable>& tables);
nlohmann::ordered_json tables_json(const std::vector<ReportTable>& tables);
std::string table_csv(const ReportTable& table);   // RFC 4180 quoting

}  // namespace mitmscope
