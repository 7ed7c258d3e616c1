// ScanResult: the typed record of one (host, name) of a scan, discover or monitor round: the verdict with its
// reasons, the answer it is about and that answer's judgement, where the host's template came from, and for an
// interception how the certificate was forged and which product family it resembles. JSON (report/scan_output)
// is a rendering of it; nothing here depends on the engine that produced it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/observation.h"
#include "detect/chain_verdict.h"
#include "engine/targets.h"
#include "x509/forging.h"
#include "x509/forging_family.h"

namespace mitmscope {

enum class ScanVerdict { kIntercepted, kMismatch, kClean, kError, kControlFailed, kStateful, kIneligible };
std::string_view scan_verdict_name(ScanVerdict verdict);
Outcome scan_outcome(ScanVerdict verdict);

// Where a host's template came from: its control names (the study's method), the test names'
// own browser-trusted answers (controls failed), or nowhere.
enum class TemplateSource { kControls, kTestNames, kNone };
std::string_view template_source_name(TemplateSource source);

struct ScanResult {
  const HostTarget* host = nullptr;
  std::string sni;
  ScanVerdict verdict = ScanVerdict::kError;
  std::vector<std::string> reasons;
  std::optional<Observation> observation;       // the answer the verdict is about
  std::optional<ChainAssessment> assessment;
  std::string template_id;
  std::string template_leaf_sha256;
  TemplateSource template_source = TemplateSource::kNone;
  std::vector<std::string> template_names;      // kTestNames: the names whose answers built it
  int attempts = 0;
  std::optional<ForgingAnalysis> forging;       // intercepted: presented leaf vs the template's
  std::optional<ForgeryTraits> traits;          // intercepted: how the certificate was forged
  std::vector<FamilyMatch> families;            // the product families those traits fit (x509/forging_family)
};

}  // namespace mitmscope
