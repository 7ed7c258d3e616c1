#include "detect/discover.h"

#include <algorithm>
#include <map>
#include <set>
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

// One discovery: the two phases over shared state (the engine, which hosts are usable and why).
class Discovery {
 public:
  Discovery(const std::filesystem::path& hosts_file, const TargetOptions& targets, const std::vector<std::string>& domains,
            const AssessmentContext& context, const TlsClientContext& client, const DiscoverOptions& options,
            const DiscoverProgress& progress)
      : hosts_file_(hosts_file), targets_(targets), domains_(domains), context_(context), client_(client),
        options_(options), progress_(progress), engine_(client, options.engine) {}  // one engine: the per-address cap holds across passes

  Result<DiscoverReport> run() {
    const auto started = std::chrono::steady_clock::now();
    report_.domains = domains_.size();
    auto candidates = screen();
    if (!candidates) return std::unexpected(candidates.error());
    report_.usable_hosts.assign(usable_.begin(), usable_.end());
    for (const auto& [ip, why] : unusable_) report_.unusable_hosts.push_back(ip + ": " + why);
    if (!usable_.empty() && !stopped()) {
      if (auto confirmed = confirm(*candidates); !confirmed) return std::unexpected(confirmed.error());
    }
    if (!report_.confirmed.empty() && !stopped()) {
      if (auto tried = try_strategies(); !tried) return std::unexpected(tried.error());
    }
    report_.interrupted = stopped();
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return std::move(report_);
  }

 private:
  bool stopped() const { return options_.engine.stop && options_.engine.stop->load(); }
  void say(const std::string& text) const {
    if (progress_) progress_(text);
  }

  // A host with one usable answer is usable: a device may answer some names with an error (squid's 409 for a
  // name that does not resolve) and forge others.
  void record_usability(const ScanResult& result) {
    const std::string& ip = result.host->endpoint.ip;
    if (usable_verdict(result.verdict)) {
      usable_.insert(ip);
      unusable_.erase(ip);
    } else if (!unusable_.contains(ip) && !usable_.contains(ip)) {
      unusable_[ip] = fmt::format("{}: {}", scan_verdict_name(result.verdict),
                                  result.reasons.empty() ? "" : result.reasons.front());
    }
  }

  Result<void> run_pass(const std::vector<std::string>& pass_domains, int retries,
                        std::function<bool(uint32_t, size_t)> select, const std::function<void(const ScanResult&)>& sink) {
    auto hosts = HostList::open(hosts_file_, targets_);
    if (!hosts) return std::unexpected(hosts.error());
    ScanRunner runner(*hosts, pass_domains, context_,
                      {.controls = options_.controls, .retries = retries, .stateful_delay = options_.stateful_delay,
                       .max_active_hosts = std::max<size_t>(1, options_.engine.concurrency), .seed = options_.seed,
                       .skip_host = [&](const HostTarget& host) { return unusable_.contains(host.endpoint.ip); },
                       .select_domain = std::move(select)},
                      [&](const ScanResult& result) {
                        record_usability(result);
                        if (options_.observe) options_.observe(result);
                        sink(result);
                      });
    runner.run(engine_);
    return {};
  }

  Result<std::set<size_t>> screen();
  Result<void> confirm(const std::set<size_t>& candidates);
  Result<void> try_strategies();

  const std::filesystem::path& hosts_file_;
  const TargetOptions& targets_;
  const std::vector<std::string>& domains_;
  const AssessmentContext& context_;
  const TlsClientContext& client_;
  const DiscoverOptions& options_;
  const DiscoverProgress& progress_;
  Engine engine_;
  std::map<std::string, std::string> unusable_;  // ip -> why
  std::set<std::string> usable_;
  DiscoverReport report_;
};

// Phase 1: the list spread over the hosts, one try each; what fell on unusable hosts is screened again.
Result<std::set<size_t>> Discovery::screen() {
  std::set<size_t> candidates, screened;
  std::vector<size_t> unscreened(domains_.size());
  for (size_t d = 0; d < domains_.size(); ++d) unscreened[d] = d;
  const auto probe_hosts = HostList::open(hosts_file_, targets_);
  if (!probe_hosts) return std::unexpected(probe_hosts.error());
  const size_t host_count = probe_hosts->shard_size();
  report_.hosts = host_count;
  for (int pass = 0; !unscreened.empty() && !stopped(); ++pass) {
    const size_t spread = std::max<size_t>(1, host_count - std::min(host_count - 1, unusable_.size()));
    std::vector<std::string> pass_domains;
    for (size_t d : unscreened) pass_domains.push_back(domains_[d]);
    say(fmt::format("discover: screening {} domains over {} hosts (pass {})", pass_domains.size(), spread, pass + 1));
    std::vector<size_t> again;
    const size_t before = unusable_.size();
    const auto pass_started = engine_.started();
    std::unordered_map<std::string, size_t> index_of;
    for (size_t i = 0; i < pass_domains.size(); ++i) index_of.try_emplace(pass_domains[i], unscreened[i]);
    auto ran = run_pass(pass_domains, options_.screen_retries,
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
    report_.screening_handshakes += engine_.started() - pass_started;
    // No host was lost in this pass, yet domains came back unusable: nothing more to try.
    if (unusable_.size() == before && !again.empty()) break;
    std::sort(again.begin(), again.end());
    again.erase(std::unique(again.begin(), again.end()), again.end());
    unscreened = std::move(again);
    if (usable_.empty() && unusable_.size() >= host_count) break;
  }
  report_.candidates = candidates.size();
  report_.unscreened = domains_.size() - screened.size();
  return candidates;
}

// One intercepted confirmation answer, as evidence for its domain.
void add_interception(DiscoveredDomain& entry, const ScanResult& result) {
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
}

// Phase 2: every candidate on every usable host, with the full method; confirmed on `confirm` hosts.
Result<void> Discovery::confirm(const std::set<size_t>& candidates) {
  std::vector<std::string> candidate_names;
  std::map<std::string, DiscoveredDomain> found;
  for (size_t d : candidates) {
    candidate_names.push_back(domains_[d]);
    auto& entry = found[domains_[d]];
    entry.domain = domains_[d];
    entry.rank = d + 1;
  }
  if (!candidate_names.empty()) {
    say(fmt::format("discover: confirming {} candidates on {} hosts", candidate_names.size(), usable_.size()));
    const auto pass_started = engine_.started();
    auto ran = run_pass(candidate_names, options_.retries, {}, [&](const ScanResult& result) {
      auto& entry = found[result.sni];
      if (!usable_verdict(result.verdict)) return;
      ++entry.hosts_tested;
      ++entry.verdicts[std::string(scan_verdict_name(result.verdict))];
      if (result.verdict == ScanVerdict::kIntercepted) add_interception(entry, result);
    });
    if (!ran) return std::unexpected(ran.error());
    report_.confirmation_handshakes = engine_.started() - pass_started;
  }
  const size_t needed = std::max<size_t>(1, std::min(options_.confirm, usable_.size()));
  std::vector<DiscoveredDomain> ordered;
  for (auto& [name, entry] : found) ordered.push_back(std::move(entry));
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.rank < b.rank; });
  for (auto& entry : ordered) {
    entry.confirmed = entry.intercepting_hosts.size() >= needed;
    (entry.confirmed ? report_.confirmed : report_.rejected).push_back(std::move(entry));
  }
  return {};
}

// Phase 3: each confirmed domain on every usable host again under each strategy; the engine (and its per-address
// clock) is the same, only the client changes.
Result<void> Discovery::try_strategies() {
  std::vector<std::string> names;
  std::map<std::string, DiscoveredDomain*> by_name;
  for (auto& entry : report_.confirmed) {
    names.push_back(entry.domain);
    by_name[entry.domain] = &entry;
  }
  for (const HelloStrategy* strategy : options_.strategies) {
    if (stopped()) break;
    TlsClientOptions client_options = client_.options();
    client_options.strategy = strategy;
    auto client = TlsClientContext::create(client_options);
    if (!client) return std::unexpected(client.error());
    say(fmt::format("discover: {} confirmed domains on {} hosts, strategy {}", names.size(), usable_.size(), strategy->name));
    engine_.use_client(*client);
    const auto pass_started = engine_.started();
    auto ran = run_pass(names, options_.retries, {}, [&](const ScanResult& result) {
      // Every host was usable when the domain was confirmed: one that is not under this strategy was broken by it.
      auto& outcome = by_name.at(result.sni)->strategies[strategy->name];
      ++outcome.verdicts[std::string(scan_verdict_name(result.verdict))];
      if (!usable_verdict(result.verdict)) {
        ++outcome.hosts_failed;
        return;
      }
      ++outcome.hosts_tested;
      if (result.verdict == ScanVerdict::kIntercepted) ++outcome.hosts_intercepted;
    });
    engine_.use_client(client_);
    if (!ran) return std::unexpected(ran.error());
    report_.strategy_handshakes += engine_.started() - pass_started;
  }
  return {};
}

}  // namespace

Result<DiscoverReport> discover(const std::filesystem::path& hosts_file, const TargetOptions& targets,
                                const std::vector<std::string>& domains, const AssessmentContext& context,
                                const TlsClientContext& client, const DiscoverOptions& options,
                                const DiscoverProgress& progress) {
  return Discovery(hosts_file, targets, domains, context, client, options, progress).run();
}

}  // namespace mitmscope
