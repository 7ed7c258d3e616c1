#include "trace/locate.h"

#include <fmt/format.h>

namespace mitmscope {
namespace {

std::optional<int> first_ttl(const TraceSeries& series, bool (*predicate)(HopOutcome)) {
  for (const auto& hop : series) {
    if (predicate(hop.outcome)) return hop.ttl;
  }
  return std::nullopt;
}

// The router that sent time-exceeded at this TTL in any of the series.
std::optional<std::string> router_at(int ttl, std::initializer_list<const TraceSeries*> series) {
  for (const auto* one : series) {
    if (const auto* hop = hop_at(*one, ttl); hop && hop->outcome == HopOutcome::kTimeExceeded && hop->router) {
      return hop->router;
    }
  }
  return std::nullopt;
}

std::string outcome_at(const TraceSeries& series, int ttl) {
  const auto* hop = hop_at(series, ttl);
  if (!hop) return "nothing";
  return hop->detail.empty() ? std::string(hop_outcome_name(hop->outcome))
                             : fmt::format("{}: {}", hop_outcome_name(hop->outcome), hop->detail);
}

// No certificate judged forged, but the target is answered (TLS or not, reset, alert) before the
// address's distance: a device answers for the address at that hop, and the control tells which kind.
InjectionPoint device_below_address(InjectionPoint point, const TraceSeries& target, const TraceSeries& control) {
  const int hop = *point.target_terminating_ttl;
  point.injection_ttl = hop;
  if (hop > 1) point.router_before = router_at(hop - 1, {&target, &control});
  const std::string seen = fmt::format("the target SNI is answered at TTL {} ({}) while the address is {} hops away",
                                       hop, outcome_at(target, hop), *point.address_distance);
  if (point.control_terminating_ttl == hop) {
    point.kind = InjectionKind::kTerminatingProxy;
    point.reasons.push_back(fmt::format("{}, and so is the control ({}): a device terminates connections at hop {} "
                                        "(no certificate was judged forged)",
                                        seen, outcome_at(control, hop), hop));
  } else if (!point.control_terminating_ttl || *point.control_terminating_ttl > hop) {
    point.kind = InjectionKind::kInPath;
    point.router_after = router_at(hop, {&control});
    point.reasons.push_back(fmt::format("{}, while the control still expires there: a device in the path answers for "
                                        "the target at hop {} (no certificate was judged forged)", seen, hop));
  } else {
    point.kind = InjectionKind::kInconclusive;
    point.reasons.push_back(fmt::format("{}, but the control is answered earlier, at TTL {}", seen,
                                        *point.control_terminating_ttl));
  }
  return point;
}

}  // namespace

bool hop_terminates(HopOutcome outcome) {
  return outcome != HopOutcome::kTimeExceeded && outcome != HopOutcome::kSilence && outcome != HopOutcome::kError;
}

const HopResult* hop_at(const TraceSeries& series, int ttl) {
  for (const auto& hop : series) {
    if (hop.ttl == ttl) return &hop;
  }
  return nullptr;
}

std::vector<int> unsettled_silences(const TraceSeries& series) {
  std::optional<int> first_answer;
  for (const auto& hop : series) {
    if (hop_terminates(hop.outcome) && (!first_answer || hop.ttl < *first_answer)) first_answer = hop.ttl;
  }
  std::vector<int> ttls;
  if (!first_answer) return ttls;
  for (int ttl = *first_answer - 1; ttl >= 1; --ttl) {
    const auto* hop = hop_at(series, ttl);
    if (!hop || (hop->outcome != HopOutcome::kSilence && hop->outcome != HopOutcome::kError)) break;
    ttls.push_back(ttl);
  }
  return ttls;
}

std::string_view hop_outcome_name(HopOutcome outcome) {
  switch (outcome) {
    case HopOutcome::kTimeExceeded: return "time_exceeded";
    case HopOutcome::kForged: return "forged";
    case HopOutcome::kGenuine: return "genuine";
    case HopOutcome::kReached: return "reached";
    case HopOutcome::kReset: return "reset";
    case HopOutcome::kClosed: return "closed";
    case HopOutcome::kAlert: return "tls_alert";
    case HopOutcome::kNotTls: return "not_tls";
    case HopOutcome::kSilence: return "silence";
    case HopOutcome::kError: return "error";
  }
  return "unknown";
}

std::string_view injection_kind_name(InjectionKind kind) {
  switch (kind) {
    case InjectionKind::kInPath: return "in_path_injector";
    case InjectionKind::kTerminatingProxy: return "terminating_proxy";
    case InjectionKind::kAtServer: return "at_server";
    case InjectionKind::kProxyOrServer: return "terminating_proxy_or_server";
    case InjectionKind::kNone: return "no_interception";
    case InjectionKind::kInconclusive: return "inconclusive";
  }
  return "unknown";
}

InjectionPoint locate_injection(const TraceSeries& target, const TraceSeries& control, const TraceSeries& path) {
  InjectionPoint point;
  point.target_terminating_ttl = first_ttl(target, hop_terminates);
  point.control_terminating_ttl = first_ttl(control, hop_terminates);
  point.address_distance = first_ttl(path, hop_terminates);
  point.injection_ttl = first_ttl(target, [](HopOutcome outcome) { return outcome == HopOutcome::kForged; });
  if (!point.injection_ttl && point.target_terminating_ttl && point.address_distance &&
      *point.target_terminating_ttl < *point.address_distance) {
    return device_below_address(std::move(point), target, control);
  }
  if (!point.injection_ttl) {
    point.kind = point.target_terminating_ttl ? InjectionKind::kNone : InjectionKind::kInconclusive;
    point.reasons.push_back(point.target_terminating_ttl
                                ? fmt::format("no forged answer at any TTL; the target SNI is answered from TTL {}",
                                              *point.target_terminating_ttl)
                                : "the target SNI was never answered (expired or silent at every TTL)");
    return point;
  }
  const int injection = *point.injection_ttl;
  if (injection > 1) point.router_before = router_at(injection - 1, {&target, &control, &path});
  if (point.target_terminating_ttl && *point.target_terminating_ttl < injection) {
    point.reasons.push_back(fmt::format("the target was first answered at TTL {} (not forged), forged from TTL {}",
                                        *point.target_terminating_ttl, injection));
  }
  if (!point.control_terminating_ttl || *point.control_terminating_ttl > injection) {
    point.kind = InjectionKind::kInPath;
    point.router_after = router_at(injection, {&control, &path});
    point.reasons.push_back(fmt::format(
        "the target SNI is answered with a forged chain at TTL {} while the control SNI still expires there{}",
        injection,
        point.control_terminating_ttl ? fmt::format(" and is answered at TTL {}", *point.control_terminating_ttl)
                                      : std::string(" (and is never answered)")));
    return point;
  }
  if (*point.control_terminating_ttl < injection) {
    point.kind = InjectionKind::kInconclusive;
    point.reasons.push_back(fmt::format("the control is answered at TTL {}, before the first forged answer at TTL {}",
                                        *point.control_terminating_ttl, injection));
    return point;
  }
  // Both end at the same TTL: something there answers for any name.
  if (!point.address_distance) {
    point.kind = InjectionKind::kProxyOrServer;
    point.reasons.push_back(fmt::format("target (forged) and control both end at TTL {}: a device terminating every "
                                        "connection there or the server itself; the address's distance is unknown",
                                        injection));
  } else if (*point.address_distance > injection) {
    point.kind = InjectionKind::kTerminatingProxy;
    point.router_after = router_at(injection, {&path});
    point.reasons.push_back(fmt::format("target (forged) and control both end at TTL {}, but the address is {} hops "
                                        "away: a device terminates every TLS connection at hop {}",
                                        injection, *point.address_distance, injection));
  } else {
    point.kind = InjectionKind::kAtServer;
    point.reasons.push_back(fmt::format("target (forged) and control both end at TTL {}, which is the address's own "
                                        "distance: the forged chain comes from the server",
                                        injection));
  }
  return point;
}

}  // namespace mitmscope
