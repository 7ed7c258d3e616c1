// The HTML report: one self-contained file (the chart libraries, Vega-Lite specs and data are
// inlined; nothing is fetched when it is opened). Charts are Vega-Lite specs rendered in the
// browser to SVG; every table is also written as an HTML table under its chart.
#pragma once

#include <string>
#include <vector>

#include "report/campaign_report.h"

namespace mitmscope {

std::string render_html_report(const std::vector<ReportTable>& tables, const std::string& title);

// The bundled libraries (build time, web/package-lock.json): "vega 5.33.1, ..." for the page's footer.
std::string bundled_chart_libraries();

}  // namespace mitmscope
