#include "detect/scan.h"

#include <fmt/format.h>

namespace mitmscope {
namespace {

enum Kind : int { kControl = 0, kTest = 1, kRecheck = 2, kLateRecheck = 3 };

uint64_t make_token(uint32_t job, int kind, size_t domain) {
  return uint64_t(job) << 32 | uint64_t(kind) << 24 | (domain & 0xffffff);
}

}  // namespace

std::string_view scan_verdict_name(ScanVerdict verdict) {
  switch (verdict) {
    case ScanVerdict::kIntercepted: return "intercepted";
    case ScanVerdict::kMismatch: return "mismatch";
    case ScanVerdict::kClean: return "clean";
    case ScanVerdict::kError: return "error";
    case ScanVerdict::kControlFailed: return "control_failed";
    case ScanVerdict::kStateful: return "stateful";
    case ScanVerdict::kIneligible: return "ineligible";
  }
  return "unknown";
}

struct ScanRunner::HostJob {
  uint32_t id = 0;
  HostTarget target;
  std::vector<Observation> controls;
  int controls_pending = 0;
  std::optional<HostTemplate> host_template;
  struct Domain {
    int attempts = 0;
    std::optional<Observation> last;
    bool done = false;
  };
  std::vector<Domain> domains;
  size_t remaining = 0;
  bool eligible = false;
  bool intercepted = false;
};

ScanRunner::ScanRunner(HostList& hosts, const std::vector<std::string>& domains, const AssessmentContext& context,
                       ScanOptions options, Sink sink)
    : hosts_(hosts), domains_(domains), context_(context), options_(options), sink_(std::move(sink)),
      name_state_(options.seed * 0x2545f4914f6cdd1dull) {}

ScanRunner::~ScanRunner() = default;

void ScanRunner::submit(Engine& engine, HostJob& job, int kind, size_t domain, std::string sni,
                        std::chrono::steady_clock::time_point not_before) {
  engine.submit({job.target.endpoint, std::move(sni), make_token(job.id, kind, domain), not_before});
}

Engine::FeedResult ScanRunner::feed(Engine& engine) {
  if (jobs_.size() >= options_.max_active_hosts) return Engine::FeedResult::kLater;
  auto target = hosts_.next();
  while (target && options_.skip_host && options_.skip_host(*target)) target = hosts_.next();
  if (!target) return Engine::FeedResult::kExhausted;
  auto job = std::make_unique<HostJob>();
  job->id = next_job_id_++;
  job->target = std::move(*target);
  job->domains.resize(domains_.size());
  job->remaining = domains_.size();
  if (options_.select_domain) {
    for (size_t d = 0; d < domains_.size(); ++d) {
      if (!options_.select_domain(job->id, d)) {
        job->domains[d].done = true;
        --job->remaining;
      }
    }
  }
  job->controls_pending = options_.controls;
  ++counters_.hosts;
  auto& stored = *jobs_.emplace(job->id, std::move(job)).first->second;
  for (int i = 0; i < options_.controls; ++i) submit(engine, stored, kControl, 0, random_control_name(name_state_));
  return Engine::FeedResult::kSubmitted;
}

void ScanRunner::emit(HostJob& job, size_t domain, ScanResult result) {
  job.domains[domain].done = true;
  --job.remaining;
  result.host = &job.target;
  result.sni = domains_[domain];
  result.attempts = job.domains[domain].attempts;
  if (job.host_template) {
    result.template_id = job.host_template->id();
    result.template_leaf_sha256 = job.host_template->answers().front().leaf_sha256;
  }
  if (result.observation && !result.assessment) result.assessment = assess_observation(*result.observation, context_);
  job.intercepted = job.intercepted || result.verdict == ScanVerdict::kIntercepted;
  ++counters_.results;
  ++counters_.verdicts[std::string(scan_verdict_name(result.verdict))];
  sink_(result);
}

void ScanRunner::emit_all(HostJob& job, ScanVerdict verdict, const std::string& reason, const Observation* evidence) {
  for (size_t d = 0; d < domains_.size(); ++d) {
    if (job.domains[d].done) continue;
    ScanResult result;
    result.verdict = verdict;
    result.reasons = {reason};
    if (evidence) result.observation = *evidence;  // what the host answered: its error, timings, certificates
    emit(job, d, std::move(result));
  }
}

void ScanRunner::templates_ready(Engine& engine, HostJob& job) {
  job.host_template = HostTemplate::build(job.controls);
  if (!job.host_template) {
    ++counters_.control_failed_hosts;
    std::string why = "every control handshake failed";
    if (!job.controls.empty() && job.controls.front().error) why += ": " + job.controls.front().error->message;
    emit_all(job, ScanVerdict::kControlFailed, why, job.controls.empty() ? nullptr : &job.controls.front());
    return;
  }
  // Eligible only when the host's own answer is browser-trusted (for its own name, whatever it is).
  Chain genuine;
  for (const auto& der : job.host_template->genuine_chain()) {
    if (auto certificate = Certificate::from_der_cached(der)) genuine.push_back(*certificate);
  }
  const auto validation = context_.trust_store.validate(genuine, {.at = context_.at});
  if (!validation.browser_trusted) {
    ++counters_.ineligible;
    emit_all(job, ScanVerdict::kIneligible,
             fmt::format("the host's own certificate is not browser-trusted ({})", validation.browser_error),
             job.controls.empty() ? nullptr : &job.controls.front());
    return;
  }
  ++counters_.eligible;
  job.eligible = true;
  for (size_t d = 0; d < domains_.size(); ++d) {
    if (job.domains[d].done) continue;
    job.domains[d].attempts = 1;
    submit(engine, job, kTest, d, domains_[d]);
  }
}

ScanResult ScanRunner::classify(HostJob& job, size_t domain) {
  ScanResult result;
  const Observation& observation = *job.domains[domain].last;
  result.reasons = job.host_template->differences(observation);
  result.reasons.push_back(fmt::format("all {} tries differ from the template; a control re-test right after matched",
                                       job.domains[domain].attempts));
  result.observation = observation;
  if (observation.error || observation.chain_der.empty()) {
    result.verdict = ScanVerdict::kError;
    return result;
  }
  auto assessment = assess_observation(observation, context_);
  // Trusted as a chain, whatever the name: a changed but valid chain is CDN-style variation.
  const auto chain_validation = context_.trust_store.validate(assessment.chain, {.at = context_.at.value_or(observation.time)});
  if (assessment.verdict.kind == VerdictKind::kIntercepted) {
    result.verdict = ScanVerdict::kIntercepted;
    result.reasons.insert(result.reasons.end(), assessment.verdict.reasons.begin(), assessment.verdict.reasons.end());
  } else if (!chain_validation.browser_trusted) {
    result.verdict = ScanVerdict::kIntercepted;
    result.reasons.push_back(fmt::format("the changed chain is not browser-trusted ({}); no known interceptor",
                                         chain_validation.browser_error));
  } else {
    result.verdict = ScanVerdict::kMismatch;
    result.reasons.push_back("the changed chain is browser-trusted: variation (CDN, load balancer), not interception");
  }
  if (result.verdict == ScanVerdict::kIntercepted && !assessment.chain.empty()) {
    if (auto genuine = Certificate::from_der_cached(job.host_template->genuine_chain().front())) {
      result.forging = analyze_forging(assessment.chain.front(), *genuine);
    }
  }
  result.assessment = std::move(assessment);
  return result;
}

void ScanRunner::complete(Engine& engine, uint64_t token, Observation observation) {
  const uint32_t id = static_cast<uint32_t>(token >> 32);
  const int kind = static_cast<int>((token >> 24) & 0xff);
  const size_t domain = token & 0xffffff;
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  HostJob& job = *it->second;
  observation.source = "scan";
  switch (kind) {
    case kControl:
      job.controls.push_back(std::move(observation));
      if (--job.controls_pending == 0) templates_ready(engine, job);
      break;
    case kTest: {
      auto& state = job.domains[domain];
      if (job.host_template->matches(observation)) {
        ScanResult result;
        result.verdict = ScanVerdict::kClean;
        result.reasons = {"matches the template"};
        result.observation = std::move(observation);
        emit(job, domain, std::move(result));
      } else {
        // The answer the verdict will be about: the latest one that presented a certificate, so one
        // timed-out try among forged answers does not hide them.
        if (!observation.chain_der.empty() || !state.last || state.last->chain_der.empty()) state.last = std::move(observation);
        if (state.attempts < options_.retries) {
          ++state.attempts;
          submit(engine, job, kTest, domain, domains_[domain]);
        } else {
          submit(engine, job, kRecheck, domain, random_control_name(name_state_));
        }
      }
      break;
    }
    case kRecheck:
      if (job.host_template->matches(observation)) {
        emit(job, domain, classify(job, domain));
      } else {
        submit(engine, job, kLateRecheck, domain, random_control_name(name_state_),
               std::chrono::steady_clock::now() + options_.stateful_delay);
      }
      break;
    case kLateRecheck: {
      ScanResult result;
      result.observation = job.domains[domain].last;
      if (job.host_template->matches(observation)) {
        result.verdict = ScanVerdict::kStateful;
        result.reasons = {fmt::format("a control failed right after the test but passed {} ms later: stateful blocking",
                                      options_.stateful_delay.count())};
      } else {
        result.verdict = ScanVerdict::kControlFailed;
        result.reasons = {"controls fail after the test too: the vantage point or the host is broken"};
      }
      emit(job, domain, std::move(result));
      break;
    }
  }
  if (job.remaining == 0 && job.controls_pending <= 0) {
    if (options_.host_done) options_.host_done({&job.target, job.eligible, job.intercepted});
    jobs_.erase(it);
  }
}

void ScanRunner::run(Engine& engine) {
  engine.run([&] { return feed(engine); },
             [&](uint64_t token, Observation observation) { complete(engine, token, std::move(observation)); });
}

}  // namespace mitmscope
