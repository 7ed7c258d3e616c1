#include "lab/lab.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/private_file.h"
#include "core/unique_fd.h"
#include "lab/command.h"
#include "lab/host_server.h"
#include "lab/device.h"
#include "x509/certificate_reader.h"

namespace mitmscope::lab {
namespace {

using Json = nlohmann::ordered_json;
std::atomic<bool> g_stop{false};

struct LabSecrets {
  Identity public_ca;
  IssuerHierarchy hierarchy;
};

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(stream), {});
}

// Loopback mode moves the plan's 198.18.0.0/15 to 127.18.0.0/15.
uint32_t lab_address(uint32_t plan_address, bool loopback) {
  return loopback ? (plan_address & 0x00ffffffu) | (127u << 24) : plan_address;
}

// The package's installed version, for the ground truth's provenance.
std::string package_version(std::string_view package) {
  auto version = run_command({"dpkg-query", "-W", "-f=${Version}", std::string(package)});
  return version ? *version : "unknown";
}

// What the device is and what it does with each name: the ground truth a measurement is checked against.
Json device_truth(const Scenario& scenario) {
  const auto expectation = product_expectation(scenario.product);
  const std::set<std::string> unresolved(scenario.unresolved_domains.begin(), scenario.unresolved_domains.end());
  Json fates = Json::object();
  for (const auto& name : scenario.targeted_domains) fates[name] = name_fate_name(expectation.fate(true, !unresolved.contains(name)));
  for (const auto& name : scenario.untargeted_domains) {
    fates[name] = name_fate_name(expectation.fate(false, !unresolved.contains(name)));
  }
  Json truth = {{"product", product_name(scenario.product)},
                {"package", product_package(scenario.product)},
                {"version", scenario.product == Product::kLabDevice ? std::string("built in")
                                                                   : package_version(product_package(scenario.product))},
                {"signs_with", scenario.product == Product::kLabDevice ? "intermediate" : "root"},
                {"names", fates},
                {"controls", name_fate_name(expectation.untargeted_unresolved)},
                {"resolved_names", resolved_names(scenario)},
                {"unresolved_domains", scenario.unresolved_domains}};
  if (scenario.product != Product::kLabDevice) truth["listen_port"] = kProductPort;
  return truth;
}

void write_user_files(const Scenario& scenario, const Plan& plan, const Topology& topology, const LabPaths& paths,
                      const LabSecrets& secrets, bool loopback) {
  const uint16_t port = loopback ? kLoopbackRelayPort : 443;
  std::filesystem::create_directories(paths.known_roots());
  write_text(paths.trust_store(), certificate_pem(secrets.public_ca.certificate));
  write_text(paths.known_roots() / "lab-root.pem", certificate_pem(secrets.hierarchy.root.certificate));
  const Json registry = {
      {"format", "mitmscope-known-interceptors/1"},
      {"entries", Json::array({{{"id", "lab-root"},
                                {"name", fmt::format("{} (mitmscope lab, scenario {})",
                                                     secrets.hierarchy.root.certificate.common_name().value_or("root"),
                                                     scenario.name)},
                                {"country", "KZ"},
                                {"operator", scenario.product == Product::kLabDevice
                                                 ? std::string("mitmscope lab interceptor")
                                                 : fmt::format("{} (Debian package {}) in the mitmscope lab",
                                                               product_name(scenario.product), product_package(scenario.product))},
                                {"kind", "root"},
                                {"incident", fmt::format("lab scenario {}", scenario.name)},
                                {"references", Json::array({"docs/LAB.md"})},
                                {"source", "minted by mitmscope lab up"},
                                {"file", "lab-root.pem"},
                                {"sha256", secrets.hierarchy.root.certificate.sha256_hex()}}})}};
  write_text(paths.known_roots() / "registry.json", registry.dump(2));
  // A content provider's certificate under the public CA, for the targeted names: what `sentinel
  // --listen` serves when a test puts it on one of the hosts' addresses.
  CertificateSpec provider_spec;
  provider_spec.subject = {{"C", "US"}, {"O", "mitmscope lab content provider"}, {"CN", "provider.lab"}};
  provider_spec.dns_names = scenario.targeted_domains;
  provider_spec.dns_names.push_back("provider.lab");
  provider_spec.not_before = now_utc() - std::chrono::days{1};
  provider_spec.not_after = now_utc() + std::chrono::days{90};
  if (auto provider = make_identity(provider_spec, KeySpec{.type = KeySpec::Type::kEcP256}, &secrets.public_ca)) {
    write_text(paths.provider_certificate(), certificate_pem(provider->certificate));
    if (auto key = private_key_pem(provider->key.get())) (void)write_private_file(paths.provider_key(), *key);
  }

  std::string hosts, prefixes;
  Json intercepted = Json::array(), bypass = Json::array(), evening = Json::array(), untrusted = Json::array();
  for (const auto& prefix : plan.prefixes) {
    prefixes += fmt::format("{}\t{}\t{}\n", ipv4_to_string(lab_address(prefix.network, loopback)), prefix.length, prefix.asn);
    for (uint32_t address : prefix.hosts) {
      const std::string ip = ipv4_to_string(lab_address(address, loopback));
      hosts += fmt::format("{}:{} AS{}\n", ip, port, prefix.asn);
      if (plan.is_untrusted_host(address)) {
        untrusted.push_back(ip);
      } else if (prefix.path == PathKind::kInterceptor) {
        intercepted.push_back(ip);
      } else if (prefix.path == PathKind::kEvening) {
        evening.push_back(ip);
      } else {
        bypass.push_back(ip);
      }
    }
  }
  write_text(paths.hosts(), hosts);
  write_text(paths.prefix_table(), prefixes);
  std::string domains;
  for (const auto& domain : scenario.targeted_domains) domains += domain + "\n";
  for (const auto& domain : scenario.untargeted_domains) domains += domain + "\n";
  write_text(paths.domains(), domains);
  Json intermediates = Json::array();
  for (const auto& intermediate : secrets.hierarchy.intermediates) {
    const auto& certificate = intermediate.certificate;
    intermediates.push_back({{"subject", certificate.subject()},
                             {"sha256", certificate.sha256_hex()},
                             {"sha1", certificate.sha1_hex()},
                             {"not_before", format_utc(*certificate.not_before())},
                             {"not_after", format_utc(*certificate.not_after())}});
  }
  Json schedule = Json::array();
  for (const auto& event : scenario.schedule.events) {
    Json item = {{"at_seconds", event.at_seconds}};
    if (event.interceptor_on) item["interceptor"] = *event.interceptor_on ? "on" : "off";
    if (event.evening_through_interceptor) item["evening"] = *event.evening_through_interceptor ? "interceptor" : "bypass";
    if (event.validity_shift_hours) item["validity_shift_hours"] = *event.validity_shift_hours;
    if (event.key_bits) item["key_bits"] = *event.key_bits;
    if (event.intermediate) item["intermediate"] = *event.intermediate;
    schedule.push_back(item);
  }
  Json routers = Json::array();
  for (int i = 1; i <= topology.routers; ++i) routers.push_back(topology.router_address(i));
  const Json truth = {
      {"scenario", scenario.name},
      {"hosts", plan.host_count},
      {"targeted_domains", scenario.targeted_domains},
      {"intercepted_hosts", intercepted},
      {"evening_hosts", evening},
      {"bypass_hosts", bypass},
      {"untrusted_hosts", untrusted},
      {"interceptor_hop", topology.interceptor_router},
      {"host_hop", topology.routers + 1},
      {"router_addresses", routers},
      {"bypass_router_address", topology.bypass_router_address()},
      {"mode", scenario.mode == InterceptorMode::kInPath ? "in-path" : "terminating-proxy"},
      {"vantage_address", loopback ? "127.0.0.1" : kVantageAddress},
      {"loopback", loopback},
      {"port", port},
      {"root", {{"subject", secrets.hierarchy.root.certificate.subject()},
                {"sha256", secrets.hierarchy.root.certificate.sha256_hex()},
                {"sha1", secrets.hierarchy.root.certificate.sha1_hex()}}},
      {"intermediates", intermediates},
      {"initial_intermediate", scenario.issuer.initial_intermediate},
      {"forging", {{"validity_shift_hours", scenario.forging.validity_shift_hours},
                   {"key_bits", scenario.forging.key_bits},
                   {"key_exponent", scenario.forging.key_exponent},
                   {"serial_random_bits", scenario.forging.serial_random_bits}}},
      {"schedule", schedule},
      {"repeat_every_seconds", scenario.schedule.repeat_every_seconds},
      {"device", device_truth(scenario)},
  };
  write_text(paths.ground_truth(), truth.dump(2));
}

// The scheduler's view of time: events are offsets from `lab up`, repeated if asked.
struct ScheduleState {
  bool interceptor_on;
  bool evening_through_interceptor;
  ForgingRules rules;
  size_t intermediate;
};

ScheduleState schedule_at(const Scenario& scenario, long elapsed_seconds) {
  ScheduleState state{scenario.schedule.interceptor_on, scenario.schedule.evening_through_interceptor, scenario.forging,
                      scenario.issuer.initial_intermediate};
  long position = elapsed_seconds;
  if (scenario.schedule.repeat_every_seconds > 0) position %= scenario.schedule.repeat_every_seconds;
  for (const auto& event : scenario.schedule.events) {
    if (event.at_seconds > position) break;
    if (event.interceptor_on) state.interceptor_on = *event.interceptor_on;
    if (event.evening_through_interceptor) state.evening_through_interceptor = *event.evening_through_interceptor;
    if (event.validity_shift_hours) state.rules.validity_shift_hours = *event.validity_shift_hours;
    if (event.key_bits) state.rules.key_bits = *event.key_bits;
    if (event.intermediate) state.intermediate = *event.intermediate;
  }
  return state;
}

int run_daemon(const Scenario& scenario, const Plan& plan, const Topology& topology, const LabPaths& paths,
               int ready_fd, int acknowledge_fd, const LabSecrets& secrets, bool loopback) {
  // Until `lab up` has recorded our pid, we die with it: a `lab up` killed mid-way must not
  // leave a daemon that `lab down` cannot find (and that would enter the next lab's namespaces).
  bool acknowledged = false;
  UniqueFd ready(ready_fd), acknowledge(acknowledge_fd);
  auto report_ready = [&](const std::string& message) {
    [[maybe_unused]] auto written = ::write(ready.get(), message.data(), message.size());
    char byte = 0;
    acknowledged = message.starts_with("ready") && ::read(acknowledge.get(), &byte, 1) == 1;
    acknowledge.reset();
    if (acknowledged) {
      ::prctl(PR_SET_PDEATHSIG, 0);
      // Only now may `lab up` exit: before this, its exit would kill us.
      [[maybe_unused]] auto detached = ::write(ready.get(), "detached\n", 9);
    }
    ready.reset();
  };
  struct sigaction action {};
  action.sa_handler = [](int) { g_stop = true; };
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);

  // The main thread lives in the hosts namespace, so `ip netns pids ms-hosts` finds the daemon.
  if (auto entered = loopback ? Result<void>() : enter_namespace(kHostsNamespace); !entered) {
    report_ready("error: " + entered.error().message + "\n");
    return 1;
  }
  HostServer hosts({.public_ca = secrets.public_ca,
                    .plan = &plan,
                    .port = loopback ? kLoopbackHostPort : uint16_t{443},
                    .loopback = loopback});
  if (auto listening = hosts.listen(); !listening) {
    report_ready("error: " + listening.error().message + "\n");
    return 1;
  }
  std::atomic<bool> evening_on_path{scenario.schedule.evening_through_interceptor};
  auto device = make_device({.scenario = scenario,
                             .plan = plan,
                             .topology = topology,
                             .hierarchy = secrets.hierarchy,
                             .public_ca = secrets.public_ca,
                             .state_directory = paths.directory,
                             .loopback = loopback,
                             .evening_on_path = &evening_on_path});
  if (auto started = device->start(); !started) {
    report_ready("error: " + started.error().message + "\n");
    return 1;
  }
  std::thread host_thread([&] { hosts.run(); });
  report_ready("ready\n");
  if (!acknowledged) g_stop = true;

  auto started = std::chrono::steady_clock::now();
  bool paused = false;                                   // an override holds the schedule's clock
  std::chrono::steady_clock::duration paused_at{};       // its reading then
  bool evening = scenario.schedule.evening_through_interceptor;
  while (!g_stop) {
    // The request file is removed once the restarted schedule's state is applied: that is the acknowledgement.
    const bool restart_requested = std::filesystem::exists(paths.schedule_restart());
    const auto now = std::chrono::steady_clock::now();
    if (restart_requested) {
      started = now;
      paused = false;
    }
    const std::string override_state = read_text(paths.override_file());
    // An override (switch on/off) pauses the schedule's clock: its rules stay those of the moment it was set, and
    // `switch schedule` continues from there (`switch restart` from 0). So the demo's scan, run while the
    // interceptor is held on, sees the scenario's first rules however long discover took.
    if (paused && !override_state.empty()) started = now - paused_at;
    paused = !override_state.empty();
    paused_at = now - started;
    const long elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - started).count();
    auto state = schedule_at(scenario, elapsed);
    if (override_state.starts_with("on")) state.interceptor_on = true;
    if (override_state.starts_with("off")) state.interceptor_on = false;
    device->apply({.on = state.interceptor_on, .rules = state.rules, .intermediate = state.intermediate});
    if (restart_requested) std::filesystem::remove(paths.schedule_restart());
    if (state.evening_through_interceptor != evening) {
      evening_on_path = state.evening_through_interceptor;
      if (auto changed = loopback ? Result<void>()
                                  : ip_batch(evening_route_commands(topology, plan, state.evening_through_interceptor));
          changed) {
        evening = state.evening_through_interceptor;
      } else {
        fmt::print(stderr, "evening route change failed: {}\n", changed.error().message);
      }
    }
    if (std::filesystem::exists(paths.reset_request())) {
      hosts.reset_connection_rates();
      std::filesystem::remove(paths.reset_request());
    }
    const auto rates = hosts.connection_rates();
    Json status = {{"pid", ::getpid()},
                   {"elapsed_seconds", elapsed},
                   {"interceptor_on", state.interceptor_on},
                   {"override", override_state.empty() ? "schedule" : override_state.substr(0, override_state.find('\n'))},
                   {"evening_through_interceptor", evening},
                   {"validity_shift_hours", state.rules.validity_shift_hours},
                   {"key_bits", state.rules.key_bits}};
    status.update(device->status());
    status.update({{"host_handshakes", hosts.handshakes()},
                   {"host_connections", rates.connections},
                   {"host_max_connections_per_address_per_second", rates.max_per_address_per_second},
                   {"host_busiest_address", ipv4_to_string(rates.busiest_address)},
                   {"host_busiest_client", ipv4_to_string(rates.busiest_client)},
                   {"host_max_connections_per_client_per_second", rates.max_total_per_second},
                   {"host_client_hello_shapes", hosts.client_hello_shapes()}});
    write_text(paths.daemon_status().string() + ".tmp", status.dump(2));
    std::filesystem::rename(paths.daemon_status().string() + ".tmp", paths.daemon_status());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  hosts.stop();
  device->stop();
  host_thread.join();
  return 0;
}

int read_pid(const LabPaths& paths) {
  const auto state = Json::parse(read_text(paths.state()), nullptr, false);
  if (state.is_object() && state.contains("daemon_pid")) return state["daemon_pid"].get<int>();
  const auto status = Json::parse(read_text(paths.daemon_status()), nullptr, false);
  if (status.is_object() && status.contains("pid")) return status["pid"].get<int>();
  return 0;
}

// Alive and not a zombie (an init that does not reap leaves exited daemons as zombies).
bool process_alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  const std::string stat = read_text(fmt::format("/proc/{}/stat", pid));
  const size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

void stop_process(int pid) {
  if (!process_alive(pid)) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100 && process_alive(pid); ++i) {
    ::waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (process_alive(pid)) ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, WNOHANG);
}

}  // namespace

std::filesystem::path default_state_directory() {
  if (running_as_root()) return kDefaultStateDirectory;
  return std::filesystem::temp_directory_path() / fmt::format("mitmscope-lab-{}", ::getuid());
}

bool lab_is_loopback(const std::filesystem::path& state_directory) {
  const auto state = Json::parse(read_text(LabPaths{state_directory}.state()), nullptr, false);
  return state.is_object() && state.value("mode", "") == "loopback";
}

Result<size_t> lab_down(const std::filesystem::path& state_directory) {
  const LabPaths paths{state_directory};
  const bool loopback = lab_is_loopback(state_directory);
  stop_process(read_pid(paths));
  size_t removed = 0;
  // A loopback lab made no namespace; it leaves those of a namespace lab alone.
  const auto namespaces = loopback ? std::vector<std::string>{} : existing_lab_namespaces();
  if (!namespaces.empty() && !running_as_root()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("lab down: {} lab namespaces exist and removing them needs root", namespaces.size()));
  }
  for (const auto& ns : namespaces) {
    // Processes still inside (a daemon whose pid file was lost, a `lab exec` left running) go first.
    if (auto pids = run_command({"ip", "netns", "pids", ns})) {
      std::istringstream stream(*pids);
      for (int pid; stream >> pid;) stop_process(pid);
    }
    if (auto deleted = run_command({"ip", "netns", "delete", ns}); !deleted) return std::unexpected(deleted.error());
    ++removed;
  }
  std::error_code error;
  std::filesystem::remove_all(state_directory, error);
  if (!loopback) std::filesystem::remove_all(kProductRuntimeDirectory, error);
  return removed;
}

Result<LabUpResult> lab_up(const LabUpOptions& options, const std::function<void(std::string_view)>& progress) {
  if (!options.loopback && !running_as_root()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "lab up needs root: it creates network namespaces, veth links and routes (sudo mitmscope lab up). "
                      "Without root, `mitmscope lab up --loopback` runs the same hosts and interceptor on 127.18.0.0/15 "
                      "(no routers, so no TTL realism).");
  }
  const auto started = std::chrono::steady_clock::now();
  auto scenario = load_scenario(options.scenario);
  if (!scenario) return std::unexpected(scenario.error());
  auto plan = plan_scenario(*scenario, options.size);
  if (!plan) return std::unexpected(plan.error());
  const Topology topology = make_topology(*scenario);
  const LabPaths paths{options.state_directory};

  if (auto stale = lab_down(options.state_directory); stale && *stale > 0) {
    progress(fmt::format("removed a stale lab ({} namespaces)", *stale));
  }
  std::filesystem::create_directories(paths.directory);
  if (options.loopback) {
    progress(fmt::format("scenario {}: {} hosts in {} prefixes on 127.18.0.0/15, loopback mode: the interceptor is a "
                         "relay on port {}, hosts on port {}, no routers",
                         scenario->name, plan->host_count, plan->prefixes.size(), kLoopbackRelayPort, kLoopbackHostPort));
  } else {
    progress(fmt::format("scenario {}: {} hosts in {} prefixes, {} routers, interceptor at hop {} ({})", scenario->name,
                         plan->host_count, plan->prefixes.size(), topology.routers, topology.interceptor_router,
                         scenario->mode == InterceptorMode::kInPath ? "in-path" : "terminating proxy"));
  }
  if (options.loopback) {
    // nothing to build: the loopback interface already holds 127.0.0.0/8
  } else if (auto built = ip_batch(topology_commands(topology, *plan, scenario->schedule.evening_through_interceptor)); !built) {
    lab_down(options.state_directory);
    return std::unexpected(built.error());
  }
  for (const auto& command : options.loopback ? std::vector<std::vector<std::string>>{} : sysctl_commands(topology)) {
    if (auto set = run_command(command); !set) {
      lab_down(options.state_directory);
      return std::unexpected(set.error());
    }
  }
  // A product's NAT rule is the device's to add (lab/device): it is how the device is switched.
  const bool mangle_rules = !options.loopback && scenario->product == Product::kLabDevice;
  if (auto rules = !mangle_rules ? Result<std::string>()
                                    : run_command({"ip", "netns", "exec", topology.interceptor_namespace(), "iptables-restore"},
                                                  interceptor_rules(*plan, scenario->mode));
      !rules) {
    lab_down(options.state_directory);
    return std::unexpected(rules.error());
  }
  progress(options.loopback ? "minting the lab's public CA and the interceptor's hierarchy"
                            : "network built; minting the lab's public CA and the interceptor's hierarchy");

  const auto now = now_utc();
  CertificateSpec ca_spec;
  ca_spec.subject = {{"C", "US"}, {"O", "mitmscope lab"}, {"CN", "mitmscope lab public root (stands for the Web PKI)"}};
  ca_spec.not_before = now - std::chrono::days{365};
  ca_spec.not_after = now + std::chrono::days{3650};
  ca_spec.is_ca = true;
  auto public_ca = make_identity(ca_spec, KeySpec{.type = KeySpec::Type::kEcP256}, nullptr);
  auto hierarchy = make_issuer_hierarchy(scenario->issuer, now);
  if (!public_ca || !hierarchy) {
    lab_down(options.state_directory);
    return std::unexpected(!public_ca ? public_ca.error() : hierarchy.error());
  }
  const LabSecrets secrets{std::move(*public_ca), std::move(*hierarchy)};
  write_user_files(*scenario, *plan, topology, paths, secrets, options.loopback);

  // The daemon is this process forked, not a program: it runs run_daemon and never execs.
  auto ready = make_pipe(O_CLOEXEC);
  auto acknowledge = make_pipe(O_CLOEXEC);
  if (!ready || !acknowledge) return std::unexpected(!ready ? ready.error() : acknowledge.error());
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the parent died before the line above
    ready->read.reset();
    acknowledge->write.reset();
    ::setsid();
    const int log = ::open(paths.log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::_exit(run_daemon(*scenario, *plan, topology, paths, ready->write.release(), acknowledge->read.release(), secrets,
                       options.loopback));
  }
  ready->write.reset();
  acknowledge->read.reset();
  // The daemon says "ready" (or "error: ..."), waits for our acknowledgement (its pid is
  // recorded by then), then says "detached" once it no longer dies with us.
  std::string answer;
  char buffer[512];
  ssize_t count;
  while (answer.find('\n') == std::string::npos && (count = ::read(ready->read.get(), buffer, sizeof buffer)) > 0) {
    answer.append(buffer, static_cast<size_t>(count));
  }
  if (!answer.starts_with("ready")) {
    lab_down(options.state_directory);
    return make_error(ErrorCode::kNetworkError, fmt::format("lab daemon did not start: {}", answer.empty() ? "it died" : answer));
  }
  const Json state = {{"scenario", scenario->name},
                      {"mode", options.loopback ? "loopback" : "namespaces"},
                      {"size", plan->host_count},
                      {"started_at", format_utc(now)},
                      {"daemon_pid", pid},
                      {"namespaces", topology.namespaces},
                      {"interceptor_namespace", topology.interceptor_namespace()},
                      {"vantage_namespace", kVantageNamespace}};
  write_text(paths.state(), state.dump(2));
  const char acknowledged = 1;
  [[maybe_unused]] auto written = ::write(acknowledge->write.get(), &acknowledged, 1);
  acknowledge->write.reset();
  while (answer.find("detached") == std::string::npos && (count = ::read(ready->read.get(), buffer, sizeof buffer)) > 0) {
    answer.append(buffer, static_cast<size_t>(count));
  }
  ready->read.reset();
  if (answer.find("detached") == std::string::npos) {
    lab_down(options.state_directory);
    return make_error(ErrorCode::kNetworkError, "lab daemon died while starting; see " + paths.log().string());
  }
  LabUpResult result;
  result.paths = paths;
  result.hosts = plan->host_count;
  result.daemon_pid = pid;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

Result<std::string> lab_status(const std::filesystem::path& state_directory) {
  const LabPaths paths{state_directory};
  const auto state = Json::parse(read_text(paths.state()), nullptr, false);
  if (!state.is_object()) {
    const auto namespaces = existing_lab_namespaces();
    if (namespaces.empty()) return std::string("no lab is up (mitmscope lab up)\n");
    return fmt::format("a broken lab: {} namespaces but no {}; run mitmscope lab down\n", namespaces.size(),
                       paths.state().string());
  }
  const auto daemon = Json::parse(read_text(paths.daemon_status()), nullptr, false);
  const auto truth = Json::parse(read_text(paths.ground_truth()), nullptr, false);
  const int pid = state["daemon_pid"].get<int>();
  std::string text = fmt::format(
      "lab: scenario {}, {} hosts, up since {}, daemon pid {} ({})\n"
      "paths (give these to the tool):\n"
      "  --trust-store {}\n  --known-roots {}\n  hosts   {}\n  domains {}\n  pfx2as  {}\n  truth   {}\n"
      "{}\n",
      state["scenario"].get<std::string>(), state["size"].get<size_t>(), state["started_at"].get<std::string>(), pid,
      process_alive(pid) ? "running" : "NOT RUNNING", paths.trust_store().string(), paths.known_roots().string(),
      paths.hosts().string(), paths.domains().string(), paths.prefix_table().string(), paths.ground_truth().string(),
      state.value("mode", "") == "loopback"
          ? fmt::format("loopback mode: hosts are 127.18.x.y:{} through the interceptor's relay (the genuine servers "
                        "listen on port {}); no routers, so no TTL realism; --allow-private is needed",
                        kLoopbackRelayPort, kLoopbackHostPort)
          : fmt::format("run commands from the vantage point: mitmscope lab exec -- COMMAND (vantage address {})",
                        kVantageAddress));
  if (truth.is_object() && !truth.value("loopback", false)) {
    std::string routers;
    for (const auto& address : truth["router_addresses"]) routers += " " + address.get<std::string>();
    text += fmt::format("routers (hop 1..{}):{}; bypass twin of hop {}: {}\n", truth["router_addresses"].size(), routers,
                        truth["interceptor_hop"].get<int>(), truth["bypass_router_address"].get<std::string>());
  }
  if (truth.is_object()) {
    text += fmt::format("hosts: {} behind the interceptor, {} evening, {} bypass, {} untrusted (ineligible)\n",
                        truth["intercepted_hosts"].size(), truth["evening_hosts"].size(), truth["bypass_hosts"].size(),
                        truth["untrusted_hosts"].size());
  }
  if (daemon.is_object() && daemon.value("device", "lab") == "lab") {
    text += fmt::format("interceptor: {} ({}), validity shift {} h, key {} bits; evening prefixes {}; {} ClientHellos seen, "
                        "{} passed, {} intercepted; {} host handshakes\n",
                        daemon["interceptor_on"].get<bool>() ? "ON" : "OFF", daemon["override"].get<std::string>(),
                        daemon["validity_shift_hours"].get<int>(), daemon["key_bits"].get<int>(),
                        daemon["evening_through_interceptor"].get<bool>() ? "through the interceptor" : "bypassing it",
                        daemon["client_hellos"].get<uint64_t>(), daemon["passed"].get<uint64_t>(),
                        daemon["intercepted"].get<uint64_t>(), daemon["host_handshakes"].get<size_t>());
  } else if (daemon.is_object()) {
    std::string processes;
    for (const auto& process : daemon["processes"]) {
      processes += fmt::format(" {} (pid {}, {})", process["name"].get<std::string>(), process["pid"].get<int>(),
                               process["running"].get<bool>() ? "running" : "EXITED");
    }
    text += fmt::format("interceptor: {} ({}), product {}: {}; processes:{}; evening prefixes {}; {} host handshakes\n",
                        daemon["interceptor_on"].get<bool>() ? "ON" : "OFF", daemon["override"].get<std::string>(),
                        daemon["device"].get<std::string>(), daemon["configuration"].get<std::string>(), processes,
                        daemon["evening_through_interceptor"].get<bool>() ? "through the interceptor" : "bypassing it",
                        daemon["host_handshakes"].get<size_t>());
  }
  return text;
}

namespace {
// A request to the running daemon: a file it removes once it has acted on it (the acknowledgement).
Result<void> ask_daemon(const std::filesystem::path& request, std::string_view what) {
  write_text(request, "request\n");
  if (!std::filesystem::exists(request)) {
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot write {}", what, request.string()));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::filesystem::exists(request)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::filesystem::remove(request);
      return make_error(ErrorCode::kNetworkError, fmt::format("{}: the lab daemon did not answer within 5 s (lab status)", what));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}
}  // namespace

Result<void> lab_switch(const std::filesystem::path& state_directory, std::string_view state) {
  const LabPaths paths{state_directory};
  if (!std::filesystem::exists(paths.state())) return make_error(ErrorCode::kInvalidArgument, "no lab is up");
  if (state == "schedule" || state == "restart") {
    if (state == "restart") {
      // Wait for the daemon to take the restart (it removes the file, then applies the schedule from its start),
      // so a measurement started right after sees the schedule's first state, not the one before the restart.
      if (auto taken = ask_daemon(paths.schedule_restart(), "lab switch restart"); !taken) return taken;
    }
    std::filesystem::remove(paths.override_file());
    return {};
  }
  if (state != "on" && state != "off") {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("lab switch: '{}' is not on, off, schedule or restart", state));
  }
  write_text(paths.override_file(), std::string(state) + "\n");
  // Returns once the daemon has applied it (its status is written after the device is switched), so a
  // measurement started right after sees the new state.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto status = Json::parse(read_text(paths.daemon_status()), nullptr, false);
    if (status.is_object() && status.value("override", "") == state && status.value("interceptor_on", false) == (state == "on")) {
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return make_error(ErrorCode::kNetworkError, fmt::format("lab switch {}: the lab daemon did not apply it within 5 s (lab status)", state));
}

Result<std::string> lab_counters(const std::filesystem::path& state_directory, bool reset) {
  const LabPaths paths{state_directory};
  if (!std::filesystem::exists(paths.daemon_status())) return make_error(ErrorCode::kInvalidArgument, "no lab is up");
  if (reset) {
    if (auto taken = ask_daemon(paths.reset_request(), "lab counters"); !taken) return std::unexpected(taken.error());
    // The status file written after the reset.
    std::this_thread::sleep_for(std::chrono::milliseconds(450));
  }
  return read_text(paths.daemon_status());
}

}  // namespace mitmscope::lab
