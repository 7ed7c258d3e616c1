#include "sentinel/network_summary.h"

#include <algorithm>

#include <fmt/format.h>

namespace mitmscope {
namespace {

double percent(size_t part, size_t whole) { return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole); }

}  // namespace

void NetworkSummary::add(const Visit& visit, const VisitJudgement& judgement) {
  const std::string key = judgement.network.empty() ? "unknown" : judgement.network;
  NetworkCounts& counts = networks_[key];
  counts.network = key;
  if (counts.name.empty()) counts.name = judgement.network_name;
  ++counts.visits;
  ++visits_;
  ++counts.verdicts[std::string(visit_verdict_name(judgement.verdict))];
  counts.visitors.insert(visit.client_ip);
  if (judgement.interceptor) ++counts.interceptors[judgement.interceptor->entry->id];
  if (flagged(judgement.verdict)) {
    ++counts.flagged_visits;
    ++flagged_visits_;
    counts.flagged_visitors.insert(visit.client_ip);
  }
}

std::vector<const NetworkCounts*> NetworkSummary::networks() const {
  std::vector<const NetworkCounts*> out;
  for (const auto& [key, counts] : networks_) out.push_back(&counts);
  std::ranges::stable_sort(out, [](const NetworkCounts* a, const NetworkCounts* b) {
    if (a->visitors.size() != b->visitors.size()) return a->visitors.size() > b->visitors.size();
    return a->visits > b->visits;
  });
  return out;
}

std::vector<std::string> NetworkSummary::sentences() const {
  std::vector<std::string> out;
  for (const NetworkCounts* counts : networks()) {
    const std::string who = counts->network == "unknown" ? std::string("an unknown network")
                            : counts->name.empty()     ? counts->network
                                                       : fmt::format("{} ({})", counts->network, counts->name);
    std::string detail;
    for (const auto& [verdict, visits] : counts->verdicts) {
      if (verdict == "consistent" || verdict == "unjudged") continue;
      detail += fmt::format("{}{} {}", detail.empty() ? "" : ", ", visits, verdict);
    }
    out.push_back(fmt::format("{:.1f}% of visitors from {} arrive through an interceptor ({} of {} visitors; {} of {} visits flagged{}{})",
                              percent(counts->flagged_visitors.size(), counts->visitors.size()), who,
                              counts->flagged_visitors.size(), counts->visitors.size(), counts->flagged_visits, counts->visits,
                              detail.empty() ? "" : ": ", detail));
  }
  return out;
}

nlohmann::ordered_json NetworkSummary::json() const {
  nlohmann::ordered_json networks = nlohmann::ordered_json::array();
  for (const NetworkCounts* counts : this->networks()) {
    networks.push_back({{"network", counts->network},
                        {"name", counts->name},
                        {"visitors", counts->visitors.size()},
                        {"flagged_visitors", counts->flagged_visitors.size()},
                        {"flagged_visitor_percent", percent(counts->flagged_visitors.size(), counts->visitors.size())},
                        {"visits", counts->visits},
                        {"flagged_visits", counts->flagged_visits},
                        {"verdicts", counts->verdicts},
                        {"interceptors", counts->interceptors}});
  }
  return {{"visits", visits_}, {"flagged_visits", flagged_visits_}, {"networks", networks}, {"sentences", sentences()}};
}

}  // namespace mitmscope
