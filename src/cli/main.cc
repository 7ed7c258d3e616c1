#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"

int main(int argc, char** argv) {
  CLI::App app{"mitmscope: detect, locate and characterize large-scale TLS interception"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mitmscope 0.1.0"));
  mitmscope::cli::Action action;
  auto set_action = [&action](mitmscope::cli::Action chosen) { action = std::move(chosen); };
  mitmscope::cli::register_probe(app, set_action);
  mitmscope::cli::register_inspect(app, set_action);
  mitmscope::cli::register_demo(app, set_action);
  mitmscope::cli::register_lab(app, set_action);
  mitmscope::cli::register_scan(app, set_action);
  mitmscope::cli::register_discover(app, set_action);
  mitmscope::cli::register_trace(app, set_action);
  mitmscope::cli::register_monitor(app, set_action);
  mitmscope::cli::register_report(app, set_action);
  mitmscope::cli::register_store(app, set_action);
  mitmscope::cli::register_ooni(app, set_action);
  mitmscope::cli::register_export(app, set_action);
  mitmscope::cli::register_audit(app, set_action);
  mitmscope::cli::register_check(app, set_action);
  mitmscope::cli::register_sentinel(app, set_action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int status = app.exit(error);
    return status == 0 ? 0 : mitmscope::cli::kExitUsage;
  }
  return action ? action() : mitmscope::cli::kExitUsage;
}
