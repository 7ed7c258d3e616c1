#include "report/html_report.h"

#include <string_view>

#include <fmt/format.h>

extern "C" {
extern const char mitmscope_web_vega[], mitmscope_web_vega_end[];
extern const char mitmscope_web_vega_lite[], mitmscope_web_vega_lite_end[];
extern const char mitmscope_web_vega_embed[], mitmscope_web_vega_embed_end[];
}

namespace mitmscope {
namespace {

using Json = nlohmann::ordered_json;

std::string_view library(const char* begin, const char* end) { return {begin, static_cast<size_t>(end - begin)}; }

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// JSON inside <script>: "</" must not appear, or the browser would end the script there.
std::string script_json(const Json& value) {
  std::string text = value.dump();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  return text;
}

const ReportTable* find(const std::vector<ReportTable>& tables, std::string_view name) {
  for (const auto& table : tables) {
    if (table.name == name) return &table;
  }
  return nullptr;
}

std::string html_table(const ReportTable& table) {
  if (table.rows.empty()) return "<p class=\"empty\">No data in this store.</p>\n";
  std::string out = "<div class=\"scroll\"><table><thead><tr>";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    // Long column names may break after an underscore, not inside a word.
    if (table.shown_in_text(i)) out += "<th>" + replace_all(escape_html(table.columns[i]), "_", "_<wbr>") + "</th>";
  }
  out += "</tr></thead><tbody>\n";
  for (const auto& row : table.rows) {
    out += "<tr>";
    for (size_t i = 0; i < row.size(); ++i) {
      if (!table.shown_in_text(i)) continue;
      const std::string full = report_cell_text(row[i]);
      std::string text = full;
      // A SHA-256 is told apart by its start: the whole value is in the cell's tooltip (and in JSON and CSV).
      const size_t keep = table.columns[i] == "sha256" ? 16 : 200;
      if (text.size() > keep) {
        text.resize(keep);
        text += "…";
      }
      // A UTC time may break after its date.
      const std::string shown = replace_all(escape_html(text), "T", "T<wbr>");
      const bool time = text.size() == 20 && text[10] == 'T' && text.back() == 'Z';
      const std::string cell = time ? shown : escape_html(text);
      out += text == full ? "<td>" + cell + "</td>" : "<td title=\"" + escape_html(full) + "\">" + cell + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table></div>\n";
}

Json rounds_chart(const ReportTable& rounds, const ReportTable* events) {
  Json points = Json::array();
  for (const auto& row : table_records(rounds)) {
    if (!row["finished"].get<bool>() || row["intercepted_hosts"].is_null()) continue;
    Json point = row;
    point["series"] = row["monitor"].is_null() ? Json("scans") : Json("monitor " + row["monitor"].get<std::string>());
    points.push_back(std::move(point));
  }
  if (points.empty()) return nullptr;
  Json layers = Json::array();
  layers.push_back({{"data", {{"values", points}}},
                    {"mark", {{"type", "line"}, {"point", true}}},
                    {"encoding",
                     {{"x", {{"field", "started_at"}, {"type", "temporal"}, {"title", "round start (UTC)"},
                             {"axis", {{"format", "%m-%d %H:%M:%S"}, {"labelAngle", -30}, {"tickCount", 8}}}}},
                      {"y", {{"field", "intercepted_hosts"}, {"type", "quantitative"}, {"title", "intercepted hosts"},
                             {"axis", {{"tickMinStep", 1}}}}},
                      {"color", {{"field", "series"}, {"type", "nominal"}, {"title", "series"}}},
                      {"tooltip", Json::array({{{"field", "round"}}, {{"field", "started_at"}},
                                               {{"field", "intercepted_hosts"}}, {{"field", "hosts"}}})}}}});
  if (events && !events->rows.empty()) {
    Json marks = Json::array();
    for (const auto& row : table_records(*events)) {
      if (row["type"] == "baseline") continue;
      marks.push_back({{"time", row["time"]}, {"event", row["type"]}, {"scope", row["scope"]}, {"round", row["round"]}});
    }
    if (!marks.empty()) {
      layers.push_back({{"data", {{"values", marks}}},
                        {"mark", {{"type", "rule"}, {"strokeDash", {4, 3}}, {"strokeWidth", 2}}},
                        {"encoding",
                         {{"x", {{"field", "time"}, {"type", "temporal"}}},
                          {"color", {{"field", "event"}, {"type", "nominal"}, {"title", "event"}}},
                          {"tooltip", Json::array({{{"field", "event"}}, {{"field", "scope"}}, {{"field", "round"}}})}}}});
    }
  }
  return {{"width", 760}, {"height", 260}, {"layer", layers}, {"resolve", {{"scale", {{"color", "independent"}}}}}};
}

Json bar_chart(const ReportTable& table, const char* category, const char* value, const char* title, bool share) {
  // Only what was intercepted, the 40 largest (the table has every row).
  Json values = Json::array();
  for (auto& row : table_records(table)) {
    if (row[value].is_number() && row[value].get<double>() > 0) values.push_back(std::move(row));
  }
  if (values.empty()) return nullptr;
  if (values.size() > 40) values.erase(values.begin() + 40, values.end());
  Json x = {{"field", value}, {"type", "quantitative"}, {"title", title}};
  if (share) x["axis"] = {{"format", "%"}};
  return {{"width", 640},
          {"data", {{"values", values}}},
          {"mark", "bar"},
          {"encoding",
           {{"y", {{"field", category}, {"type", "nominal"}, {"sort", "-x"}, {"title", nullptr}}},
            {"x", x},
            {"tooltip", Json::array({{{"field", category}}, {{"field", value}}})}}}};
}

Json intermediates_chart(const ReportTable& table) {
  Json values = Json::array();
  for (const auto& row : table_records(table)) {
    if (row["not_before"].is_null()) continue;
    const std::string sha = row["sha256"].get<std::string>().substr(0, 12);
    const std::string label = (row["subject"].is_string() ? row["subject"].get<std::string>() : "?") + " " + sha;
    const bool outside = row["used_after_not_after"].is_number() && row["used_after_not_after"].get<size_t>() > 0;
    values.push_back({{"label", label}, {"kind", "validity"}, {"from", row["not_before"]}, {"to", row["not_after"]},
                      {"uses", nullptr}});
    values.push_back({{"label", label}, {"kind", outside ? "used, also after it expired" : "used within its validity"},
                      {"from", row["first_seen"]}, {"to", row["last_seen"]}, {"uses", row["results"]}});
  }
  if (values.empty()) return nullptr;
  // Labels are cut at 260 px (the whole one is in the tooltip) and the legend is below: the chart fits the page.
  return {{"width", 620},
          {"data", {{"values", values}}},
          {"mark", {{"type", "bar"}, {"height", 10}, {"minBandSize", 3}}},
          {"config", {{"legend", {{"orient", "bottom"}}}}},
          {"encoding",
           {{"y", {{"field", "label"}, {"type", "nominal"}, {"title", nullptr}, {"axis", {{"labelLimit", 260}}}}},
            {"x", {{"field", "from"}, {"type", "temporal"}, {"title", "time (UTC)"}}},
            {"x2", {{"field", "to"}}},
            {"yOffset", {{"field", "kind"}}},
            {"color", {{"field", "kind"}, {"type", "nominal"}, {"title", nullptr},
                       {"scale", {{"domain", {"validity", "used within its validity", "used, also after it expired"}},
                                  {"range", {"#bbbbbb", "#4c78a8", "#e45756"}}}}}},
            {"tooltip", Json::array({{{"field", "label"}}, {{"field", "kind"}}, {{"field", "from"}},
                                     {{"field", "to"}}, {{"field", "uses"}}})}}}};
}

Json trace_hops_chart(const ReportTable& table) {
  Json values = Json::array();
  for (const auto& row : table_records(table)) {
    if (row["hops_before_address"].is_null()) continue;
    values.push_back({{"hops", row["hops_before_address"]}, {"kind", row["kind"]}, {"addresses", row["addresses"]},
                      {"injection_ttl", row["injection_ttl"]}});
  }
  if (values.empty()) return nullptr;
  return {{"width", 640},
          {"data", {{"values", values}}},
          {"mark", "bar"},
          {"encoding",
           {{"x", {{"field", "hops"}, {"type", "ordinal"}, {"title", "hops between the injection point and the address"}}},
            {"y", {{"field", "addresses"}, {"type", "quantitative"}, {"title", "traced addresses"}, {"stack", true}}},
            {"color", {{"field", "kind"}, {"type", "nominal"}, {"title", "kind"}}},
            {"tooltip", Json::array({{{"field", "kind"}}, {{"field", "hops"}}, {{"field", "injection_ttl"}}, {{"field", "addresses"}}})}}}};
}

Json router_pairs_chart(const ReportTable& table) {
  Json values = Json::array();
  for (const auto& row : table_records(table)) {
    if (values.size() >= 20) break;
    auto name = [](const Json& value) { return value.is_string() ? value.get<std::string>() : std::string("?"); };
    values.push_back({{"pair", name(row["router_before"]) + " -> " + name(row["router_after"])}, {"addresses", row["addresses"]},
                      {"share", row["share"]}});
  }
  if (values.empty()) return nullptr;
  return {{"width", 640},
          {"data", {{"values", values}}},
          {"mark", "bar"},
          {"encoding",
           {{"y", {{"field", "pair"}, {"type", "nominal"}, {"sort", "-x"}, {"title", nullptr}}},
            {"x", {{"field", "addresses"}, {"type", "quantitative"}, {"title", "addresses injected between these routers"}}},
            {"tooltip", Json::array({{{"field", "pair"}}, {{"field", "addresses"}}, {{"field", "share"}}})}}}};
}

// The study's Figure 4: the forged chain as boxes, root at the top, each with its validity and key.
std::string chain_figure(const ReportTable& table) {
  if (table.rows.empty()) return {};
  std::string out = "<div class=\"chain\" role=\"figure\" aria-label=\"the forged chain\">\n";
  bool first = true;
  for (const auto& row : table_records(table)) {
    auto text = [&](const char* key) { return escape_html(report_cell_text(row[key])); };
    if (!first) out += "<div class=\"signs\">&#8595; signed</div>\n";
    first = false;
    out += fmt::format(
        "<div class=\"link {0}\"><div class=\"role\">{0}</div><div class=\"subject\">{1}</div>"
        "<div class=\"facts\">valid {2} &#8594; {3} ({4} days) &#183; {5} &#183; {6}</div>"
        "<div class=\"source\">{7} &#183; SHA-256 {8}&#8230;</div></div>\n",
        text("role"), text("subject"), text("not_before").substr(0, 10), text("not_after").substr(0, 10), text("validity_days"),
        text("key"), text("signature"),
        text("source"), text("sha256").substr(0, 16));
  }
  return out + "</div>\n";
}

constexpr std::string_view kStyle = R"(
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.what { color: #555; } .empty { color: #999; font-style: italic; }
.scroll { max-height: 320px; overflow: auto; }
table { border-collapse: collapse; font-size: 0.8em; width: 100%; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
footer { margin-top: 3em; color: #888; font-size: 0.8em; }
.one-view section:not(.shown), .one-view footer { display: none; }
.one-view .scroll { max-height: 60vh; }
.chain { display: flex; flex-direction: column; align-items: center; margin: 1em 0; }
.chain .link { border: 2px solid #999; border-radius: 6px; padding: 6px 12px; width: 80%; background: #fafafa; }
.chain .root { border-color: #e45756; } .chain .intermediate { border-color: #f58518; } .chain .leaf { border-color: #4c78a8; }
.chain .role { font-size: 0.75em; text-transform: uppercase; color: #666; }
.chain .subject { font-weight: bold; overflow-wrap: anywhere; }
.chain .facts, .chain .source { font-size: 0.85em; color: #444; overflow-wrap: anywhere; } .chain .signs { color: #888; margin: 4px 0; }
)";

// Renders the charts; `report.html#per_as` shows that view alone. When done, the body says how many charts
// rendered, which shown views do not fit the window (wider than it, or, alone, below its bottom: `data-cut-off`)
// and which views would not fit it alone (`data-views-cut-off`): what a test at a given width reads.
constexpr std::string_view kScript = R"(<script>
(function () {
  const view = location.hash.length > 1 && document.getElementById(location.hash.slice(1));
  if (view) {
    document.body.classList.add('one-view');
    view.classList.add('shown');
    window.addEventListener('load', () => window.scrollTo(0, 0));   // the view alone, from the page's top
  }
  const specs = JSON.parse(document.getElementById('mitmscope-specs').textContent);
  const pending = Object.entries(specs).map(([name, spec]) =>
    vegaEmbed('#chart-' + name, spec, {renderer: 'svg', actions: false, mode: 'vega-lite'})
      .then(() => document.getElementById('chart-' + name).setAttribute('data-rendered', 'true')));
  const cutOff = () => Array.from(document.querySelectorAll('section')).filter((section) => {
    if (getComputedStyle(section).display === 'none') return false;
    const parts = [section, ...section.querySelectorAll('.scroll, .chart, .chain, table, svg')];
    const wide = parts.some((part) => part.scrollWidth > part.clientWidth + 1 ||
                                      part.getBoundingClientRect().right > document.documentElement.clientWidth + 1);
    const below = document.body.classList.contains('one-view') && section.getBoundingClientRect().bottom > window.innerHeight;
    return wide || below;
  }).map((section) => section.id).join(' ');
  // Each view alone in turn, as `#view` shows it: which would not fit this window.
  const viewsCutOff = () => {
    const body = document.body, was = body.classList.contains('one-view');
    const sections = Array.from(document.querySelectorAll('section'));
    const shown = sections.filter((section) => section.classList.contains('shown'));
    body.classList.add('one-view');
    const cut = sections.filter((section) => {
      sections.forEach((other) => other.classList.toggle('shown', other === section));
      return cutOff() !== '';
    }).map((section) => section.id);
    sections.forEach((section) => section.classList.toggle('shown', shown.includes(section)));
    body.classList.toggle('one-view', was);
    return cut.join(' ');
  };
  Promise.all(pending).then(() => {
    document.body.setAttribute('data-views-cut-off', viewsCutOff());
    document.body.setAttribute('data-cut-off', cutOff());
    document.body.setAttribute('data-charts-rendered', String(pending.length));
  }).catch((error) => { document.body.setAttribute('data-chart-error', String(error)); console.error(error); });
})();
</script>
)";

std::string html_page(const std::string& title, const std::string& body, const Json& specs) {
  std::string page = fmt::format("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{}</style>\n",
                                 escape_html(title), kStyle);
  using Bundle = std::pair<const char*, const char*>;
  for (auto [begin, end] : {Bundle{mitmscope_web_vega, mitmscope_web_vega_end}, Bundle{mitmscope_web_vega_lite, mitmscope_web_vega_lite_end},
                            Bundle{mitmscope_web_vega_embed, mitmscope_web_vega_embed_end}}) {
    page += "<script>";
    page += library(begin, end);
    page += "</script>\n";
  }
  page += fmt::format("</head>\n<body>\n<h1>{}</h1>\n", escape_html(title));
  page += body;
  page += "<script type=\"application/json\" id=\"mitmscope-specs\">" + script_json(specs) + "</script>\n";
  page += kScript;
  page += fmt::format("<footer>mitmscope report. Charts: {}, bundled into this file.</footer>\n</body>\n</html>\n",
                      escape_html(MITMSCOPE_CHART_LIBRARIES));
  return page;
}

}  // namespace

std::string bundled_chart_libraries() { return MITMSCOPE_CHART_LIBRARIES; }

std::string render_html_report(const std::vector<ReportTable>& tables, const std::string& title) {
  struct Section {
    const char* table;
    const char* heading;
    Json spec;
    std::string figure = {};     // HTML drawn without a chart library
  };
  std::vector<Section> sections;
  if (const auto* rounds = find(tables, "rounds")) {
    sections.push_back({"rounds", "Intercepted hosts per round, with events", rounds_chart(*rounds, find(tables, "events"))});
  }
  if (find(tables, "events")) sections.push_back({"events", "Events", nullptr});
  if (const auto* per_as = find(tables, "per_as")) {
    sections.push_back({"per_as", "Intercepted share per AS", bar_chart(*per_as, "as", "intercepted_share", "intercepted share of eligible hosts", true)});
  }
  if (const auto* per_domain = find(tables, "per_domain")) {
    sections.push_back({"per_domain", "Intercepted hosts per domain", bar_chart(*per_domain, "domain", "intercepted_hosts", "intercepted hosts", false)});
  }
  if (const auto* intermediates = find(tables, "intermediates")) {
    sections.push_back({"intermediates", "Intercepting certificates against their validity", intermediates_chart(*intermediates)});
  }
  if (const auto* chain = find(tables, "forged_chain")) {
    sections.push_back({"forged_chain", "The forged chain", nullptr, chain_figure(*chain)});
  }
  if (find(tables, "profile")) sections.push_back({"profile", "The interceptor's profile", nullptr});
  if (const auto* hops = find(tables, "trace_hops")) {
    sections.push_back({"trace_hops", "Where the forged certificate is injected", trace_hops_chart(*hops)});
  }
  if (const auto* pairs = find(tables, "trace_router_pairs")) {
    sections.push_back({"trace_router_pairs", "Router pairs around the injection point", router_pairs_chart(*pairs)});
  }
  // Public data (stored `ooni` ingests) only when there is some: a lab campaign's report keeps its views.
  if (const auto* sources = find(tables, "sources"); sources && !sources->rows.empty()) {
    sections.push_back({"sources", "Which public data source saw what",
                        bar_chart(*sources, "source", "intercepted_measurements", "intercepted measurements", false)});
  }
  if (const auto* families = find(tables, "families"); families && !families->rows.empty()) {
    sections.push_back({"families", "Interceptor families", nullptr});
  }

  std::string body;
  Json specs = Json::object();
  for (const auto& section : sections) {
    const auto* table = find(tables, section.table);
    body += fmt::format("<section id=\"{0}\">\n<h2>{1}</h2>\n<p class=\"what\">{2}</p>\n", section.table,
                        escape_html(section.heading), escape_html(table->title));
    body += section.figure;
    if (!section.spec.is_null()) {
      body += fmt::format("<div class=\"chart\" id=\"chart-{}\"></div>\n", section.table);
      specs[section.table] = section.spec;
    }
    body += html_table(*table);
    body += "</section>\n";
  }
  return html_page(title, body, specs);
}

}  // namespace mitmscope
