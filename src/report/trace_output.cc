#include "report/trace_output.h"

#include <algorithm>
#include <set>
#include <vector>

#include <fmt/format.h>

namespace mitmscope {
namespace {

using Json = nlohmann::ordered_json;

Json optional_int(const std::optional<int>& value) { return value ? Json(*value) : Json(nullptr); }

Json router_json(const std::optional<std::string>& address, const AsnMap* asn_map) {
  if (!address) return nullptr;
  Json out = {{"address", *address}};
  if (asn_map) {
    const auto asn = asn_map->lookup(*address);
    out["asn"] = asn ? Json(asn->asn) : Json(nullptr);
  }
  return out;
}

Json hop_json(const HopResult& hop, const AsnMap* asn_map) {
  Json out = {{"outcome", hop_outcome_name(hop.outcome)}};
  if (hop.router) {
    out["router"] = *hop.router;
    if (asn_map) {
      const auto asn = asn_map->lookup(*hop.router);
      out["router_asn"] = asn ? Json(asn->asn) : Json(nullptr);
    }
  }
  if (!hop.detail.empty()) out["detail"] = hop.detail;
  if (!hop.leaf_sha256.empty()) {
    out["leaf_sha256"] = hop.leaf_sha256;
    out["verdict"] = hop.verdict;
  }
  if (!hop.interceptor.empty()) out["interceptor"] = hop.interceptor;
  out["source_port"] = hop.source_port;
  out["ms"] = std::round(hop.milliseconds * 1000) / 1000;
  out["attempts"] = hop.attempts;
  return out;
}

std::optional<int> hops_before_address(const InjectionPoint& point) {
  if (!point.injection_ttl || !point.address_distance) return std::nullopt;
  return *point.address_distance - *point.injection_ttl;
}

Json point_json(const InjectionPoint& point, const AsnMap* asn_map) {
  return {{"kind", injection_kind_name(point.kind)},
          {"injection_ttl", optional_int(point.injection_ttl)},
          {"router_before", router_json(point.router_before, asn_map)},
          {"router_after", router_json(point.router_after, asn_map)},
          {"target_terminating_ttl", optional_int(point.target_terminating_ttl)},
          {"control_terminating_ttl", optional_int(point.control_terminating_ttl)},
          {"address_distance", optional_int(point.address_distance)},
          {"hops_before_address", optional_int(hops_before_address(point))},
          {"reasons", point.reasons}};
}

// The run shown in detail: the first that gave the consensus answer.
const TraceRun* consensus_run(const TraceResult& result) {
  for (const auto& run : result.runs) {
    if (run.point.kind == result.point.kind && run.point.injection_ttl == result.point.injection_ttl &&
        run.point.router_before == result.point.router_before && run.point.router_after == result.point.router_after) {
      return &run;
    }
  }
  return result.runs.empty() ? nullptr : &result.runs.front();
}

std::string as_group(const TraceResult& result, const AsnMap* asn_map) {
  const std::string key = as_key(result.host.endpoint.ip, result.host.tags, asn_map);
  if (!key.empty()) return key;
  return asn_map ? "(no prefix)" : "(unknown)";
}

std::string routers_at(const TraceRun& run, int ttl) {
  std::set<std::string> routers;
  for (const auto* series : {&run.target, &run.control, &run.path}) {
    if (const auto* hop = hop_at(*series, ttl); hop && hop->router) routers.insert(*hop->router);
  }
  std::string out;
  for (const auto& router : routers) out += (out.empty() ? "" : ",") + router;
  return out.empty() ? "*" : out;
}

std::string cell(const TraceSeries& series, int ttl) {
  const auto* hop = hop_at(series, ttl);
  if (!hop) return "";
  std::string text(hop_outcome_name(hop->outcome));
  if (!hop->interceptor.empty()) text += " (" + hop->interceptor + ")";
  if (hop->attempts > 1) text += fmt::format(" x{}", hop->attempts);
  return text;
}

}  // namespace

bool trace_found_interception(const InjectionPoint& point) {
  return point.kind != InjectionKind::kNone && point.kind != InjectionKind::kInconclusive;
}

Json trace_result_json(const TraceResult& result, const AsnMap* asn_map) {
  Json out = {{"address", result.host.endpoint.ip},
              {"port", result.host.endpoint.port},
              {"tags", result.host.tags},
              {"sni", result.sni},
              {"control_sni", result.control_sni}};
  if (asn_map) {
    const auto asn = asn_map->lookup(result.host.endpoint.ip);
    out["asn"] = asn ? Json{{"number", asn->asn}, {"name", asn->name}, {"prefix", asn->prefix}} : Json(nullptr);
  }
  out["injection"] = point_json(result.point, asn_map);
  out["consistency"] = {{"runs", result.runs.size()}, {"agreeing_runs", result.agreeing_runs}};
  out["routers_known"] = result.routers_known;
  if (!result.routers_known) {
    out["routers_unknown_reason"] = "no raw ICMP socket (needs root or CAP_NET_RAW): expired hops are known, "
                                    "the routers that reported them are not";
  }
  Json multi = Json::array();
  for (const auto& entry : result.multi_router_ttls) multi.push_back({{"ttl", entry.ttl}, {"routers", entry.routers}});
  out["multi_router_ttls"] = multi;
  out["probes"] = result.probes;
  out["seconds"] = std::round(result.seconds * 1000) / 1000;
  Json runs = Json::array();
  for (const auto& run : result.runs) {
    std::set<int> ttls;
    for (const auto* series : {&run.target, &run.control, &run.path}) {
      for (const auto& hop : *series) ttls.insert(hop.ttl);
    }
    Json hops = Json::array();
    for (int ttl : ttls) {
      Json row = {{"ttl", ttl}};
      if (const auto* hop = hop_at(run.target, ttl)) row["target"] = hop_json(*hop, asn_map);
      if (const auto* hop = hop_at(run.control, ttl)) row["control"] = hop_json(*hop, asn_map);
      if (const auto* hop = hop_at(run.path, ttl)) row["path"] = hop_json(*hop, asn_map);
      hops.push_back(std::move(row));
    }
    runs.push_back({{"seconds", std::round(run.seconds * 1000) / 1000},
                    {"injection", point_json(run.point, asn_map)},
                    {"hops", std::move(hops)}});
  }
  out["runs"] = std::move(runs);
  return out;
}

std::string trace_result_text(const TraceResult& result, const AsnMap* asn_map) {
  std::string out = fmt::format("trace {}  target {}  control {}  ({} run{}, {} probes, {:.2f} s)\n",
                                result.host.endpoint.to_string(), result.sni, result.control_sni, result.runs.size(),
                                result.runs.size() == 1 ? "" : "s", result.probes, result.seconds);
  const TraceRun* run = consensus_run(result);
  if (run) {
    std::set<int> ttls;
    for (const auto* series : {&run->target, &run->control, &run->path}) {
      for (const auto& hop : *series) ttls.insert(hop.ttl);
    }
    out += fmt::format("{:>4}  {:<18} {:<9} {:<22} {:<16} {}\n", "TTL", "router", "AS", "target", "control", "path");
    for (int ttl : ttls) {
      const std::string routers = routers_at(*run, ttl);
      std::string asn = "-";
      if (asn_map && routers != "*" && routers.find(',') == std::string::npos) {
        if (const auto info = asn_map->lookup(routers)) asn = fmt::format("AS{}", info->asn);
      }
      out += fmt::format("{:>4}  {:<18} {:<9} {:<22} {:<16} {}\n", ttl, routers, asn, cell(run->target, ttl),
                         cell(run->control, ttl), cell(run->path, ttl));
    }
  }
  const auto& point = result.point;
  out += fmt::format("injection: {}", injection_kind_name(point.kind));
  if (point.injection_ttl) {
    out += fmt::format(" at TTL {}", *point.injection_ttl);
    if (point.router_before || point.router_after) {
      out += fmt::format(", between {} and {}", point.router_before.value_or("?"), point.router_after.value_or("?"));
    }
    if (const auto before = hops_before_address(point)) {
      out += fmt::format("; {} hop{} before the address (at TTL {})", *before, *before == 1 ? "" : "s",
                         *point.address_distance);
    }
  }
  out += "\n";
  for (const auto& reason : point.reasons) out += "  " + reason + "\n";
  out += fmt::format("consistent in {} of {} run{}\n", result.agreeing_runs, result.runs.size(),
                     result.runs.size() == 1 ? "" : "s");
  for (const auto& entry : result.multi_router_ttls) {
    std::string routers;
    for (const auto& router : entry.routers) routers += " " + router;
    out += fmt::format("TTL {} answered by several routers:{} (per-flow load balancing or a route change: the "
                       "parallel probes differ in source port; --paris keeps one flow per series)\n",
                       entry.ttl, routers);
  }
  if (!result.routers_known) {
    out += "routers unknown: no raw ICMP socket (run as root or with CAP_NET_RAW); the expired TTLs are still exact\n";
  }
  return out;
}

void TraceAggregate::add(const TraceResult& result, const AsnMap* asn_map) {
  ++hosts_;
  auto& group = per_as_[as_group(result, asn_map)];
  if (asn_map && group.name.empty()) {
    if (const auto asn = asn_map->lookup(result.host.endpoint.ip)) group.name = asn->name;
  }
  ++group.hosts;
  const auto& point = result.point;
  ++kinds_[std::string(injection_kind_name(point.kind))];
  if (result.agreeing_runs < static_cast<int>(result.runs.size())) ++inconsistent_;
  if (!result.multi_router_ttls.empty()) ++multi_router_;
  if (!trace_found_interception(point)) return;
  ++intercepted_;
  ++group.intercepted;
  const auto before = hops_before_address(point);
  if (point.kind == InjectionKind::kInPath || point.kind == InjectionKind::kTerminatingProxy ||
      (before && *before > 0)) {
    ++before_host_;
    ++group.before_host;
  }
  if (before) ++hops_before_host_[*before];
  ++router_pairs_[{point.router_before.value_or("?"), point.router_after.value_or("?")}];
}

std::vector<std::pair<std::pair<std::string, std::string>, size_t>> TraceAggregate::sorted_router_pairs() const {
  std::vector<std::pair<std::pair<std::string, std::string>, size_t>> pairs(router_pairs_.begin(), router_pairs_.end());
  std::ranges::stable_sort(pairs, [](const auto& a, const auto& b) { return a.second > b.second; });
  return pairs;
}

Json TraceAggregate::json() const {
  auto share = [](size_t part, size_t whole) { return whole == 0 ? 0.0 : double(part) / double(whole); };
  Json hops = Json::object();
  for (const auto& [count, hosts] : hops_before_host_) hops[std::to_string(count)] = hosts;
  const auto pairs = sorted_router_pairs();
  Json pair_rows = Json::array();
  for (const auto& [pair, hosts] : pairs) {
    pair_rows.push_back({{"router_before", pair.first}, {"router_after", pair.second}, {"hosts", hosts},
                         {"share", share(hosts, intercepted_)}});
  }
  Json ases = Json::array();
  for (const auto& [key, group] : per_as_) {
    ases.push_back({{"as", key},
                    {"name", group.name.empty() ? Json(nullptr) : Json(group.name)},
                    {"hosts", group.hosts},
                    {"intercepted", group.intercepted},
                    {"intercepted_share", share(group.intercepted, group.hosts)},
                    {"injection_before_host", group.before_host}});
  }
  return {{"hosts", hosts_},
          {"intercepted", intercepted_},
          {"intercepted_share", share(intercepted_, hosts_)},
          {"injection_before_host", before_host_},
          {"injection_before_host_share", share(before_host_, intercepted_)},
          {"kinds", kinds_},
          {"hops_before_host", hops},
          {"router_pairs", pair_rows},
          {"per_as", ases},
          {"hosts_with_inconsistent_runs", inconsistent_},
          {"hosts_with_multi_router_ttls", multi_router_}};
}

std::string TraceAggregate::text() const {
  auto percent = [](size_t part, size_t whole) { return whole == 0 ? 0.0 : 100.0 * double(part) / double(whole); };
  std::string out = fmt::format("traced {} hosts: {} intercepted ({:.1f}%), injection before the host for {} of them "
                                "({:.1f}%)\n",
                                hosts_, intercepted_, percent(intercepted_, hosts_), before_host_,
                                percent(before_host_, intercepted_));
  for (const auto& [kind, count] : kinds_) out += fmt::format("  {:<28} {}\n", kind, count);
  if (!hops_before_host_.empty()) {
    out += "hops before the host:";
    for (const auto& [hops, count] : hops_before_host_) {
      out += fmt::format("  {}: {} ({:.1f}%)", hops, count, percent(count, intercepted_));
    }
    out += "\n";
  }
  const auto pairs = sorted_router_pairs();
  if (!pairs.empty()) out += "router pairs (last before, first after):\n";
  for (size_t i = 0; i < pairs.size() && i < 10; ++i) {
    out += fmt::format("  {:<16} {:<16} {:>6} ({:.1f}%)\n", pairs[i].first.first, pairs[i].first.second,
                       pairs[i].second, percent(pairs[i].second, intercepted_));
  }
  // Per AS, most intercepted first; the text shows 20, the JSON all.
  std::vector<std::pair<std::string, Group>> ases(per_as_.begin(), per_as_.end());
  std::ranges::stable_sort(ases, [](const auto& a, const auto& b) {
    return a.second.intercepted != b.second.intercepted ? a.second.intercepted > b.second.intercepted
                                                        : a.second.hosts > b.second.hosts;
  });
  out += fmt::format("{:<12} {:>6} {:>12} {:>8} {:>14}\n", "AS", "hosts", "intercepted", "share", "before host");
  for (size_t i = 0; i < ases.size() && i < 20; ++i) {
    const auto& [key, group] = ases[i];
    out += fmt::format("{:<12} {:>6} {:>12} {:>7.1f}% {:>14}\n", key, group.hosts, group.intercepted,
                       percent(group.intercepted, group.hosts), group.before_host);
  }
  if (ases.size() > 20) out += fmt::format("... {} more ASes (all in --json / --summary)\n", ases.size() - 20);
  if (inconsistent_) out += fmt::format("{} hosts gave different answers in different runs\n", inconsistent_);
  if (multi_router_) out += fmt::format("{} hosts had a TTL answered by several routers\n", multi_router_);
  return out;
}

}  // namespace mitmscope
