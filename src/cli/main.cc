#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"

namespace {

// `ooni` touches hundreds of MB once each (blocks, kept handshakes, string pools): on 4 KiB pages a sixth to a third
// of its time went to page faults (bench/RESULTS.md). glibc backs its heap with transparent huge pages only when told
// at start (GLIBC_TUNABLES glibc.malloc.hugetlb=1), so `ooni` re-executes itself once with the tunable added.
void prefer_huge_pages(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "ooni") return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::string_view(tunables).find("glibc.malloc.hugetlb") != std::string_view::npos) return;
  const std::string value = tunables && *tunables ? std::string(tunables) + ":glibc.malloc.hugetlb=1" : "glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);   // returns only when it failed: go on with small pages
}

}  // namespace

int main(int argc, char** argv) {
  prefer_huge_pages(argc, argv);
  CLI::App app{"mitmscope: detect, locate and characterize large-scale TLS interception"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mitmscope 0.1.0"));
  mitmscope::cli::Action action;
  auto set_action = [&action](mitmscope::cli::Action chosen) { action = std::move(chosen); };
  mitmscope::cli::register_probe(app, set_action);
  mitmscope::cli::register_inspect(app, set_action);
  mitmscope::cli::register_client_hello(app, set_action);
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
