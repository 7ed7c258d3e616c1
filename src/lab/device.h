// The interception device the lab daemon runs at the interceptor's router, behind the one
// interface its scheduler drives: the lab's own (lab/interceptor, in a thread that lives in the
// router's namespace) or a real product from Debian (lab/product: its processes started in the
// router's namespace with `ip netns exec`, switched on and off by the NAT rule that sends port 443
// to it). The scheduler says on/off, forging rules and intermediate; each device takes what it can
// (a product has its own forging rules and signs with the root).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "lab/forger.h"
#include "lab/scenario.h"
#include "lab/topology.h"

namespace mitmscope::lab {

struct DeviceState {
  bool on = true;
  ForgingRules rules;
  size_t intermediate = 0;
};

struct DeviceContext {
  const Scenario& scenario;
  const Plan& plan;
  const Topology& topology;
  const IssuerHierarchy& hierarchy;
  const Identity& public_ca;
  std::filesystem::path state_directory;
  bool loopback = false;
  const std::atomic<bool>* evening_on_path = nullptr;   // loopback relay: where evening prefixes go now
};

class Device {
 public:
  virtual ~Device() = default;
  // Started in the interceptor's namespace (from any thread of the daemon); fails with the reason.
  virtual Result<void> start() = 0;
  virtual void apply(const DeviceState& state) = 0;
  virtual nlohmann::ordered_json status() const = 0;
  virtual void stop() = 0;
};

std::unique_ptr<Device> make_device(const DeviceContext& context);

// The directory of a product's files (configuration, logs) under the lab's state directory.
inline std::filesystem::path device_directory(const std::filesystem::path& state_directory) {
  return state_directory / "device";
}

// The lab resolver's hosts file: every host on the interceptor's path (and the evening prefixes)
// under its own name and under every name the scenario resolves (targeted but not unresolved,
// untargeted). A product that checks DNS accepts exactly those names for those addresses.
std::string resolver_hosts(const Scenario& scenario, const Plan& plan);

// The names the lab resolver maps to the hosts: targeted and untargeted, less the unresolved ones.
std::vector<std::string> resolved_names(const Scenario& scenario);

}  // namespace mitmscope::lab
