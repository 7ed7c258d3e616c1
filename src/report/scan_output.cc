#include "report/scan_output.h"

#include <algorithm>
#include <charconv>

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

nlohmann::ordered_json optional_name(const std::string& name) {
  return name.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(name);
}

uint32_t as_number(std::string_view key) {   // "AS9198" -> 9198
  uint32_t number = 0;
  if (key.starts_with("AS")) std::from_chars(key.data() + 2, key.data() + key.size(), number);
  return number;
}

double share(size_t part, size_t whole) { return whole == 0 ? 0.0 : double(part) / double(whole); }

nlohmann::ordered_json per_as_json(const ScanOverview& overview) {
  nlohmann::ordered_json ases = nlohmann::ordered_json::array();
  for (const auto* group : overview.groups(TallyKind::kAs)) {
    ases.push_back({{"asn", as_number(group->key)}, {"name", optional_name(group->name)}, {"hosts", group->hosts},
                    {"eligible", group->eligible}, {"intercepted", group->intercepted},
                    {"intercepted_share", share(group->intercepted, group->eligible)}});
  }
  return ases;
}

// The groups of one kind with any interception, the most intercepted first.
std::vector<const TallyGroup*> intercepted_first(const ScanOverview& overview, TallyKind kind) {
  std::vector<const TallyGroup*> groups;
  for (const auto* group : overview.groups(kind)) {
    if (group->intercepted != 0) groups.push_back(group);
  }
  std::stable_sort(groups.begin(), groups.end(), [](const auto* a, const auto* b) { return a->intercepted > b->intercepted; });
  return groups;
}

}  // namespace

nlohmann::ordered_json scan_summary_json(const ScanOverview& overview) {
  const auto& counters = overview.counters;
  nlohmann::ordered_json domains = nlohmann::ordered_json::object();
  for (const auto* group : overview.groups(TallyKind::kDomain)) domains[group->key] = group->intercepted;
  nlohmann::ordered_json tags = nlohmann::ordered_json::object();
  for (const auto* group : overview.groups(TallyKind::kTag)) {
    tags[group->key] = {{"hosts", group->hosts}, {"eligible", group->eligible}, {"intercepted", group->intercepted}};
  }
  nlohmann::ordered_json devices = nlohmann::ordered_json::array();
  for (const auto& device : overview.devices) {
    devices.push_back({{"evidence", device.evidence}, {"hosts", device.hosts}, {"examples", device.examples}});
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
          {"intercepted_hosts", overview.tally.intercepted_hosts},
          {"intercepted_share", share(overview.tally.intercepted_hosts, counters.eligible)},
          {"intercepted_hosts_per_domain", domains},
          {"interceptors", overview.interceptors},
          {"per_tag", tags}};
  if (overview.per_as) summary["per_as"] = per_as_json(overview);
  return summary;
}

std::string scan_summary_text(const ScanOverview& overview) {
  const auto& counters = overview.counters;
  const size_t intercepted = overview.tally.intercepted_hosts;
  std::string text = fmt::format(
      "scan: {} hosts, {} eligible, {} ineligible, {} with failing controls; {} results\n"
      "intercepted hosts: {} ({:.1f}% of eligible)\n",
      counters.hosts, counters.eligible, counters.ineligible, counters.control_failed_hosts, counters.results,
      intercepted, 100.0 * share(intercepted, counters.eligible));
  if (counters.templates_from_test_names > 0) {
    text += fmt::format("{} hosts failed every control name; their template came from the test names' own "
                        "browser-trusted answers\n", counters.templates_from_test_names);
  }
  for (const auto& device : overview.devices) {
    text += fmt::format("device on {} hosts (e.g. {}): {}\n", device.hosts, device.examples.front(), device.evidence);
  }
  text += "verdicts:";
  for (const auto& [verdict, count] : counters.verdicts) text += fmt::format(" {} {}", verdict, count);
  text += "\n";
  for (const auto& [name, count] : overview.interceptors) text += fmt::format("interceptor: {} ({} results)\n", name, count);
  const auto domains = overview.groups(TallyKind::kDomain);
  if (!domains.empty()) {
    text += "intercepted hosts per domain:\n";
    for (const auto* group : domains) text += fmt::format("  {:<28} {}\n", group->key, group->intercepted);
  }
  if (const auto tags = intercepted_first(overview, TallyKind::kTag); !tags.empty()) {
    text += "per tag (intercepted / eligible):\n";
    for (const auto* group : tags) text += fmt::format("  {:<12} {} / {}\n", group->key, group->intercepted, group->eligible);
  }
  // BRIEF's Table 1: intercepted hosts per AS, largest first; ASes without interception are in the JSON.
  if (const auto ases = intercepted_first(overview, TallyKind::kAs); !ases.empty()) {
    text += "per AS (intercepted / eligible hosts):\n";
    for (const auto* group : ases) {
      text += fmt::format("  AS{:<10} {:>6} / {:<6} {:5.1f}%  {}\n", as_number(group->key), group->intercepted,
                          group->eligible, 100.0 * share(group->intercepted, group->eligible), group->name);
    }
  }
  return text;
}

}  // namespace mitmscope
