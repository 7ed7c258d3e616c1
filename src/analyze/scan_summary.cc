#include "analyze/scan_summary.h"

#include <fmt/format.h>

namespace mitmscope {

namespace {
constexpr size_t kDeviceExamples = 5;
constexpr std::string_view kUnknownInterceptor = "(unknown: untrusted changed chain)";
}  // namespace

std::vector<const TallyGroup*> ScanOverview::groups(TallyKind kind) const {
  std::vector<const TallyGroup*> out;
  for (const auto& group : tally.groups) {
    if (group.kind == kind) out.push_back(&group);
  }
  return out;
}

void ScanSummary::add_host(const HostOutcome& outcome, const AsnInfo* asn) {
  if (!outcome.device_evidence.empty()) {
    auto& device = devices_[outcome.device_evidence];
    device.evidence = outcome.device_evidence;
    ++device.hosts;
    if (device.examples.size() < kDeviceExamples) device.examples.push_back(outcome.host->endpoint.to_string());
  }
  auto count = [&](Group& group) {
    ++group.hosts;
    group.eligible += outcome.eligible;
    group.intercepted += outcome.intercepted;
  };
  count(per_tag_[outcome.host->tags.empty() ? "(untagged)" : outcome.host->tags.front()]);
  if (asn) {
    have_asn_table_ = true;
    count(per_as_[asn->asn]);
    if (!asn->name.empty()) as_names_[asn->asn] = asn->name;
  }
}

void ScanSummary::add(const ScanResult& result) {
  if (result.verdict != ScanVerdict::kIntercepted) return;
  const std::string host = result.host->endpoint.to_string();
  intercepted_hosts_.insert(host);
  intercepted_per_domain_[result.sni].insert(host);
  const auto& assessment = result.assessment;
  ++interceptors_[assessment && assessment->verdict.known_interceptor ? assessment->verdict.known_interceptor->name
                                                                      : std::string(kUnknownInterceptor)];
}

ScanOverview ScanSummary::overview(const ScanCounters& counters) const {
  ScanOverview out{counters, {ScanSource::kScan, counters.hosts, counters.eligible, counters.results,
                              intercepted_hosts_.size(), {}},
                   have_asn_table_, interceptors_, {}};
  auto& groups = out.tally.groups;
  for (const auto& [asn, group] : per_as_) {
    groups.push_back({TallyKind::kAs, fmt::format("AS{}", asn), as_names_.contains(asn) ? as_names_.at(asn) : "",
                      group.hosts, group.eligible, group.intercepted});
  }
  for (const auto& [tag, group] : per_tag_) {
    groups.push_back({TallyKind::kTag, tag, "", group.hosts, group.eligible, group.intercepted});
  }
  for (const auto& [domain, hosts] : intercepted_per_domain_) {
    groups.push_back({TallyKind::kDomain, domain, "", 0, 0, hosts.size()});
  }
  for (const auto& [evidence, device] : devices_) out.devices.push_back(device);
  return out;
}

}  // namespace mitmscope
