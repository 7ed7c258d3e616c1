// `mitmscope store copy FROM TO`, `store counts STORE` and `store migrate STORE`: moving a campaign between
// SQLite and ClickHouse, what a store holds, and typed facts for a store an earlier version wrote
// (docs/CLI.md, "store").
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "store/copy.h"

namespace mitmscope::cli {
namespace {

struct StoreCliOptions {
  std::string from, to, store;
  size_t page = 2000;
  bool json = false;
};

Result<std::unique_ptr<Store>> open_existing(const std::string& spec, bool for_migration = false) {
  if (!spec.starts_with("clickhouse://") && !std::filesystem::exists(spec)) {
    return make_error(ErrorCode::kFileNotFound, fmt::format("{}: no such store", spec));
  }
  return open_store(spec, for_migration);
}

int run_migrate(const StoreCliOptions& options) {
  auto store = open_existing(options.store, true);
  if (!store) return report_error(store.error());
  auto migrated = (*store)->migrate();
  if (!migrated) return report_error(migrated.error());
  if (options.json) {
    fmt::print("{}\n", nlohmann::json{{"store", options.store}, {"already_typed", migrated->already_typed},
                                      {"results", migrated->results}, {"scans", migrated->scans}}
                           .dump());
  } else if (migrated->already_typed) {
    fmt::print("{}: already has typed columns; nothing to do\n", options.store);
  } else {
    fmt::print("{}: typed facts for {} results and {} finished scans, from their stored JSON\n", options.store,
               migrated->results, migrated->scans);
  }
  return kExitOk;
}

int run_copy(const StoreCliOptions& options) {
  if (options.from == options.to) return report_error({ErrorCode::kInvalidArgument, "store copy: FROM and TO are the same store"});
  auto from = open_existing(options.from);
  if (!from) return report_error(from.error());
  auto to = open_store(options.to);
  if (!to) return report_error(to.error());
  auto copied = copy_store(**from, **to, std::max<size_t>(options.page, 1),
                           [](std::string_view text) { fmt::print(stderr, "store copy: {}\n", text); });
  if (!copied) return report_error(copied.error());
  if (options.json) {
    fmt::print("{}\n", nlohmann::json{{"from", options.from}, {"to", options.to}, {"results_copied", copied->results_copied},
                                      {"source", copied->source}, {"destination", copied->destination}}
                           .dump());
  } else {
    fmt::print("copied {} -> {}: {} results\n", options.from, options.to, copied->results_copied);
    for (const auto& [table, rows] : copied->source) {
      fmt::print("  {:<13} {:>10} in the source, {:>10} in the destination\n", table, rows, copied->destination[table]);
    }
  }
  return kExitOk;
}

int run_counts(const StoreCliOptions& options) {
  auto store = open_existing(options.store);
  if (!store) return report_error(store.error());
  auto counts = (*store)->counts();
  if (!counts) return report_error(counts.error());
  if (options.json) {
    fmt::print("{}\n", nlohmann::json(*counts).dump());
  } else {
    for (const auto& [table, rows] : *counts) fmt::print("{:<13} {:>10}\n", table, rows);
  }
  return kExitOk;
}

}  // namespace

void register_store(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<StoreCliOptions>();
  auto* command = app.add_subcommand("store", "Move a campaign between stores, count what a store holds, migrate an earlier version's store");
  command->require_subcommand(1);
  auto* copy = command->add_subcommand(
      "copy", "Copy every monitor, scan, result, certificate, event and trace from FROM to TO (ids kept; re-runnable)");
  copy->add_option("FROM", options->from, "Source store: SQLite file or clickhouse://HOST:PORT[,...]/DB[?cluster=NAME]")->required();
  copy->add_option("TO", options->to, "Destination store (created when new)")->required();
  copy->add_option("--page", options->page, "Results per batch")->capture_default_str();
  copy->add_flag("--json", options->json, "Counts as one JSON object");
  copy->callback([options, set_action] { set_action([options] { return run_copy(*options); }); });
  auto* counts = command->add_subcommand("counts", "Rows per table as readers see them");
  counts->add_option("STORE", options->store, "SQLite file or clickhouse://...")->required();
  counts->add_flag("--json", options->json, "As one JSON object");
  counts->callback([options, set_action] { set_action([options] { return run_counts(*options); }); });
  auto* migrate = command->add_subcommand(
      "migrate", "Give a store written by an earlier version its typed columns, from the JSON it kept (idempotent)");
  migrate->add_option("STORE", options->store, "SQLite file or clickhouse://...")->required();
  migrate->add_flag("--json", options->json, "What was done, as one JSON object");
  migrate->callback([options, set_action] { set_action([options] { return run_migrate(*options); }); });
}

}  // namespace mitmscope::cli
