// The tables of the OONI analysis, from the judged handshakes: each intercepting issuer with its validity, the
// days it was used and its uses outside its validity; the domains, networks and countries; the gaps between
// consecutive issuers' validity windows and the interception inside them (OONI's 2024 Kazakhstan report).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "ooni/analysis.h"

namespace mitmscope::ooni {

// Every measurement that passed the filters, per network and country (the denominators of the tables).
struct MeasurementCounts {
  std::map<uint32_t, std::pair<std::string, uint64_t>> networks;   // asn -> (name, measurements)
  std::map<std::string, uint64_t, std::less<>> countries;
};

// Fills result.issuers, .domains, .networks, .countries and .gaps, and the verdict and category totals.
void build_tables(AnalysisResult& result, const MeasurementCounts& counts);

}  // namespace mitmscope::ooni
