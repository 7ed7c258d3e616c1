// The summary of a scan as values (the study's Tables 1 and 2 for one scan): how many hosts were eligible and
// intercepted, per AS (from the prefix table), per tag and per domain, which interceptors, which devices answered
// for whole hosts. `ScanSummary` counts while the results come; `overview` gives the typed summary that the store
// keeps (its tally) and that report/scan_output renders as JSON and text.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "analyze/asn_map.h"
#include "detect/scan.h"
#include "store/result_facts.h"

namespace mitmscope {

// A device answering for whole hosts, by its evidence: how many hosts, and a few of them.
struct DeviceSighting {
  std::string evidence;
  size_t hosts = 0;
  std::vector<std::string> examples;
};

struct ScanOverview {
  ScanCounters counters;
  ScanTally tally;                               // per AS (with its name), per tag, per domain
  bool per_as = false;                           // a prefix table was given: the AS groups are meant
  std::map<std::string, size_t> interceptors;    // registry name, or "(unknown: ...)" -> intercepted results
  std::vector<DeviceSighting> devices;
  // The tally's groups of one kind, in the order counted (AS number, tag, domain).
  std::vector<const TallyGroup*> groups(TallyKind kind) const;
};

class ScanSummary {
 public:
  // Per result: interceptors, intercepted hosts per domain (bounded by the intercepted ones).
  void add(const ScanResult& result);
  // Per host, once its results are out: the per-tag and per-AS counts. `asn`: the host's AS from the prefix
  // table, when one was given (--pfx2as).
  void add_host(const HostOutcome& outcome, const AsnInfo* asn = nullptr);
  ScanOverview overview(const ScanCounters& counters) const;

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
  std::map<std::string, DeviceSighting> devices_;
};

}  // namespace mitmscope
