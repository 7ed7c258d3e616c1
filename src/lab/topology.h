// The lab's network: namespaces, veth links, addresses, routes and the interceptor
// hop's packet rules, computed from a Plan and applied with iproute2/iptables.
//
//   vantage ─ r1 ─ … ─ r(K-1) ─┬─ rK  (device) ─┬─ r(K+1) ─ … ─ rN ─ hosts
//                              └─ rKb (bypass) ─┘
//
// Every router decrements TTL and answers time-exceeded from the interface the
// packet came in on. Prefixes routed through the interceptor go via rK both ways
// (r(K+1) picks the return path by source address), the others via the twin rKb,
// so a bypass host's path has the same length and never crosses the device.
// Evening prefixes switch between the two by a route change, as in BRIEF.
// Every name the lab creates starts with "ms-", which is how `lab down` finds them.
#pragma once

#include <string>
#include <vector>

#include "lab/scenario.h"

namespace mitmscope::lab {

inline constexpr const char* kNamespacePrefix = "ms-";
inline constexpr const char* kVantageNamespace = "ms-vantage";
inline constexpr const char* kHostsNamespace = "ms-hosts";
inline constexpr const char* kVantageAddress = "10.200.0.1";

struct Topology {
  int routers = 0;
  int interceptor_router = 0;
  std::vector<std::string> namespaces;  // in creation order

  std::string router_namespace(int index) const;   // "ms-r3"
  std::string bypass_namespace() const;            // "ms-r4b"
  std::string interceptor_namespace() const { return router_namespace(interceptor_router); }
  // The address a router answers time-exceeded from on the forward path (its west interface).
  std::string router_address(int index) const;
  std::string bypass_router_address() const;
};

Topology make_topology(const Scenario& scenario);

// ip -batch lines that build everything (namespaces first).
std::vector<std::string> topology_commands(const Topology& topology, const Plan& plan, bool evening_through_interceptor);
// sysctl settings per namespace: forwarding, ICMP without rate limits, no reverse-path filter.
std::vector<std::vector<std::string>> sysctl_commands(const Topology& topology);
// iptables-restore input for the interceptor namespace (docs/ARCHITECTURE.md, "The interceptor").
std::string interceptor_rules(const Plan& plan, InterceptorMode mode);
// ip -batch lines that move the evening prefixes to or from the interceptor path.
std::vector<std::string> evening_route_commands(const Topology& topology, const Plan& plan, bool through_interceptor);

// Every "ms-*" namespace that exists now.
std::vector<std::string> existing_lab_namespaces();

}  // namespace mitmscope::lab
