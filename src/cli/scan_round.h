// One pass of the scan over a hosts file and a domain list, with its outputs: JSON Lines, the
// store, the summary. `scan` runs one; `monitor` runs one per round and watches the results go by.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyze/asn_map.h"
#include "cli/common.h"
#include "detect/scan.h"
#include "run/run.h"
#include "store/store.h"

namespace mitmscope::cli {

struct ScanRoundInputs {
  std::string hosts_file;
  TargetOptions targets;
  const std::vector<std::string>* domains = nullptr;
  const TrustContext* trust = nullptr;
  const TlsClientContext* client = nullptr;
  EngineOptions engine;
  const AsnMap* asn_map = nullptr;
  ScanMethodOptions method;
  uint64_t seed = 1;
  bool foxio = false;
};

struct ScanRoundSinks {
  Store* store = nullptr;                 // with scan_id: results go there in batches
  int64_t scan_id = 0;
  run::ResumeKeys stored;                 // "ip:port sni" already stored (resume): skipped
  std::string out;                        // JSON Lines: a file, "-" for stdout, "" for none
  bool append = false;                    // add to `out` (a resumed scan, a monitor's rounds)
  bool progress = false;                  // a progress line on stderr
  // Every new result, with the host's AS key ("AS9198", or empty when unknown).
  std::function<void(const ScanResult&, const std::string& as_key)> observe;
};

struct ScanRoundReport {
  nlohmann::ordered_json summary;         // as printed
  ScanTally tally;                        // as stored
  std::string summary_text;
  uint64_t handshakes = 0;
  double seconds = 0;
  std::vector<SkippedTarget> skipped_hosts;   // the first HostList::kSkippedKept
  size_t skipped_count = 0;                  // all lines skipped
  std::optional<Error> store_error;       // results up to the failure are stored; the rest are in `out`
  size_t stored = 0;                      // results this round stored
  bool interrupted = false;               // a signal stopped it: what was measured is stored, the scan unfinished
  size_t results = 0;                     // written by this run (not counting those a resume skipped)
};

Result<ScanRoundReport> run_scan_round(const ScanRoundInputs& inputs, ScanRoundSinks& sinks);

}  // namespace mitmscope::cli
