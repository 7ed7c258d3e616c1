// The judging stage of the OONI analysis, after every measurement was read: for each kept handshake, the leaf's
// issuer (archived, or found among the CA certificates of the whole corpus by x509/issuer_index: key identifier
// and name choose, the signature decides), its registry attribution, how many unrelated domains its issuer key
// signed under the forging-CA conditions, and then the category from ooni/verdict_rules. Also the sentences
// that explain each judgement.
#pragma once

#include <string>
#include <vector>

#include "ooni/analysis.h"

namespace mitmscope::ooni {

// Fills result.judged (one per result.kept, same order); `certificates` are the pool's, by id.
void judge_handshakes(AnalysisResult& result, const std::vector<CertificateFacts>& certificates, size_t min_forged_domains);

}  // namespace mitmscope::ooni
