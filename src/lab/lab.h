// `lab up/down/status/switch`: the emulated country on this machine.
//
// `lab up` builds the namespaces and routes (lab/topology), mints the lab's public CA
// and the interceptor's hierarchy, writes what users need into the state directory,
// and starts one daemon process whose threads live in different namespaces: the
// TLS hosts (ms-hosts), the interceptor (at its router) and the scheduler (which
// switches the interceptor, its forging rules and the evening routes over time).
// `lab down` removes all of it, also after a crash: it finds the daemon by its pid
// file and the namespaces by their "ms-" prefix.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "core/error.h"
#include "lab/scenario.h"
#include "lab/topology.h"

namespace mitmscope::lab {

inline constexpr const char* kDefaultStateDirectory = "/run/mitmscope-lab";
// /run/mitmscope-lab for root, /tmp/mitmscope-lab-UID for others (loopback mode).
std::filesystem::path default_state_directory();

// Loopback mode (no root): hosts on 127.18.0.0/15 port 18443, the interceptor as a relay on
// port 8443 of the same addresses; the hosts file lists the relay addresses.
inline constexpr uint16_t kLoopbackRelayPort = 8443;
inline constexpr uint16_t kLoopbackHostPort = 18443;

struct LabUpOptions {
  std::string scenario = "kz-2019";
  size_t size = 0;                                  // hosts; 0: the scenario's default size
  std::filesystem::path state_directory = kDefaultStateDirectory;
  bool loopback = false;
};

// Whether the lab in this state directory runs in loopback mode (no namespaces).
bool lab_is_loopback(const std::filesystem::path& state_directory);

struct LabPaths {
  std::filesystem::path directory;
  std::filesystem::path trust_store() const { return directory / "public-ca.pem"; }
  std::filesystem::path known_roots() const { return directory / "known-roots"; }
  std::filesystem::path hosts() const { return directory / "hosts.txt"; }
  std::filesystem::path domains() const { return directory / "domains.txt"; }
  std::filesystem::path prefix_table() const { return directory / "pfx2as.txt"; }
  std::filesystem::path ground_truth() const { return directory / "ground-truth.json"; }
  // A content provider's certificate and key under the public CA (sentinel tests).
  std::filesystem::path provider_certificate() const { return directory / "provider.pem"; }
  std::filesystem::path provider_key() const { return directory / "provider-key.pem"; }
  std::filesystem::path state() const { return directory / "lab.json"; }
  std::filesystem::path daemon_status() const { return directory / "daemon.json"; }
  std::filesystem::path override_file() const { return directory / "override"; }
  std::filesystem::path schedule_restart() const { return directory / "schedule-restart"; }
  std::filesystem::path reset_request() const { return directory / "reset-counters"; }
  std::filesystem::path log() const { return directory / "daemon.log"; }
};

struct LabUpResult {
  LabPaths paths;
  size_t hosts = 0;
  double seconds = 0;
  int daemon_pid = 0;
};

Result<LabUpResult> lab_up(const LabUpOptions& options, const std::function<void(std::string_view)>& progress);
// Removes everything the lab made; succeeds when there is nothing to remove.
Result<size_t> lab_down(const std::filesystem::path& state_directory);
// A text report: scenario, paths, addresses, daemon and interceptor state.
Result<std::string> lab_status(const std::filesystem::path& state_directory);
// "on", "off" or "schedule": overrides the scenario's schedule until set back to "schedule" (the override pauses
// the schedule's clock: its rules stay those of the moment it was set, and "schedule" continues from there);
// "restart": back to the schedule, whose clock starts again at 0 now (the demo times its pause so).
Result<void> lab_switch(const std::filesystem::path& state_directory, std::string_view state);
// The daemon's counters as JSON (interceptor, hosts, connection rates seen at the hosts).
// With reset, the hosts' connection-rate windows start again first (the daemon acknowledges
// within a second) and the counters returned are the fresh ones.
Result<std::string> lab_counters(const std::filesystem::path& state_directory, bool reset);

}  // namespace mitmscope::lab
