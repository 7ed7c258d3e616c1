// The judgements of the scan that need no network: pure functions of recorded answers, a host's template and
// the assessment context (trust store, registry, time), so they are unit-tested on recorded observations as
// trace/locate is.
//  - judge_anomaly: every try of a test name differed from the template and a control right after matched.
//    A known interceptor's chain, or a changed chain that is not browser-trusted, is interception (with the
//    forged leaf compared to the template's genuine one); a changed but browser-trusted chain is variation
//    (CDN, load balancer); no certificate is an error.
//  - judge_alone: the host's controls themselves got a known interceptor's chain (a device that forges every
//    name), so each name is judged by its own chain.
#pragma once

#include <string>

#include "core/observation.h"
#include "detect/chain_verdict.h"
#include "detect/host_template.h"
#include "detect/scan_result.h"

namespace mitmscope {

// One answer in a sentence: the plain answer, the error, or "a certificate chain".
std::string describe_answer(const Observation& observation);

// Whether the chain (DER, as sent) is browser-trusted as a chain, whatever the name; `why` gets the first problem.
bool chain_trusted(const std::vector<std::vector<uint8_t>>& chain_der, const AssessmentContext& context,
                   std::string* why = nullptr);

// `changed`: the last answer that differed; `attempts`: the tries; `source`: where the template came from.
ScanResult judge_anomaly(const Observation& changed, const HostTemplate& host_template, int attempts, TemplateSource source,
                         const AssessmentContext& context);

// `device_evidence`: what shows the device forges every name (it leads the reasons of an interception).
ScanResult judge_alone(Observation observation, const std::string& device_evidence, const AssessmentContext& context);

}  // namespace mitmscope
