#include "analyze/monitor_events.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace mitmscope {
namespace {

using Json = nlohmann::json;

template <typename Set>
Json list(const Set& set) {
  return Json(std::vector<std::string>(set.begin(), set.end()));
}

std::set<std::string> set_of(const Json& json, const char* key) {
  std::set<std::string> out;
  if (json.contains(key) && json[key].is_array()) {
    for (const auto& item : json[key]) out.insert(item.get<std::string>());
  }
  return out;
}

std::vector<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::ranges::set_difference(a, b, std::back_inserter(out));
  return out;
}

}  // namespace

void RoundState::add(const ScanResult& result, const std::string& as_key) {
  if (result.verdict != ScanVerdict::kIntercepted || result.host == nullptr) return;
  const std::string host = result.host->endpoint.to_string();
  intercepted_hosts.insert(host);
  hosts_per_as[as_key.empty() ? "(unknown)" : as_key].insert(host);
  domains.insert(result.sni);
  if (result.assessment) {
    const auto& chain = result.assessment->chain;
    if (chain.size() > 1) intermediates.insert(chain[1].sha256_hex());
    if (const auto& known = result.assessment->verdict.known_interceptor) {
      roots.insert(known->id.empty() ? known->root_sha256 : known->id);
    }
  }
  if (result.forging) {
    if (result.forging->not_before_shift_hours) {
      validity_shifts.insert(fmt::format("{:g}", std::round(*result.forging->not_before_shift_hours * 100) / 100));
    }
    keys.insert(describe_key(result.forging->presented_key));
  }
}

Json RoundState::json() const {
  Json per_as = Json::object();
  for (const auto& [as, hosts] : hosts_per_as) per_as[as] = list(hosts);
  return {{"round", round},
          {"started_at", started_at},
          {"intercepted_hosts", list(intercepted_hosts)},
          {"hosts_per_as", per_as},
          {"domains", list(domains)},
          {"intermediates", list(intermediates)},
          {"roots", list(roots)},
          {"validity_shifts", list(validity_shifts)},
          {"keys", list(keys)}};
}

RoundState RoundState::from_json(const Json& json) {
  RoundState state;
  state.round = json.value("round", 0);
  state.started_at = json.value("started_at", "");
  state.intercepted_hosts = set_of(json, "intercepted_hosts");
  if (json.contains("hosts_per_as")) {
    for (const auto& [as, hosts] : json["hosts_per_as"].items()) {
      for (const auto& host : hosts) state.hosts_per_as[as].insert(host.get<std::string>());
    }
  }
  state.domains = set_of(json, "domains");
  state.intermediates = set_of(json, "intermediates");
  state.roots = set_of(json, "roots");
  state.validity_shifts = set_of(json, "validity_shifts");
  state.keys = set_of(json, "keys");
  return state;
}

Json MonitorEvent::json() const {
  return {{"round", round}, {"time", time}, {"type", type}, {"scope", scope}, {"detail", detail}};
}

Json MonitorMemory::json() const {
  return {{"last", last ? last->json() : Json(nullptr)},
          {"last_intercepting", last_intercepting ? last_intercepting->json() : Json(nullptr)},
          {"intermediates_seen", list(intermediates_seen)},
          {"roots_seen", list(roots_seen)},
          {"domains_seen", list(domains_seen)}};
}

MonitorMemory MonitorMemory::from_json(const Json& json) {
  MonitorMemory memory;
  if (json.contains("last") && !json["last"].is_null()) memory.last = RoundState::from_json(json["last"]);
  if (json.contains("last_intercepting") && !json["last_intercepting"].is_null()) {
    memory.last_intercepting = RoundState::from_json(json["last_intercepting"]);
  }
  memory.intermediates_seen = set_of(json, "intermediates_seen");
  memory.roots_seen = set_of(json, "roots_seen");
  memory.domains_seen = set_of(json, "domains_seen");
  return memory;
}

std::vector<MonitorEvent> derive_events(const MonitorMemory& memory, const RoundState& current) {
  std::vector<MonitorEvent> events;
  auto event = [&](std::string type, std::string scope, Json detail) {
    events.push_back({current.round, current.started_at, std::move(type), std::move(scope), std::move(detail)});
  };
  if (!memory.last) {
    event("baseline", "global",
          {{"intercepted_hosts", current.intercepted_hosts.size()}, {"domains", list(current.domains)},
           {"ases", current.hosts_per_as.size()}, {"intermediates", list(current.intermediates)},
           {"roots", list(current.roots)}, {"validity_shifts", list(current.validity_shifts)},
           {"keys", list(current.keys)}});
    return events;
  }
  const RoundState& previous = *memory.last;
  const bool was_on = !previous.intercepted_hosts.empty();
  const bool is_on = !current.intercepted_hosts.empty();
  auto ases_of = [](const RoundState& state) {
    std::vector<std::string> out;
    for (const auto& [as, hosts] : state.hosts_per_as) out.push_back(as);
    return out;
  };
  if (!was_on && is_on) {
    event("interception_started", "global",
          {{"intercepted_hosts", current.intercepted_hosts.size()}, {"ases", ases_of(current)},
           {"previous_round", previous.round}});
  } else if (was_on && !is_on) {
    event("interception_stopped", "global",
          {{"hosts_before", previous.intercepted_hosts.size()}, {"ases", ases_of(previous)},
           {"previous_round", previous.round}});
  } else if (was_on && is_on) {
    // Interception went on: did it spread or shrink, per AS?
    std::set<std::string> ases;
    for (const auto& [as, hosts] : previous.hosts_per_as) ases.insert(as);
    for (const auto& [as, hosts] : current.hosts_per_as) ases.insert(as);
    static const std::set<std::string> kNone;
    for (const auto& as : ases) {
      const auto& before = previous.hosts_per_as.contains(as) ? previous.hosts_per_as.at(as) : kNone;
      const auto& now = current.hosts_per_as.contains(as) ? current.hosts_per_as.at(as) : kNone;
      const auto started = minus(now, before);
      const auto stopped = minus(before, now);
      if (!started.empty()) {
        event("hosts_started", as, {{"hosts", started}, {"intercepted_now", now.size()}, {"before", before.size()}});
      }
      if (!stopped.empty()) {
        event("hosts_stopped", as, {{"hosts", stopped}, {"intercepted_now", now.size()}, {"before", before.size()}});
      }
    }
  }
  for (const auto& sha256 : minus(current.intermediates, memory.intermediates_seen)) {
    event("new_intermediate", sha256, {{"sha256", sha256}});
  }
  for (const auto& root : minus(current.roots, memory.roots_seen)) event("new_root", root, {{"root", root}});
  if (is_on && memory.last_intercepting) {
    const auto& reference = *memory.last_intercepting;
    const bool shift_changed = !current.validity_shifts.empty() && !reference.validity_shifts.empty() &&
                               current.validity_shifts != reference.validity_shifts;
    const bool key_changed = !current.keys.empty() && !reference.keys.empty() && current.keys != reference.keys;
    if (shift_changed || key_changed) {
      event("rules_changed", "global",
            {{"validity_shift_hours", {{"before", list(reference.validity_shifts)}, {"now", list(current.validity_shifts)}}},
             {"key", {{"before", list(reference.keys)}, {"now", list(current.keys)}}},
             {"compared_with_round", reference.round}});
    }
  }
  for (const auto& domain : minus(current.domains, memory.domains_seen)) event("new_domain", domain, {{"domain", domain}});
  return events;
}

void remember(MonitorMemory& memory, const RoundState& current) {
  memory.last = current;
  if (!current.intercepted_hosts.empty()) memory.last_intercepting = current;
  memory.intermediates_seen.insert(current.intermediates.begin(), current.intermediates.end());
  memory.roots_seen.insert(current.roots.begin(), current.roots.end());
  memory.domains_seen.insert(current.domains.begin(), current.domains.end());
}

namespace {

// A count from the detail: a number, or the size of a list; 0 when absent.
size_t count_of(const nlohmann::json& detail, const char* field) {
  if (!detail.is_object() || !detail.contains(field)) return 0;
  const auto& value = detail[field];
  if (value.is_number_unsigned() || value.is_number_integer()) return value.get<size_t>();
  return value.is_array() ? value.size() : 0;
}

std::string listed(const nlohmann::json& value) {
  if (!value.is_array() || value.empty()) return "none";
  std::string text;
  for (const auto& item : value) text += (text.empty() ? "" : ", ") + (item.is_string() ? item.get<std::string>() : item.dump());
  return text;
}

std::string plural(size_t count, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", count, count == 1 ? one : many);
}

std::string changed(const nlohmann::json& detail, const char* field) {
  if (!detail.is_object() || !detail.contains(field)) return "?";
  return fmt::format("{} -> {}", listed(detail[field].value("before", nlohmann::json())),
                     listed(detail[field].value("now", nlohmann::json())));
}

}  // namespace

std::string event_sentence(std::string_view type, std::string_view scope, const nlohmann::json& detail) {
  const auto hosts = [&](const char* field) { return plural(count_of(detail, field), "host", "hosts"); };
  if (type == "baseline") {
    return fmt::format("first round: {} intercepted for {}, in {}", hosts("intercepted_hosts"),
                       plural(count_of(detail, "domains"), "domain", "domains"), plural(count_of(detail, "ases"), "AS", "ASes"));
  }
  if (type == "interception_started") {
    return fmt::format("interception started: {} in {}", hosts("intercepted_hosts"), plural(count_of(detail, "ases"), "AS", "ASes"));
  }
  if (type == "interception_stopped") {
    return fmt::format("interception stopped: no host intercepted, {} the round before", hosts("hosts_before"));
  }
  if (type == "hosts_started" || type == "hosts_stopped") {
    return fmt::format("interception {} on {} in {} ({} -> {} intercepted)", type == "hosts_started" ? "started" : "stopped",
                       hosts("hosts"), scope, count_of(detail, "before"), count_of(detail, "intercepted_now"));
  }
  if (type == "new_intermediate") return fmt::format("a new intermediate signs the forged certificates: {}", scope);
  if (type == "new_root") return fmt::format("a new root above the forged certificates: {}", scope);
  if (type == "new_domain") return fmt::format("a newly targeted domain: {}", scope);
  if (type == "rules_changed") {
    return fmt::format("the forging rules changed: validity shift (hours) {}, key {}", changed(detail, "validity_shift_hours"),
                       changed(detail, "key"));
  }
  return fmt::format("{} ({})", type, scope);
}

}  // namespace mitmscope
