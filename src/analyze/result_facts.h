// The typed facts of a judged scan result, as the store keeps them (store/result_facts.h): filled from the
// ScanResult when it is judged, never from its JSON rendering.
#pragma once

#include "analyze/asn_map.h"
#include "detect/scan_result.h"
#include "store/result_facts.h"
#include "x509/forging.h"

namespace mitmscope {

ForgingFacts forging_facts(const ForgingAnalysis& analysis);
// `asn`: the host's AS from the prefix table, when one was given.
ResultFacts scan_result_facts(const ScanResult& result, const AsnInfo* asn);

}  // namespace mitmscope
