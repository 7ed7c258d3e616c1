// OONI's tlsmiddlebox traces judged as `trace`'s own (trace/locate): each TTL-limited handshake becomes a hop
// outcome (a chain is forged when the analysis judged that handshake intercepted), the TCP traceroute is the path
// series, and locate_injection says where the device is and what kind.
#pragma once

#include <string_view>

#include "ooni/analysis.h"

namespace mitmscope::ooni {

// A hop without certificates, from OONI's failure strings: an expired probe (generic_timeout_error with the
// socket's host_unreachable: the ICMP time exceeded), silence, a reset, a close, an alert, anything else.
HopOutcome middlebox_hop_outcome(std::string_view failure, std::string_view so_error);

// Fills result.middlebox from result.traces, once result.judged is final.
void locate_middlebox(AnalysisResult& result);

}  // namespace mitmscope::ooni
