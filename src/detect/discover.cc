#include "detect/discover.h"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

namespace mitmscope {
namespace {

bool usable_verdict(ScanVerdict verdict) {
  return verdict != ScanVerdict::kIneligible && verdict != ScanVerdict::kControlFailed;
}

// A screening answer that deserves a closer look: anything but a match with the template
// or a trusted variation. An error counts: the interceptor may reset or time out.
bool candidate_verdict(ScanVerdict verdict) {
  return verdict == ScanVerdict::kIntercepted || verdict == ScanVerdict::kError || verdict == ScanVerdict::kStateful;
}

}  // namespace

Result<DiscoverReport> discover(const std::filesystem::path& hosts_file, const TargetOptions& targets,
                                const std::vector<std::string>& domains, const AssessmentContext& context,
                                const TlsClientContext& client, const DiscoverOptions& options,
                                const DiscoverProgress& progress) {
  const auto started = std::chrono::steady_clock::now();
  auto say = [&](const std::string& text) {
    if (progress) progress(text);
  };
  DiscoverReport report;
  report.domains = domains.size();
  // One engine for every pass, so the per-address cap holds across passes too.
  Engine engine(client, options.engine);

  std::map<std::string, std::string> unusable;  // ip -> why
  std::set<std::string> usable;
  std::set<std::string> all_hosts;
  auto run_pass = [&](const std::vector<std::string>& pass_domains, int retries,
                      std::function<bool(uint32_t, size_t)> select, const std::function<void(const ScanResult&)>& sink)
      -> Result<void> {
    auto hosts = HostList::open(hosts_file, targets);
    if (!hosts) return std::unexpected(hosts.error());
    ScanRunner runner(*hosts, pass_domains, context,
                      {.controls = options.controls, .retries = retries, .stateful_delay = options.stateful_delay,
                       .max_active_hosts = std::max<size_t>(1, options.engine.concurrency), .seed = options.seed,
                       .skip_host = [&](const HostTarget& host) { return unusable.contains(host.endpoint.ip); },
                       .select_domain = std::move(select)},
                      [&](const ScanResult& result) {
                        const std::string& ip = result.host->endpoint.ip;
                        all_hosts.insert(ip);
                        // A host with one usable answer is usable: a device may answer some names with an
                        // error (squid's 409 for a name that does not resolve) and forge others.
                        if (usable_verdict(result.verdict)) {
                          usable.insert(ip);
                          unusable.erase(ip);
                        } else if (!unusable.contains(ip) && !usable.contains(ip)) {
                          unusable[ip] = fmt::format("{}: {}", scan_verdict_name(result.verdict),
                                                     result.reasons.empty() ? "" : result.reasons.front());
                        }
                        sink(result);
                      });
    runner.run(engine);
    return {};
  };

  // Phase 1: screening, spread over the hosts; re-screen what fell on unusable hosts.
  std::set<size_t> candidates, screened;
  std::vector<size_t> unscreened(domains.size());
  for (size_t d = 0; d < domains.size(); ++d) unscreened[d] = d;
  const auto probe_hosts = HostList::open(hosts_file, targets);
  if (!probe_hosts) return std::unexpected(probe_hosts.error());
  const size_t host_count = probe_hosts->shard_size();
  report.hosts = host_count;
  for (int pass = 0; !unscreened.empty(); ++pass) {
    const size_t spread = std::max<size_t>(1, host_count - std::min(host_count - 1, unusable.size()));
    std::vector<std::string> pass_domains;
    for (size_t d : unscreened) pass_domains.push_back(domains[d]);
    say(fmt::format("discover: screening {} domains over {} hosts (pass {})", pass_domains.size(), spread, pass + 1));
    std::vector<size_t> again;
    const size_t before = unusable.size();
    const auto pass_started = engine.started();
    std::unordered_map<std::string, size_t> index_of;
    for (size_t i = 0; i < pass_domains.size(); ++i) index_of.try_emplace(pass_domains[i], unscreened[i]);
    auto ran = run_pass(pass_domains, options.screen_retries,
                        [spread](uint32_t host, size_t domain) { return domain % spread == host % spread; },
                        [&](const ScanResult& result) {
                          const size_t index = index_of.at(result.sni);
                          if (!usable_verdict(result.verdict)) {
                            again.push_back(index);
                          } else {
                            screened.insert(index);
                            if (candidate_verdict(result.verdict)) candidates.insert(index);
                          }
                        });
    if (!ran) return std::unexpected(ran.error());
    report.screening_handshakes += engine.started() - pass_started;
    if (unusable.size() == before && !again.empty()) {
      // No host was lost in this pass, yet domains came back unusable: nothing more to try.
      break;
    }
    std::sort(again.begin(), again.end());
    again.erase(std::unique(again.begin(), again.end()), again.end());
    unscreened = std::move(again);
    if (usable.empty() && unusable.size() >= host_count) break;
  }
  report.candidates = candidates.size();
  report.unscreened = domains.size() - screened.size();
  report.usable_hosts.assign(usable.begin(), usable.end());
  for (const auto& [ip, why] : unusable) report.unusable_hosts.push_back(ip + ": " + why);
  if (usable.empty()) {
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
  }

  // Phase 2: every candidate on every usable host, with the full method.
  std::vector<std::string> candidate_names;
  std::map<std::string, DiscoveredDomain> found;
  for (size_t d : candidates) {
    candidate_names.push_back(domains[d]);
    auto& entry = found[domains[d]];
    entry.domain = domains[d];
    entry.rank = d + 1;
  }
  if (!candidate_names.empty()) {
    say(fmt::format("discover: confirming {} candidates on {} hosts", candidate_names.size(), usable.size()));
    const auto pass_started = engine.started();
    auto ran = run_pass(candidate_names, options.retries, {}, [&](const ScanResult& result) {
      auto& entry = found[result.sni];
      if (!usable_verdict(result.verdict)) return;
      ++entry.hosts_tested;
      ++entry.verdicts[std::string(scan_verdict_name(result.verdict))];
      if (result.verdict != ScanVerdict::kIntercepted) return;
      entry.intercepting_hosts.insert(result.host->endpoint.ip);
      if (result.assessment && result.assessment->verdict.known_interceptor) {
        entry.interceptors.insert(result.assessment->verdict.known_interceptor->name);
      } else {
        entry.interceptors.insert("(unknown: untrusted changed chain)");
      }
      if (result.assessment && !result.assessment->chain.empty()) entry.issuers.insert(result.assessment->chain.front().issuer());
      if (result.forging && result.forging->not_before_shift_hours) {
        entry.validity_shifts_hours.insert(*result.forging->not_before_shift_hours);
      }
      if (entry.reasons.empty()) entry.reasons = result.reasons;
    });
    if (!ran) return std::unexpected(ran.error());
    report.confirmation_handshakes = engine.started() - pass_started;
  }
  const size_t needed = std::max<size_t>(1, std::min(options.confirm, usable.size()));
  std::vector<DiscoveredDomain> ordered;
  for (auto& [name, entry] : found) ordered.push_back(std::move(entry));
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.rank < b.rank; });
  for (auto& entry : ordered) {
    entry.confirmed = entry.intercepting_hosts.size() >= needed;
    (entry.confirmed ? report.confirmed : report.rejected).push_back(std::move(entry));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace mitmscope
