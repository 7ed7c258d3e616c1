#include "report/campaign_report.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/time.h"
#include "x509/certificate.h"

namespace mitmscope {
namespace {

using Json = nlohmann::json;

Json parse_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  try {
    return Json::parse(text);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

std::string report_cell_text(const Json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return fmt::format("{:.4f}", value.get<double>());
  return value.dump();
}

nlohmann::ordered_json table_records(const ReportTable& table) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : table.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t i = 0; i < table.columns.size() && i < row.size(); ++i) object[table.columns[i]] = row[i];
    rows.push_back(std::move(object));
  }
  return rows;
}

Result<std::vector<ReportTable>> build_report_tables(Store& store) {
  auto scans = store.scans();
  if (!scans) return std::unexpected(scans.error());
  std::vector<ReportTable> tables;

  ReportTable rounds{"rounds", "Scans and monitor rounds: intercepted hosts over time",
                     {"scan", "monitor", "round", "started_at", "finished", "hosts", "eligible", "intercepted_hosts",
                      "intercepted_share"},
                     {}};
  const StoredScan* latest = nullptr;
  for (const auto& scan : *scans) {
    const Json summary = parse_or_null(scan.summary_json);
    auto field = [&](const char* key) { return summary.is_object() && summary.contains(key) ? summary[key] : Json(nullptr); };
    rounds.rows.push_back({scan.id, scan.monitor.empty() ? Json(nullptr) : Json(scan.monitor),
                           scan.monitor.empty() ? Json(nullptr) : Json(scan.round), scan.started_at,
                           !scan.finished_at.empty(), field("hosts"), field("eligible"), field("intercepted_hosts"),
                           field("intercepted_share")});
    if (!scan.finished_at.empty() && summary.is_object()) latest = &scan;
  }
  tables.push_back(std::move(rounds));

  auto events = store.all_events();
  if (!events) return std::unexpected(events.error());
  ReportTable event_table{"events", "Monitor events", {"monitor", "round", "time", "type", "scope", "detail"}, {}};
  for (const auto& [monitor, event] : *events) {
    event_table.rows.push_back({monitor, event.round, event.time, event.type, event.scope, event.detail_json});
  }
  tables.push_back(std::move(event_table));

  ReportTable per_as{"per_as", "Intercepted share per AS (latest finished scan)",
                     {"as", "name", "hosts", "eligible", "intercepted", "intercepted_share"}, {}};
  ReportTable per_domain{"per_domain", "Intercepted hosts per domain (latest finished scan)", {"domain", "intercepted_hosts"}, {}};
  if (latest) {
    const Json summary = Json::parse(latest->summary_json);
    per_as.title += fmt::format(": scan {}", latest->id);
    per_domain.title += fmt::format(": scan {}", latest->id);
    if (summary.contains("per_as")) {
      for (const auto& row : summary["per_as"]) {
        per_as.rows.push_back({fmt::format("AS{}", row.value("asn", 0)), row.value("name", Json(nullptr)), row["hosts"],
                               row["eligible"], row["intercepted"], row["intercepted_share"]});
      }
    } else if (summary.contains("per_tag")) {
      for (const auto& [tag, row] : summary["per_tag"].items()) {
        const size_t eligible = row.value("eligible", size_t{0});
        const size_t intercepted = row.value("intercepted", size_t{0});
        per_as.rows.push_back({tag, nullptr, row["hosts"], eligible, intercepted,
                               eligible ? double(intercepted) / double(eligible) : 0.0});
      }
    }
    std::ranges::stable_sort(per_as.rows, [](const auto& a, const auto& b) { return a[4].template get<size_t>() > b[4].template get<size_t>(); });
    if (summary.contains("intercepted_hosts_per_domain")) {
      for (const auto& [domain, hosts] : summary["intercepted_hosts_per_domain"].items()) {
        per_domain.rows.push_back({domain, hosts});
      }
      std::ranges::stable_sort(per_domain.rows, [](const auto& a, const auto& b) { return a[1].template get<size_t>() > b[1].template get<size_t>(); });
    }
  }
  tables.push_back(std::move(per_as));
  tables.push_back(std::move(per_domain));

  auto issuers = store.intercepting_issuers();
  if (!issuers) return std::unexpected(issuers.error());
  ReportTable intermediates{"intermediates",
                            "Certificates that signed intercepted leaves, against their validity",
                            {"sha256", "subject", "issuer", "not_before", "not_after", "first_seen", "last_seen",
                             "results", "used_before_not_before", "used_after_not_after"},
                            {}};
  for (const auto& use : *issuers) {
    auto certificate = Certificate::from_der(use.der);
    Json subject = nullptr, issuer = nullptr, from = nullptr, to = nullptr;
    Json before = nullptr, after = nullptr;
    if (certificate) {
      subject = certificate->subject();
      issuer = certificate->issuer();
      const auto not_before = certificate->not_before();
      const auto not_after = certificate->not_after();
      if (not_before && not_after) {
        from = format_utc(*not_before);
        to = format_utc(*not_after);
        auto outside = store.uses_outside(use.sha256, from.get<std::string>(), to.get<std::string>());
        if (!outside) return std::unexpected(outside.error());
        before = outside->first;
        after = outside->second;
      }
    }
    intermediates.rows.push_back({use.sha256, subject, issuer, from, to, use.first_seen, use.last_seen, use.results,
                                  before, after});
  }
  tables.push_back(std::move(intermediates));
  return tables;
}

std::string tables_markdown(const std::vector<ReportTable>& tables) {
  std::string out = "# mitmscope report\n";
  for (const auto& table : tables) {
    out += fmt::format("\n## {}\n\n", table.title);
    if (table.rows.empty()) {
      out += "(none)\n";
      continue;
    }
    out += "|";
    for (const auto& column : table.columns) out += " " + column + " |";
    out += "\n|";
    for (size_t i = 0; i < table.columns.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& row : table.rows) {
      out += "|";
      for (const auto& value : row) {
        std::string text = report_cell_text(value);
        std::ranges::replace(text, '|', '/');
        std::ranges::replace(text, '\n', ' ');
        out += " " + text + " |";
      }
      out += "\n";
    }
  }
  return out;
}

nlohmann::ordered_json tables_json(const std::vector<ReportTable>& tables) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& table : tables) {
    auto rows = table_records(table);
    if (table.name == "events") {   // the stored detail is JSON text: give it as JSON
      for (auto& row : rows) row["detail"] = nlohmann::ordered_json::parse(row["detail"].get<std::string>(), nullptr, false);
    }
    out[table.name] = std::move(rows);
  }
  return out;
}

std::string table_csv(const ReportTable& table) {
  auto quote = [](const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  };
  std::string out;
  for (size_t i = 0; i < table.columns.size(); ++i) out += (i ? "," : "") + quote(table.columns[i]);
  out += "\r\n";
  for (const auto& row : table.rows) {
    for (size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + quote(report_cell_text(row[i]));
    out += "\r\n";
  }
  return out;
}

}  // namespace mitmscope
