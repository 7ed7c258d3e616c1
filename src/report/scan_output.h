// Scan output: one JSON object per (host, domain), and the summary of a scan
// (hosts, eligible, intercepted hosts and share, per domain, per tag such as the AS).
#pragma once

#include <map>
#include <set>
#include <vector>
#include <string>

#include <nlohmann/json.hpp>

#include "analyze/asn_map.h"
#include "detect/scan.h"
#include "report/json_output.h"
#include "store/result_facts.h"

namespace mitmscope {

nlohmann::ordered_json scan_result_json(const ScanResult& result, const TrustStore& store, const JsonOptions& options);

class ScanSummary {
 public:
  // Per result: verdicts, interceptors, intercepted hosts per domain (bounded by the intercepted ones).
  void add(const ScanResult& result);
  // Per host, once its results are out: the per-tag and per-AS counts. `asn`: the host's AS from
  // the prefix table, when one was given (--pfx2as).
  void add_host(const HostOutcome& outcome, const AsnInfo* asn = nullptr);
  nlohmann::ordered_json json(const ScanCounters& counters) const;
  // What the store keeps of it: the counts, per AS, tag and domain.
  ScanTally tally(const ScanCounters& counters) const;
  std::string text(const ScanCounters& counters) const;

 private:
  struct Group {
    size_t hosts = 0, eligible = 0, intercepted = 0;
  };
  std::set<std::string> intercepted_hosts_;
  std::map<std::string, std::set<std::string>> intercepted_per_domain_;
  std::map<std::string, Group> per_tag_;
  std::map<uint32_t, Group> per_as_;
  std::map<uint32_t, std::string> as_names_;
  bool have_asn_table_ = false;
  std::map<std::string, size_t> interceptors_;
  // Devices answering for whole hosts, by their evidence: how many hosts, and a few of them.
  struct Device {
    size_t hosts = 0;
    std::vector<std::string> examples;
  };
  std::map<std::string, Device> devices_;
};

}  // namespace mitmscope
