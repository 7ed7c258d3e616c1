// Scan output: one JSON object per (host, domain), and the summary of a scan (analyze/scan_summary's values:
// hosts, eligible, intercepted hosts and share, per domain, per tag, per AS) as JSON and as text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "analyze/scan_summary.h"
#include "detect/scan.h"
#include "report/json_output.h"

namespace mitmscope {

nlohmann::ordered_json scan_result_json(const ScanResult& result, const TrustStore& store, const JsonOptions& options);

// The summary as printed: `--summary` and the store's summary column (JSON), the end of `scan` (text).
nlohmann::ordered_json scan_summary_json(const ScanOverview& overview);
std::string scan_summary_text(const ScanOverview& overview);

}  // namespace mitmscope
