#include "lab/device.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/private_file.h"
#include "core/unique_fd.h"
#include "lab/command.h"
#include "lab/host_server.h"
#include "lab/interceptor.h"
#include "lab/lab.h"
#include "lab/pki.h"

namespace mitmscope::lab {
namespace {

using Json = nlohmann::ordered_json;

constexpr auto kProductStartTimeout = std::chrono::seconds(45);
constexpr auto kProductStopTimeout = std::chrono::seconds(5);
constexpr auto kPollInterval = std::chrono::milliseconds(100);
constexpr size_t kLogTailBytes = 600;

// The lab's own device: lab/interceptor in a thread of its own, in the router's namespace.
class LabDevice final : public Device {
 public:
  explicit LabDevice(const DeviceContext& context)
      : context_(context),
        intermediate_(context.scenario.issuer.initial_intermediate),
        interceptor_(context.scenario, context.hierarchy.intermediates[intermediate_],
                     *TrustStore::from_certificates({context.public_ca.certificate}, "lab public CA")) {}

  Result<void> start() override {
    if (context_.loopback) use_loopback();
    std::string error;
    std::atomic<bool> ready{false};
    thread_ = std::thread([&] {
      auto entered = context_.loopback ? Result<void>() : enter_namespace(context_.topology.interceptor_namespace());
      auto started = entered ? interceptor_.start() : Result<void>(std::unexpected(entered.error()));
      if (!started) error = started.error().message;
      const bool run = started.has_value();
      ready = true;
      if (run) interceptor_.run();
    });
    while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (error.empty()) return {};
    stop();
    return make_error(ErrorCode::kNetworkError, error);
  }

  void apply(const DeviceState& state) override {
    interceptor_.set_active(state.on);
    const auto current = interceptor_.forger().rules();
    if (current.validity_shift_hours != state.rules.validity_shift_hours || current.key_bits != state.rules.key_bits) {
      interceptor_.forger().set_rules(state.rules);
    }
    if (state.intermediate != intermediate_) {
      interceptor_.forger().set_issuer(context_.hierarchy.intermediates[state.intermediate]);
      intermediate_ = state.intermediate;
    }
  }

  Json status() const override {
    const auto& stats = interceptor_.stats();
    return {{"device", "lab"},
            {"intermediate", intermediate_},
            {"client_hellos", stats.client_hellos.load()},
            {"passed", stats.passed.load()},
            {"intercepted", stats.intercepted.load()},
            {"genuine_invalid", stats.genuine_invalid.load()},
            {"takeover_failed", stats.takeover_failed.load()},
            {"last_takeover_error", interceptor_.last_takeover_error()},
            {"passed_without_handshake", stats.passed_without_handshake.load()},
            {"retransmissions_dropped", stats.retransmissions_dropped.load()},
            {"passed_busy", stats.passed_busy.load()},
            {"reassembled", stats.reassembled.load()},
            {"passed_incomplete", stats.passed_incomplete.load()},
            {"out_of_order_dropped", stats.out_of_order_dropped.load()},
            {"interceptor_threads", interceptor_.workers()}};
  }

  void stop() override {
    interceptor_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void use_loopback() {
    const Plan& plan = context_.plan;
    const std::atomic<bool>* evening = context_.evening_on_path;
    interceptor_.use_loopback(kLoopbackRelayPort, kLoopbackHostPort, [&plan, evening](uint32_t address) {
      const uint32_t plan_address = (address & 0x00ffffffu) | (198u << 24);
      for (const auto& prefix : plan.prefixes) {
        const uint32_t mask = ~0u << (32 - prefix.length);
        if ((plan_address & mask) != prefix.network) continue;
        return prefix.path == PathKind::kInterceptor || (prefix.path == PathKind::kEvening && evening && evening->load());
      }
      return false;
    });
  }

  DeviceContext context_;
  size_t intermediate_;
  Interceptor interceptor_;
  std::thread thread_;
};

std::string log_tail(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  const std::string text(std::istreambuf_iterator<char>(stream), {});
  return printable(text.size() > kLogTailBytes ? text.substr(text.size() - kLogTailBytes) : text, kLogTailBytes);
}

bool child_running(int pid) { return pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0; }

// A real product: its processes in the router's namespace, port 443 sent to it by a NAT rule.
class ProductDevice final : public Device {
 public:
  explicit ProductDevice(const DeviceContext& context)
      : context_(context), directory_(device_directory(context.state_directory)) {}

  Result<void> start() override {
    auto setup = write_files();
    if (!setup) return std::unexpected(setup.error());
    setup_ = std::move(*setup);
    for (const auto& command : setup_.prepare) {
      if (auto done = run_command(in_namespace(command)); !done) return std::unexpected(done.error());
    }
    for (const auto& process : setup_.processes) {
      auto pid = spawn_process(in_namespace(process.argv), process.log);
      if (!pid) return std::unexpected(pid.error());
      pids_.push_back(*pid);
    }
    if (auto listening = wait_listening(); !listening) {
      stop();
      return listening;
    }
    apply({.on = context_.scenario.schedule.interceptor_on});
    return {};
  }

  void apply(const DeviceState& state) override {
    if (state.on == redirecting_) return;
    if (auto changed = run_command(in_namespace(product_redirect_rule(state.on, setup_.listen_port))); changed) {
      redirecting_ = state.on;
    } else {
      fmt::print(stderr, "device: {}\n", changed.error().message);
    }
  }

  Json status() const override {
    Json processes = Json::array();
    for (size_t i = 0; i < pids_.size(); ++i) {
      processes.push_back({{"name", setup_.processes[i].name}, {"pid", pids_[i]}, {"running", child_running(pids_[i])}});
    }
    return {{"device", product_name(context_.scenario.product)},
            {"configuration", setup_.config_summary},
            {"redirecting", redirecting_},
            {"processes", processes}};
  }

  void stop() override {
    if (redirecting_) apply({.on = false});
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) ::kill(*it, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + kProductStopTimeout;
    for (const int pid : pids_) {
      while (child_running(pid) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(kPollInterval);
      if (child_running(pid)) ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    pids_.clear();
  }

 private:
  std::vector<std::string> in_namespace(const std::vector<std::string>& argv) const {
    std::vector<std::string> out = {"ip", "netns", "exec", context_.topology.interceptor_namespace()};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

  Result<ProductSetup> write_files() {
    using std::filesystem::perms;
    const std::filesystem::path runtime = kProductRuntimeDirectory;
    std::error_code ignored;
    std::filesystem::remove_all(runtime, ignored);
    for (const auto& directory : {directory_, runtime}) {
      std::filesystem::create_directories(directory);
      std::filesystem::permissions(directory, perms::owner_all | perms::group_read | perms::group_exec |
                                                  perms::others_read | perms::others_exec);
    }
    const auto& root = context_.hierarchy.root;
    auto key = private_key_pem(root.key.get());
    if (!key) return std::unexpected(key.error());
    std::ofstream(directory_ / "ca.pem") << certificate_pem(root.certificate);
    if (auto written = write_private_file(directory_ / "ca-key.pem", *key); !written) return std::unexpected(written.error());
    std::ofstream(directory_ / "public-ca.pem") << certificate_pem(context_.public_ca.certificate);
    std::ofstream(runtime / "resolver.hosts") << resolver_hosts(context_.scenario, context_.plan);
    return write_product_files({.product = context_.scenario.product,
                                .directory = directory_,
                                .runtime_directory = runtime,
                                .ca_certificate = directory_ / "ca.pem",
                                .ca_key = directory_ / "ca-key.pem",
                                .upstream_trust = directory_ / "public-ca.pem",
                                .targeted_domains = context_.scenario.targeted_domains,
                                .resolver_hosts = runtime / "resolver.hosts"});
  }

  // Ready when the product listens on its port (ss in the namespace), or failed when a process died.
  Result<void> wait_listening() {
    const auto deadline = std::chrono::steady_clock::now() + kProductStartTimeout;
    const std::vector<std::string> probe =
        in_namespace({"ss", "-Hltn", fmt::format("sport = :{}", setup_.listen_port)});
    while (std::chrono::steady_clock::now() < deadline) {
      for (size_t i = 0; i < pids_.size(); ++i) {
        if (!child_running(pids_[i])) {
          return make_error(ErrorCode::kNetworkError,
                            fmt::format("{} exited while starting; its log ({}): {}", setup_.processes[i].name,
                                        setup_.processes[i].log.string(), log_tail(setup_.processes[i].log)));
        }
      }
      if (auto listening = run_command(probe); listening && !listening->empty()) return {};
      std::this_thread::sleep_for(kPollInterval);
    }
    return make_error(ErrorCode::kNetworkError,
                      fmt::format("{} did not listen on port {} within {} s", product_name(context_.scenario.product),
                                  setup_.listen_port, kProductStartTimeout.count()));
  }

  DeviceContext context_;
  std::filesystem::path directory_;
  ProductSetup setup_;
  std::vector<int> pids_;
  bool redirecting_ = false;
};

}  // namespace

std::vector<std::string> resolved_names(const Scenario& scenario) {
  const std::set<std::string> unresolved(scenario.unresolved_domains.begin(), scenario.unresolved_domains.end());
  std::vector<std::string> names;
  for (const auto* list : {&scenario.targeted_domains, &scenario.untargeted_domains}) {
    for (const auto& name : *list) {
      if (!unresolved.contains(name)) names.push_back(name);
    }
  }
  return names;
}

std::string resolver_hosts(const Scenario& scenario, const Plan& plan) {
  std::string names;
  for (const auto& name : resolved_names(scenario)) names += " " + name;
  std::string text;
  for (const auto& prefix : plan.prefixes) {
    if (prefix.path == PathKind::kBypass) continue;
    for (const uint32_t address : prefix.hosts) {
      text += fmt::format("{} {}{}\n", ipv4_to_string(address), host_name_for(address, prefix.asn), names);
    }
  }
  return text;
}

std::unique_ptr<Device> make_device(const DeviceContext& context) {
  if (context.scenario.product == Product::kLabDevice) return std::make_unique<LabDevice>(context);
  return std::make_unique<ProductDevice>(context);
}

}  // namespace mitmscope::lab
