// Visits aggregated per client network (AS from --pfx2as / MaxMind, "unknown" without),
// the figure a content provider acts on: "3.0% of visitors from AS9198 arrive through an
// interceptor". A visitor is a client address; it counts as intercepted when any of its
// visits was flagged. Visits and visitors are both kept: one intercepted office NAT is one
// visitor and thousands of visits.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sentinel/visit.h"

namespace mitmscope {

struct NetworkCounts {
  std::string network;         // "AS9198" or "unknown"
  std::string name;
  size_t visits = 0;
  size_t flagged_visits = 0;
  std::map<std::string, size_t> verdicts;        // verdict name -> visits
  std::map<std::string, size_t> interceptors;    // registry id -> visits
  std::set<std::string> visitors;
  std::set<std::string> flagged_visitors;
};

class NetworkSummary {
 public:
  void add(const Visit& visit, const VisitJudgement& judgement);
  // Largest networks first (by visitors, then visits).
  std::vector<const NetworkCounts*> networks() const;
  size_t visits() const { return visits_; }
  size_t flagged_visits() const { return flagged_visits_; }
  // One plain sentence per network.
  std::vector<std::string> sentences() const;
  nlohmann::ordered_json json() const;

 private:
  std::map<std::string, NetworkCounts> networks_;
  size_t visits_ = 0;
  size_t flagged_visits_ = 0;
};

}  // namespace mitmscope
