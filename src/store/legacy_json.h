// The JSON an earlier version stored in place of typed facts, read once by `store migrate`: a scan or OONI
// result's facts from its output object, a finished scan's tally from its summary. Nothing else reads stored
// JSON; a field the old rendering lacks leaves the fact empty.
#pragma once

#include <optional>
#include <string_view>

#include "store/result_facts.h"

namespace mitmscope {

ResultFacts facts_from_result_json(std::string_view json);
// Empty when the summary is not a JSON object; an OONI ingest's summary gives a tally of source kOoni.
std::optional<ScanTally> tally_from_summary_json(std::string_view json);

}  // namespace mitmscope
