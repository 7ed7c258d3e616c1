// Each subcommand registers its flags and, when chosen, hands main() the action to run.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace mitmscope::cli {

using Action = std::function<int()>;

// `mitmscope demo` (cli/demo_lab.cc).
struct LabDemoOptions {
  std::string work_directory;
  size_t size = 200;
  bool loopback = false;
  int act = 0;   // 0: every act
};
int run_lab_demo(const LabDemoOptions& options);
using SetAction = std::function<void(Action)>;

void register_probe(CLI::App& app, SetAction set_action);
void register_inspect(CLI::App& app, SetAction set_action);
void register_client_hello(CLI::App& app, SetAction set_action);
void register_demo(CLI::App& app, SetAction set_action);
void register_lab(CLI::App& app, SetAction set_action);
void register_scan(CLI::App& app, SetAction set_action);
void register_discover(CLI::App& app, SetAction set_action);
void register_trace(CLI::App& app, SetAction set_action);
void register_monitor(CLI::App& app, SetAction set_action);
void register_report(CLI::App& app, SetAction set_action);
void register_store(CLI::App& app, SetAction set_action);
void register_ooni(CLI::App& app, SetAction set_action);
void register_export(CLI::App& app, SetAction set_action);
void register_audit(CLI::App& app, SetAction set_action);
void register_check(CLI::App& app, SetAction set_action);
void register_sentinel(CLI::App& app, SetAction set_action);

}  // namespace mitmscope::cli
