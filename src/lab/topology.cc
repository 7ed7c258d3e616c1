#include "lab/topology.h"

#include <filesystem>

#include <fmt/format.h>

namespace mitmscope::lab {
namespace {

// Link j joins node j and node j+1 of the chain (node 0 = vantage, N+1 = hosts):
// 10.200.j.1 on node j's "east" side, 10.200.j.2 on node j+1's "west" side.
// The bypass twin uses 10.210.0.0/24 (west) and 10.210.1.0/24 (east).
std::string link_address(int link, int side) { return fmt::format("10.200.{}.{}", link, side); }

std::string node_namespace(const Topology& topology, int node) {
  if (node == 0) return kVantageNamespace;
  if (node == topology.routers + 1) return kHostsNamespace;
  return topology.router_namespace(node);
}

void add_prefix_routes(std::vector<std::string>& lines, const std::string& ns, const Plan& plan, PathKind kind,
                       const std::string& verb, const std::string& via) {
  for (const auto& prefix : plan.prefixes) {
    if (prefix.path == kind) lines.push_back(fmt::format("-n {} route {} {} via {}", ns, verb, prefix.cidr, via));
  }
}

void add_source_rules(std::vector<std::string>& lines, const std::string& ns, const Plan& plan, PathKind kind,
                      const std::string& verb) {
  for (const auto& prefix : plan.prefixes) {
    if (prefix.path == kind) lines.push_back(fmt::format("-n {} rule {} from {} lookup 100 priority 100", ns, verb, prefix.cidr));
  }
}

}  // namespace

std::string Topology::router_namespace(int index) const { return fmt::format("ms-r{}", index); }
std::string Topology::bypass_namespace() const { return fmt::format("ms-r{}b", interceptor_router); }
std::string Topology::router_address(int index) const { return link_address(index - 1, 2); }
std::string Topology::bypass_router_address() const { return "10.210.0.2"; }

Topology make_topology(const Scenario& scenario) {
  Topology topology;
  topology.routers = scenario.routers;
  topology.interceptor_router = scenario.interceptor_router;
  topology.namespaces.push_back(kVantageNamespace);
  for (int i = 1; i <= topology.routers; ++i) topology.namespaces.push_back(topology.router_namespace(i));
  topology.namespaces.push_back(topology.bypass_namespace());
  topology.namespaces.push_back(kHostsNamespace);
  return topology;
}

std::vector<std::string> topology_commands(const Topology& topology, const Plan& plan, bool evening_through_interceptor) {
  std::vector<std::string> lines;
  for (const auto& ns : topology.namespaces) {
    lines.push_back("netns add " + ns);
    lines.push_back(fmt::format("-n {} link set lo up", ns));
  }
  const int last = topology.routers + 1;
  const int k = topology.interceptor_router;
  const std::string bypass = topology.bypass_namespace();
  // The chain.
  for (int link = 0; link < last; ++link) {
    const std::string west_ns = node_namespace(topology, link);
    const std::string east_ns = node_namespace(topology, link + 1);
    lines.push_back(fmt::format("link add east netns {} type veth peer name west netns {}", west_ns, east_ns));
    lines.push_back(fmt::format("-n {} address add {}/24 dev east", west_ns, link_address(link, 1)));
    lines.push_back(fmt::format("-n {} address add {}/24 dev west", east_ns, link_address(link, 2)));
    lines.push_back(fmt::format("-n {} link set east up", west_ns));
    lines.push_back(fmt::format("-n {} link set west up", east_ns));
  }
  // The bypass twin of the interceptor's router.
  const std::string before = topology.router_namespace(k - 1);
  const std::string after = topology.router_namespace(k + 1);
  lines.push_back(fmt::format("link add eastb netns {} type veth peer name west netns {}", before, bypass));
  lines.push_back(fmt::format("link add east netns {} type veth peer name westb netns {}", bypass, after));
  lines.push_back(fmt::format("-n {} address add 10.210.0.1/24 dev eastb", before));
  lines.push_back(fmt::format("-n {} address add 10.210.0.2/24 dev west", bypass));
  lines.push_back(fmt::format("-n {} address add 10.210.1.1/24 dev east", bypass));
  lines.push_back(fmt::format("-n {} address add 10.210.1.2/24 dev westb", after));
  for (const auto& [ns, device] : {std::pair{before, "eastb"}, std::pair{bypass, "west"}, std::pair{bypass, "east"},
                                   std::pair{after, "westb"}}) {
    lines.push_back(fmt::format("-n {} link set {} up", ns, device));
  }

  // Routes: towards the hosts east, everything else west; each router knows every link net.
  lines.push_back(fmt::format("-n {} route add default via {}", kVantageNamespace, link_address(0, 2)));
  for (int node = 1; node <= topology.routers; ++node) {
    const std::string ns = topology.router_namespace(node);
    lines.push_back(fmt::format("-n {} route add 198.18.0.0/15 via {}", ns, link_address(node, 2)));
    lines.push_back(fmt::format("-n {} route add default via {}", ns, link_address(node - 1, 1)));
    for (int link = node + 1; link < last; ++link) {
      lines.push_back(fmt::format("-n {} route add 10.200.{}.0/24 via {}", ns, link, link_address(node, 2)));
    }
  }
  lines.push_back(fmt::format("-n {} route add default via {}", kHostsNamespace, link_address(last - 1, 1)));
  // AnyIP: the whole host space is local in the hosts namespace; one server answers on every address.
  lines.push_back(fmt::format("-n {} route add local 198.18.0.0/15 dev lo", kHostsNamespace));

  // Split at the interceptor: r(K-1) sends bypass prefixes to the twin, r(K+1) returns by source.
  lines.push_back(fmt::format("-n {} route replace 198.18.0.0/15 via 10.210.0.2", before));
  add_prefix_routes(lines, before, plan, PathKind::kInterceptor, "add", link_address(k - 1, 2));
  lines.push_back(fmt::format("-n {} route add 198.18.0.0/15 via 10.210.1.2", bypass));
  lines.push_back(fmt::format("-n {} route add default via 10.210.0.1", bypass));
  for (int link = k + 1; link < last; ++link) {
    lines.push_back(fmt::format("-n {} route add 10.200.{}.0/24 via 10.210.1.2", bypass, link));
  }
  lines.push_back(fmt::format("-n {} route add 10.210.1.0/24 via 10.210.0.2", before));
  lines.push_back(fmt::format("-n {} route add 10.210.0.0/24 via {}", after, link_address(k, 1)));
  lines.push_back(fmt::format("-n {} route replace default via 10.210.1.1", after));
  lines.push_back(fmt::format("-n {} route add default via {} table 100", after, link_address(k, 1)));
  add_source_rules(lines, after, plan, PathKind::kInterceptor, "add");
  // The routers between the split and the hosts reach 10.210/16 through the split's east router.
  for (int node = k + 2; node <= topology.routers; ++node) {
    lines.push_back(fmt::format("-n {} route add 10.210.0.0/16 via {}", topology.router_namespace(node), link_address(node - 1, 1)));
  }
  lines.push_back(fmt::format("-n {} route add 10.210.0.0/16 via {}", kHostsNamespace, link_address(last - 1, 1)));
  for (int node = 1; node < k - 1; ++node) {
    lines.push_back(fmt::format("-n {} route add 10.210.0.0/16 via {}", topology.router_namespace(node), link_address(node, 2)));
  }
  // The interceptor's own sockets (stolen flows, proxy) receive packets addressed to others.
  lines.push_back(fmt::format("-n {} rule add fwmark 1 lookup 101 priority 100", topology.interceptor_namespace()));
  lines.push_back(fmt::format("-n {} route add local 0.0.0.0/0 dev lo table 101", topology.interceptor_namespace()));
  auto evening = evening_route_commands(topology, plan, evening_through_interceptor);
  // At build time there is no rule to delete yet.
  std::erase_if(evening, [](const std::string& line) { return line.find(" rule del ") != std::string::npos; });
  lines.insert(lines.end(), evening.begin(), evening.end());
  return lines;
}

std::vector<std::string> evening_route_commands(const Topology& topology, const Plan& plan, bool through_interceptor) {
  std::vector<std::string> lines;
  const int k = topology.interceptor_router;
  const std::string before = topology.router_namespace(k - 1);
  const std::string after = topology.router_namespace(k + 1);
  add_prefix_routes(lines, before, plan, PathKind::kEvening, "replace",
                    through_interceptor ? link_address(k - 1, 2) : "10.210.0.2");
  for (const auto& prefix : plan.prefixes) {
    if (prefix.path != PathKind::kEvening) continue;
    // Deleting a rule that is not there fails; `ip -batch -force` would hide real errors, so
    // the caller only asks for a change when the state changes.
    lines.push_back(fmt::format("-n {} rule {} from {} lookup 100 priority 100", after, through_interceptor ? "add" : "del",
                                prefix.cidr));
  }
  return lines;
}

std::vector<std::vector<std::string>> sysctl_commands(const Topology& topology) {
  std::vector<std::vector<std::string>> commands;
  for (const auto& ns : topology.namespaces) {
    const bool router = ns != kVantageNamespace && ns != kHostsNamespace;
    std::vector<std::string> command = {"ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                                        "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                                        "net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=1000000",
                                        "net.ipv4.icmp_msgs_burst=1000000"};
    if (router) {
      command.push_back("net.ipv4.ip_forward=1");
      command.push_back("net.ipv4.icmp_errors_use_inbound_ifaddr=1");
    }
    if (ns == kHostsNamespace) command.push_back("net.core.somaxconn=4096");
    commands.push_back(std::move(command));
  }
  return commands;
}

std::string interceptor_rules(const Plan& plan, InterceptorMode mode) {
  (void)plan;
  // Marks: 1 = belongs to a socket of the interceptor (stolen flow, or the proxy), delivered
  // locally by the policy route "fwmark 1 lookup 101"; 2 = a flow the interceptor let pass.
  std::string rules =
      "*mangle\n"
      ":PREROUTING ACCEPT [0:0]\n"
      "-A PREROUTING -p tcp -m socket --transparent -j MARK --set-xmark 0x1/0xffffffff\n"
      "-A PREROUTING -m mark --mark 0x1 -j ACCEPT\n"
      // A new flow starts undecided, even when conntrack reuses the entry of an earlier flow with
      // the same addresses and ports (client port reuse), which still carries that flow's mark.
      "-A PREROUTING -p tcp --dport 443 --tcp-flags SYN,ACK,RST SYN -j CONNMARK --set-xmark 0x0/0xffffffff\n"
      "-A PREROUTING -m mark --mark 0x2 -j CONNMARK --save-mark\n"
      "-A PREROUTING -m connmark --mark 0x2 -j ACCEPT\n";
  if (mode == InterceptorMode::kTerminatingProxy) {
    // Every new connection to port 443 is terminated here (TPROXY to the local proxy port).
    rules += "-A PREROUTING -p tcp --dport 443 -j TPROXY --on-port 4443 --on-ip 127.0.0.1 --tproxy-mark 0x1/0xffffffff\n";
  } else {
    // In path: learn TCP options from SYN and SYN-ACK, and look at every first TLS record.
    rules +=
        "-A PREROUTING -p tcp --dport 443 --tcp-flags SYN,ACK,RST SYN -j NFQUEUE --queue-num 0 --queue-bypass\n"
        "-A PREROUTING -p tcp --sport 443 --tcp-flags SYN,ACK,RST SYN,ACK -j NFQUEUE --queue-num 0 --queue-bypass\n"
        // Every other packet of an undecided flow: the handshake's ACK and the segments of the
        // ClientHello (Chromium's spans two). A decided flow never comes back (marks 1 and 2).
        "-A PREROUTING -p tcp --dport 443 -j NFQUEUE --queue-num 0 --queue-bypass\n";
  }
  rules += "COMMIT\n";
  return rules;
}

std::vector<std::string> existing_lab_namespaces() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kNamespacePrefix)) names.push_back(name);
  }
  return names;
}

}  // namespace mitmscope::lab
