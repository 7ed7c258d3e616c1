#include "report/scan_output.h"

#include <algorithm>

#include <fmt/format.h>

namespace mitmscope {

nlohmann::ordered_json scan_result_json(const ScanResult& result, const TrustStore& store, const JsonOptions& options) {
  nlohmann::ordered_json out;
  if (result.observation && result.assessment) out = probe_json(*result.observation, *result.assessment, store, options);
  out["ip"] = result.host->endpoint.ip;
  out["port"] = result.host->endpoint.port;
  out["sni"] = result.sni;
  out["tags"] = result.host->tags;
  out["verdict"] = scan_verdict_name(result.verdict);
  out["outcome"] = outcome_name(scan_outcome(result.verdict));
  out["reasons"] = result.reasons;
  out["attempts"] = result.attempts;
  out["template"] = result.template_id.empty()
                        ? nlohmann::ordered_json(nullptr)
                        : nlohmann::ordered_json{{"id", result.template_id}, {"leaf_sha256", result.template_leaf_sha256}};
  out["template_source"] = template_source_name(result.template_source);
  out["template_names"] = result.template_names;
  if (result.traits) {
    auto families = nlohmann::ordered_json::array();
    for (const auto& match : result.families) {
      families.push_back({{"id", match.family->id}, {"name", match.family->name}, {"agreed", match.agreed}});
    }
    out["forgery"] = {{"issuer_key", result.traits->issuer_key ? nlohmann::ordered_json(*result.traits->issuer_key)
                                                               : nlohmann::ordered_json(nullptr)},
                      {"naming", leaf_naming_name(result.traits->naming)},
                      {"validity", leaf_validity_name(result.traits->validity)},
                      {"chain_length", result.traits->chain_length},
                      {"resembles", families}};
  } else {
    out["forgery"] = nullptr;
  }
  out["forging"] = result.forging ? forging_json(*result.forging) : nlohmann::ordered_json(nullptr);
  return out;
}

namespace {
constexpr size_t kDeviceExamples = 5;
}  // namespace

void ScanSummary::add_host(const HostOutcome& outcome, const AsnInfo* asn) {
  if (!outcome.device_evidence.empty()) {
    auto& device = devices_[outcome.device_evidence];
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
  if (result.verdict == ScanVerdict::kIntercepted) {
    const std::string host = result.host->endpoint.to_string();
    intercepted_hosts_.insert(host);
    intercepted_per_domain_[result.sni].insert(host);
    if (result.assessment && result.assessment->verdict.known_interceptor) {
      ++interceptors_[result.assessment->verdict.known_interceptor->name];
    } else {
      ++interceptors_["(unknown: untrusted changed chain)"];
    }
  }
}

nlohmann::ordered_json ScanSummary::json(const ScanCounters& counters) const {
  nlohmann::ordered_json domains = nlohmann::ordered_json::object();
  for (const auto& [domain, hosts] : intercepted_per_domain_) domains[domain] = hosts.size();
  nlohmann::ordered_json tags = nlohmann::ordered_json::object();
  for (const auto& [tag, group] : per_tag_) {
    tags[tag] = {{"hosts", group.hosts}, {"eligible", group.eligible}, {"intercepted", group.intercepted}};
  }
  nlohmann::ordered_json ases = nlohmann::ordered_json::array();
  for (const auto& [asn, group] : per_as_) {
    ases.push_back({{"asn", asn},
                    {"name", as_names_.contains(asn) ? nlohmann::ordered_json(as_names_.at(asn)) : nlohmann::ordered_json(nullptr)},
                    {"hosts", group.hosts},
                    {"eligible", group.eligible},
                    {"intercepted", group.intercepted},
                    {"intercepted_share", group.eligible == 0 ? 0.0 : double(group.intercepted) / double(group.eligible)}});
  }
  nlohmann::ordered_json devices = nlohmann::ordered_json::array();
  for (const auto& [evidence, device] : devices_) {
    devices.push_back({{"evidence", evidence}, {"hosts", device.hosts}, {"examples", device.examples}});
  }
  nlohmann::ordered_json summary = {{"hosts", counters.hosts},
          {"eligible", counters.eligible},
          {"ineligible", counters.ineligible},
          {"control_failed_hosts", counters.control_failed_hosts},
          {"templates_from_test_names", counters.templates_from_test_names},
          {"devices_forging_every_name", counters.devices_forging_every_name},
          {"devices", devices},
          {"results", counters.results},
          {"verdicts", counters.verdicts},
          {"intercepted_hosts", intercepted_hosts_.size()},
          {"intercepted_share", counters.eligible ? double(intercepted_hosts_.size()) / double(counters.eligible) : 0.0},
          {"intercepted_hosts_per_domain", domains},
          {"interceptors", interceptors_},
          {"per_tag", tags}};
  if (have_asn_table_) summary["per_as"] = ases;
  return summary;
}

ScanTally ScanSummary::tally(const ScanCounters& counters) const {
  ScanTally tally{ScanSource::kScan, counters.hosts, counters.eligible, counters.results, intercepted_hosts_.size(), {}};
  for (const auto& [asn, group] : per_as_) {
    tally.groups.push_back({TallyKind::kAs, fmt::format("AS{}", asn), as_names_.contains(asn) ? as_names_.at(asn) : "",
                            group.hosts, group.eligible, group.intercepted});
  }
  for (const auto& [tag, group] : per_tag_) {
    tally.groups.push_back({TallyKind::kTag, tag, "", group.hosts, group.eligible, group.intercepted});
  }
  for (const auto& [domain, hosts] : intercepted_per_domain_) {
    tally.groups.push_back({TallyKind::kDomain, domain, "", 0, 0, hosts.size()});
  }
  return tally;
}

std::string ScanSummary::text(const ScanCounters& counters) const {
  std::string text = fmt::format(
      "scan: {} hosts, {} eligible, {} ineligible, {} with failing controls; {} results\n"
      "intercepted hosts: {} ({:.1f}% of eligible)\n",
      counters.hosts, counters.eligible, counters.ineligible, counters.control_failed_hosts, counters.results,
      intercepted_hosts_.size(),
      counters.eligible ? 100.0 * double(intercepted_hosts_.size()) / double(counters.eligible) : 0.0);
  if (counters.templates_from_test_names > 0) {
    text += fmt::format("{} hosts failed every control name; their template came from the test names' own "
                        "browser-trusted answers\n", counters.templates_from_test_names);
  }
  for (const auto& [evidence, device] : devices_) {
    text += fmt::format("device on {} hosts (e.g. {}): {}\n", device.hosts, device.examples.front(), evidence);
  }
  text += "verdicts:";
  for (const auto& [verdict, count] : counters.verdicts) text += fmt::format(" {} {}", verdict, count);
  text += "\n";
  for (const auto& [name, count] : interceptors_) text += fmt::format("interceptor: {} ({} results)\n", name, count);
  if (!intercepted_per_domain_.empty()) {
    text += "intercepted hosts per domain:\n";
    for (const auto& [domain, hosts] : intercepted_per_domain_) text += fmt::format("  {:<28} {}\n", domain, hosts.size());
  }
  std::vector<std::pair<std::string, const Group*>> tags;
  for (const auto& [tag, group] : per_tag_) {
    if (group.intercepted != 0) tags.emplace_back(tag, &group);
  }
  std::sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) { return a.second->intercepted > b.second->intercepted; });
  if (!tags.empty()) {
    text += "per tag (intercepted / eligible):\n";
    for (const auto& [tag, group] : tags) {
      text += fmt::format("  {:<12} {} / {}\n", tag, group->intercepted, group->eligible);
    }
  }
  // BRIEF's Table 1: intercepted hosts per AS, largest first; ASes without interception are in the JSON.
  std::vector<std::pair<uint32_t, const Group*>> ases;
  for (const auto& [asn, group] : per_as_) {
    if (group.intercepted != 0) ases.emplace_back(asn, &group);
  }
  std::sort(ases.begin(), ases.end(), [](const auto& a, const auto& b) { return a.second->intercepted > b.second->intercepted; });
  if (!ases.empty()) {
    text += "per AS (intercepted / eligible hosts):\n";
    for (const auto& [asn, group] : ases) {
      text += fmt::format("  AS{:<10} {:>6} / {:<6} {:5.1f}%  {}\n", asn, group->intercepted, group->eligible,
                          group->eligible == 0 ? 0.0 : 100.0 * double(group->intercepted) / double(group->eligible),
                          as_names_.contains(asn) ? as_names_.at(asn) : "");
    }
  }
  return text;
}

}  // namespace mitmscope
