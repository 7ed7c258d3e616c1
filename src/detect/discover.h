// Discover: which domains of a top list make the interceptor act, found on a few hosts
// known to sit behind it (the study tested 10,000 domains and found 37).
//
// Two phases, both ordinary scans (the Hyperquack method of detect/scan.h):
//  1. screening: the list is spread over the usable hosts (domain d on host d mod H), one
//     try each; anything that is not a clean match (intercepted, error, stateful) is a
//     candidate. Domains whose host turned out unusable (ineligible, failing controls)
//     are screened again on the usable ones.
//  2. confirmation: every candidate on every usable host with the full retries; a domain
//     is reported when at least `confirm` hosts (fewer if fewer are usable) intercept it.
//  3. with strategies (tls/hello_strategy): every confirmed domain on every usable host again, once per strategy,
//     its ClientHello reshaped; per domain and strategy, on how many hosts it was still intercepted.
// Cost: about |list| + |candidates| x |hosts| handshakes instead of |list| x |hosts|.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "detect/scan.h"
#include "engine/engine.h"
#include "engine/targets.h"
#include "tls/hello_strategy.h"

namespace mitmscope {

struct DiscoverOptions {
  int controls = 2;
  int retries = 5;                  // confirmation tries per (host, domain)
  int screen_retries = 1;           // screening tries per domain
  size_t confirm = 3;               // hosts that must intercept a domain before it is reported
  std::chrono::milliseconds stateful_delay{120000};
  uint64_t seed = 1;
  EngineOptions engine;             // engine.stop (a signal) ends the discovery early: `interrupted`
  std::function<void(const ScanResult&)> observe;  // every screening and confirmation result, as it comes
  std::vector<const HelloStrategy*> strategies;     // phase 3 (needs a ClientHello profile, not openssl)
};

// One confirmed domain under one strategy.
struct StrategyOutcome {
  size_t hosts_tested = 0;                  // answered usably (as every host was when the domain was confirmed)
  size_t hosts_intercepted = 0;
  size_t hosts_failed = 0;                  // the strategy broke even the controls (control_failed, ineligible)
  std::map<std::string, size_t> verdicts;
};

struct DiscoveredDomain {
  std::string domain;
  size_t rank = 0;                          // 1-based position in the list
  size_t hosts_tested = 0;
  std::set<std::string> intercepting_hosts;
  std::map<std::string, size_t> verdicts;   // over the confirmation results
  std::set<std::string> interceptors;       // registry names, or "(unknown: ...)"
  std::set<std::string> issuers;            // issuer of the presented leaf
  std::set<double> validity_shifts_hours;   // presented vs genuine notBefore
  std::vector<std::string> reasons;         // of one intercepted result, as evidence
  bool confirmed = false;
  std::map<std::string, StrategyOutcome> strategies;   // by strategy name (phase 3)
};

struct DiscoverReport {
  size_t domains = 0;
  size_t hosts = 0;
  std::vector<std::string> usable_hosts;
  std::vector<std::string> unusable_hosts;  // "ip: why"
  size_t candidates = 0;
  size_t unscreened = 0;                    // no usable host was left to try them on
  std::vector<DiscoveredDomain> confirmed;  // in list order
  std::vector<DiscoveredDomain> rejected;   // candidates that did not confirm
  size_t screening_handshakes = 0;
  size_t confirmation_handshakes = 0;
  size_t strategy_handshakes = 0;
  double seconds = 0;
  bool interrupted = false;                 // stopped early: screening or confirmation is partial
};

using DiscoverProgress = std::function<void(std::string_view)>;

Result<DiscoverReport> discover(const std::filesystem::path& hosts_file, const TargetOptions& targets,
                                const std::vector<std::string>& domains, const AssessmentContext& context,
                                const TlsClientContext& client, const DiscoverOptions& options,
                                const DiscoverProgress& progress = {});

}  // namespace mitmscope
