// Short human summaries of probe and inspect results, for a terminal.
#pragma once

#include <string>

#include "core/observation.h"
#include "detect/chain_verdict.h"
#include "x509/forging.h"

namespace mitmscope {

std::string certificate_line(const Certificate& certificate);
std::string verdict_text(const ChainAssessment& assessment);
std::string probe_text(const Observation& observation, const ChainAssessment& assessment);
std::string chain_text(const ChainAssessment& assessment);
std::string forging_text(const ForgingAnalysis& analysis);

}  // namespace mitmscope
