#include "detect/scan.h"

#include <set>

#include <fmt/format.h>

#include "detect/anomaly.h"
#include "engine/request_token.h"

namespace mitmscope {
namespace {

enum Kind : int { kControl = 0, kTest = 1, kRecheck = 2, kLateRecheck = 3 };

// (host job, kind of probe, domain index): job ids only need to differ among the jobs alive at once.
using ProbeToken = TokenLayout<32, 2, 30>;

uint64_t make_token(uint32_t job, int kind, size_t domain) {
  return ProbeToken::pack({job, static_cast<uint64_t>(kind), domain}).value();   // ScanRunner bounds the domains
}

}  // namespace

std::string_view template_source_name(TemplateSource source) {
  switch (source) {
    case TemplateSource::kControls: return "controls";
    case TemplateSource::kTestNames: return "test_names";
    case TemplateSource::kNone: return "none";
  }
  return "unknown";
}

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

Outcome scan_outcome(ScanVerdict verdict) {
  switch (verdict) {
    case ScanVerdict::kIntercepted: return Outcome::kIntercepted;
    case ScanVerdict::kMismatch: return Outcome::kSuspicious;
    case ScanVerdict::kClean: return Outcome::kNotIntercepted;
    case ScanVerdict::kError: return Outcome::kError;
    case ScanVerdict::kControlFailed:
    case ScanVerdict::kStateful:
    case ScanVerdict::kIneligible: return Outcome::kInconclusive;
  }
  return Outcome::kError;
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
  TemplateSource template_source = TemplateSource::kNone;
  std::vector<std::string> template_names;
  bool forges_every_name = false;   // the controls got a known interceptor's chain
  size_t first_answers_pending = 0; // controls failed: test answers awaited before the template
  size_t next_recheck = 0;
  std::string device_evidence;
};

namespace {

// When every answer of the host (controls and tests) is the same non-TLS answer or error: the evidence.
std::string same_answer_everywhere(const std::vector<Observation>& controls,
                                   const std::vector<const Observation*>& tests) {
  std::set<std::string> seen;
  for (const auto& control : controls) seen.insert(describe_answer(control));
  for (const auto* test : tests) seen.insert(describe_answer(*test));
  if (seen.size() != 1 || controls.empty()) return {};
  return fmt::format("every name, controls included, is answered with {}: a device answers for this host", *seen.begin());
}

}  // namespace

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
  result.template_source = job.template_source;
  result.template_names = job.template_names;
  if (result.observation && !result.assessment) result.assessment = assess_observation(*result.observation, context_);
  if (result.verdict == ScanVerdict::kIntercepted) describe_forgery(job, result);
  job.intercepted = job.intercepted || result.verdict == ScanVerdict::kIntercepted;
  ++counters_.results;
  ++counters_.verdicts[std::string(scan_verdict_name(result.verdict))];
  sink_(result);
}

// The forged certificate's traits against the host's genuine one (when the template has it) and its issuer
// (sent, or the registry certificate that signed a lone leaf), and the product families they fit.
void ScanRunner::describe_forgery(const HostJob& job, ScanResult& result) const {
  if (!result.assessment || result.assessment->chain.empty()) return;
  std::optional<Certificate> genuine;
  if (job.host_template && !job.forges_every_name) {
    if (auto parsed = Certificate::from_der_cached(job.host_template->genuine_chain().front())) genuine = std::move(*parsed);
  }
  const auto& entry = result.assessment->attribution.entry;
  const Certificate* issuer = result.assessment->chain.size() > 1 ? &result.assessment->chain[1]
                              : entry && entry->certificate ? &*entry->certificate
                                                            : nullptr;
  result.traits = forgery_traits(result.assessment->chain, result.sni, genuine ? &*genuine : nullptr, issuer);
  result.families = matching_families(*result.traits, builtin_forging_families());
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

void ScanRunner::submit_tests(Engine& engine, HostJob& job) {
  for (size_t d = 0; d < domains_.size(); ++d) {
    if (job.domains[d].done) continue;
    job.domains[d].attempts = 1;
    submit(engine, job, kTest, d, domains_[d]);
  }
}

void ScanRunner::templates_ready(Engine& engine, HostJob& job) {
  job.host_template = HostTemplate::build(job.controls);
  if (!job.host_template) {
    // Every control failed: the test names' own answers will show the host's genuine chain.
    job.first_answers_pending = job.remaining;
    if (job.first_answers_pending == 0) return no_template(job);
    return submit_tests(engine, job);
  }
  job.template_source = TemplateSource::kControls;
  // Eligible only when the host's own answer is browser-trusted (for its own name, whatever it is).
  std::string why;
  if (!chain_trusted(job.host_template->genuine_chain(), context_, &why)) {
    const auto control = std::find_if(job.controls.begin(), job.controls.end(),
                                      [&](const Observation& o) { return o.chain_der == job.host_template->genuine_chain(); });
    const auto assessment = assess_observation(*control, context_);
    if (assessment.verdict.known_interceptor) {
      ++counters_.devices_forging_every_name;
      ++counters_.eligible;
      job.eligible = job.forges_every_name = true;
      job.device_evidence = fmt::format("every name, controls included, is answered with a chain of a known "
                                        "interceptor ({}): a device forges every name for this host",
                                        assessment.verdict.known_interceptor->name);
      return submit_tests(engine, job);
    }
    ++counters_.ineligible;
    emit_all(job, ScanVerdict::kIneligible, fmt::format("the host's own certificate is not browser-trusted ({})", why),
             &*control);
    return;
  }
  ++counters_.eligible;
  job.eligible = true;
  submit_tests(engine, job);
}

void ScanRunner::test_answers_ready(Engine& engine, HostJob& job) {
  // The chain most names got that is browser-trusted (whatever the name) is the host's genuine one.
  std::map<std::string, std::vector<size_t>> by_leaf;
  for (size_t d = 0; d < domains_.size(); ++d) {
    const auto& last = job.domains[d].last;
    if (job.domains[d].done || !last || last->error || last->chain_der.empty()) continue;
    if (const auto shape = answer_shape(*last); shape && chain_trusted(last->chain_der, context_)) {
      by_leaf[shape->leaf_sha256].push_back(d);
    }
  }
  const std::vector<size_t>* majority = nullptr;
  for (const auto& [leaf, names] : by_leaf) {
    if (!majority || names.size() > majority->size()) majority = &names;
  }
  if (!majority) return no_template(job);
  std::vector<Observation> answers;
  for (size_t d : *majority) {
    answers.push_back(*job.domains[d].last);
    job.template_names.push_back(domains_[d]);
  }
  job.host_template = HostTemplate::build(answers);
  job.template_source = TemplateSource::kTestNames;
  job.eligible = true;
  ++counters_.eligible;
  ++counters_.templates_from_test_names;
  for (size_t d = 0; d < domains_.size(); ++d) {
    if (job.domains[d].done) continue;
    Observation first = std::move(*job.domains[d].last);
    job.domains[d].last.reset();
    test_answer(engine, job, d, std::move(first));
  }
}

void ScanRunner::no_template(HostJob& job) {
  ++counters_.control_failed_hosts;
  std::string why = "every control handshake failed";
  if (!job.controls.empty()) why += ": " + describe_answer(job.controls.front());
  std::vector<const Observation*> tests;
  for (const auto& domain : job.domains) {
    if (!domain.done && domain.last) tests.push_back(&*domain.last);
  }
  job.device_evidence = same_answer_everywhere(job.controls, tests);
  for (size_t d = 0; d < domains_.size(); ++d) {
    if (job.domains[d].done) continue;
    ScanResult result;
    const auto& last = job.domains[d].last;
    const Observation* answer = last ? &*last : job.controls.empty() ? nullptr : &job.controls.front();
    if (answer) result.observation = *answer;
    if (answer) result.assessment = assess_observation(*answer, context_);
    if (result.assessment && result.assessment->verdict.known_interceptor) {
      result.verdict = ScanVerdict::kIntercepted;
      result.reasons = {why + "; no name got a browser-trusted chain, so there is no template, but this chain is a "
                              "known interceptor's"};
      result.reasons.insert(result.reasons.end(), result.assessment->verdict.reasons.begin(),
                            result.assessment->verdict.reasons.end());
    } else {
      result.verdict = ScanVerdict::kControlFailed;
      result.reasons = {why};
      if (last) result.reasons.push_back("this name: " + describe_answer(*last));
      if (!job.device_evidence.empty()) result.reasons.push_back(job.device_evidence);
    }
    emit(job, d, std::move(result));
  }
}

std::string ScanRunner::recheck_name(HostJob& job) {
  if (job.template_source != TemplateSource::kTestNames) return random_control_name(name_state_);
  return job.template_names[job.next_recheck++ % job.template_names.size()];
}

void ScanRunner::test_answer(Engine& engine, HostJob& job, size_t domain, Observation observation) {
  auto& state = job.domains[domain];
  if (!job.host_template) {  // controls failed: collecting the first answers
    state.last = std::move(observation);
    if (--job.first_answers_pending == 0) test_answers_ready(engine, job);
    return;
  }
  if (job.host_template->matches(observation) && !job.forges_every_name) {
    ScanResult result;
    result.verdict = ScanVerdict::kClean;
    result.reasons = {"matches the template"};
    result.observation = std::move(observation);
    return emit(job, domain, std::move(result));
  }
  if (job.forges_every_name) return emit(job, domain, judge_alone(std::move(observation), job.device_evidence, context_));
  // The answer the verdict will be about: the latest one that presented a certificate, so one
  // timed-out try among forged answers does not hide them.
  if (!observation.chain_der.empty() || !state.last || state.last->chain_der.empty()) state.last = std::move(observation);
  if (state.attempts < options_.retries) {
    ++state.attempts;
    submit(engine, job, kTest, domain, domains_[domain]);
  } else {
    submit(engine, job, kRecheck, domain, recheck_name(job));
  }
}

ScanResult ScanRunner::classify(HostJob& job, size_t domain) {
  const auto& state = job.domains[domain];
  return judge_anomaly(*state.last, *job.host_template, state.attempts, job.template_source, context_);
}

void ScanRunner::complete(Engine& engine, uint64_t token, Observation observation) {
  const auto fields = ProbeToken::unpack(token);
  const auto id = static_cast<uint32_t>(fields[0]);
  const auto kind = static_cast<int>(fields[1]);
  const size_t domain = fields[2];
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  HostJob& job = *it->second;
  observation.source = "scan";
  switch (kind) {
    case kControl:
      job.controls.push_back(std::move(observation));
      if (--job.controls_pending == 0) templates_ready(engine, job);
      break;
    case kTest:
      test_answer(engine, job, domain, std::move(observation));
      break;
    case kRecheck:
      if (job.host_template->matches(observation)) {
        emit(job, domain, classify(job, domain));
      } else {
        submit(engine, job, kLateRecheck, domain, recheck_name(job),
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
    if (options_.host_done) options_.host_done({&job.target, job.eligible, job.intercepted, job.device_evidence});
    jobs_.erase(it);
  }
}

void ScanRunner::run(Engine& engine) {
  engine.run([&] { return feed(engine); },
             [&](uint64_t token, Observation observation) { complete(engine, token, std::move(observation)); });
}

}  // namespace mitmscope
