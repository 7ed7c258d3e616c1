// The scan: hosts x domains, each host probed with control SNIs to build its template,
// each test domain tried up to `retries` times until one answer matches, and an anomaly
// confirmed by re-testing a control (the Hyperquack method of the Kazakhstan study).
//
// Real devices do not always answer control names cleanly. When every control fails (squid
// answers a name that does not resolve to the address with an HTTP error), the template is
// built from the test names' own answers: the chain most of them got that is browser-trusted
// (the host's genuine one), and re-tests use those names instead of random ones. When the
// controls themselves get a known interceptor's chain (a device that forges every name), each
// name is judged by its own chain. Every result says where its template came from.
//
// One HostJob per host in progress; jobs hand probe requests to the Engine and turn
// its observations into one ScanResult per (host, domain). Hosts stream from the
// HostList; at most `max_active_hosts` jobs exist at once, so memory does not grow
// with the list.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "detect/chain_verdict.h"
#include "detect/host_template.h"
#include "detect/scan_result.h"
#include "engine/engine.h"
#include "engine/targets.h"
#include "x509/forging.h"
#include "x509/forging_family.h"

namespace mitmscope {

// One per host when all its results are out: what per-host summaries need, so they do not
// have to remember every host (a million-host scan would hold a million names).
struct HostOutcome {
  const HostTarget* host = nullptr;
  bool eligible = false;      // its template was built and its own certificate is trusted
  bool intercepted = false;   // at least one domain was intercepted
  // What a device answering for the whole host showed ("every name, controls included, is answered
  // with HTTP/1.1 409 Conflict (Server: squid/5.7)"); empty when the host answered normally.
  std::string device_evidence;
};

struct ScanOptions {
  int controls = 2;
  int retries = 5;
  std::chrono::milliseconds stateful_delay{120000};
  size_t max_active_hosts = 1000;
  uint64_t seed = 1;
  // Hosts for which this returns true are not probed (a resumed scan already holds all their results).
  std::function<bool(const HostTarget&)> skip_host;
  // When set, a host tests only the domains this accepts; `host_ordinal` counts the hosts
  // probed so far (0, 1, ...), so a list can be spread over hosts (discover's screening).
  std::function<bool(uint32_t host_ordinal, size_t domain)> select_domain;
  std::function<void(const HostOutcome&)> host_done;
};

struct ScanCounters {
  size_t hosts = 0, eligible = 0, ineligible = 0, control_failed_hosts = 0;
  size_t templates_from_test_names = 0;   // hosts whose controls failed but whose test names built a template
  size_t devices_forging_every_name = 0;  // hosts whose controls got a known interceptor's chain
  size_t results = 0;
  std::map<std::string, size_t> verdicts;
};

class ScanRunner {
 public:
  using Sink = std::function<void(const ScanResult&)>;
  ScanRunner(HostList& hosts, const std::vector<std::string>& domains, const AssessmentContext& context,
             ScanOptions options, Sink sink);
  ~ScanRunner();
  void run(Engine& engine);
  const ScanCounters& counters() const { return counters_; }

 private:
  struct HostJob;
  Engine::FeedResult feed(Engine& engine);
  void complete(Engine& engine, uint64_t token, Observation observation);
  void submit(Engine& engine, HostJob& job, int kind, size_t domain, std::string sni,
              std::chrono::steady_clock::time_point not_before = {});
  void templates_ready(Engine& engine, HostJob& job);
  void submit_tests(Engine& engine, HostJob& job);
  // Controls failed: every test name's first answer is in; the template comes from them.
  void test_answers_ready(Engine& engine, HostJob& job);
  void no_template(HostJob& job);
  void test_answer(Engine& engine, HostJob& job, size_t domain, Observation observation);
  std::string recheck_name(HostJob& job);
  // `evidence`: the answer that decided (a failed control, the ineligible host's own chain), shown with every row.
  void emit_all(HostJob& job, ScanVerdict verdict, const std::string& reason, const Observation* evidence);
  void emit(HostJob& job, size_t domain, ScanResult result);
  void describe_forgery(const HostJob& job, ScanResult& result) const;
  ScanResult classify(HostJob& job, size_t domain);

  HostList& hosts_;
  const std::vector<std::string>& domains_;
  AssessmentContext context_;
  ScanOptions options_;
  Sink sink_;
  uint64_t name_state_;
  uint32_t next_job_id_ = 0;
  std::map<uint32_t, std::unique_ptr<HostJob>> jobs_;
  ScanCounters counters_;
};

}  // namespace mitmscope
