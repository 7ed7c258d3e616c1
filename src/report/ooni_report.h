// The `ooni` analysis as tables (issuers, validity gaps, domains, networks, countries, the
// per-issuer timeline), a summary, one JSON object per judged handshake, and the rows it puts
// in a Store. Tables reuse ReportTable, so Markdown, JSON and CSV are written by the same code
// as `report`'s.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ooni/analysis.h"
#include "report/campaign_report.h"
#include "store/store.h"

namespace mitmscope {

std::vector<ReportTable> ooni_tables(const ooni::AnalysisResult& result);
nlohmann::ordered_json ooni_summary_json(const ooni::AnalysisResult& result);
// One kept handshake with its verdict, reasons, measurement and certificates (SHA-256, subject).
nlohmann::ordered_json judged_handshake_json(const ooni::AnalysisResult& result, const ooni::JudgedHandshake& judged);
// What the Store keeps of a judged handshake: the certificates as archived, and the leaf's issuer
// appended when it was found in other measurements (`issuer_from_corpus` in the result JSON).
StoredResult judged_handshake_result(const ooni::AnalysisResult& result, const ooni::JudgedHandshake& judged);
// "a.jsonl.gz:12: field probe_asn: ..." lines for people.
std::string ooni_error_text(const ooni::LineError& error);

}  // namespace mitmscope
