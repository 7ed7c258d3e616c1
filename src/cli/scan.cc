// `mitmscope scan --hosts FILE --domains FILE`: SNI-triggered interception measurement.
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/scan_round.h"
#include "detect/scan.h"
#include "engine/engine.h"
#include "engine/targets.h"
#include "report/scan_output.h"
#include "store/store.h"

namespace mitmscope::cli {
namespace {

struct ScanCliOptions {
  std::string hosts;
  std::string domains;
  std::string out = "-";
  std::string summary;
  ScanMethodOptions method;
  EngineCliOptions engine;
  uint32_t shards = 1;
  uint32_t shard = 0;
  std::string store;
  bool resume = false;
  std::string pfx2as;
  TrustOptions trust;
};

// Opens the store and begins (or, with --resume, continues) the scan; a resumed scan's stored pairs are skipped.
Result<std::unique_ptr<Store>> open_scan_store(const ScanCliOptions& options, ScanRoundSinks& sinks) {
  auto store = open_store(options.store);
  if (!store) return std::unexpected(store.error());
  // A resume must continue the same work: same inputs, order, shard, method and ClientHello.
  const nlohmann::json parameters = {{"hosts", std::filesystem::absolute(options.hosts).string()},
                                     {"domains", std::filesystem::absolute(options.domains).string()},
                                     {"seed", options.engine.seed}, {"shards", options.shards}, {"shard", options.shard},
                                     {"controls", options.method.controls}, {"retries", options.method.retries},
                                     {"client_hello", options.engine.client_hello}};
  auto begun = (*store)->begin_scan(parameters.dump(), options.resume);
  if (!begun) return std::unexpected(begun.error());
  auto pairs = (*store)->stored_pairs(begun->id);
  if (!pairs) return std::unexpected(pairs.error());
  sinks.store = store->get();
  sinks.scan_id = begun->id;
  sinks.stored = run::ResumeKeys(std::move(*pairs));
  if (options.resume) {
    fmt::print(stderr, "mitmscope: resuming scan {} ({} results already stored)\n", begun->id, sinks.stored.size());
  }
  return store;
}

// A signal stopped the scan: what it measured is written and stored, the scan stays unfinished for --resume.
int interrupted(const ScanCliOptions& options, const ScanRoundReport& report, const ScanRoundSinks& sinks) {
  fmt::print(stderr, "mitmscope: scan interrupted after {} results in {:.1f} s", report.results, report.seconds);
  if (sinks.store) {
    fmt::print(stderr, "; all of them are stored in scan {} of {}: continue it with the same command and --resume\n",
               sinks.scan_id, options.store);
  } else {
    fmt::print(stderr, "; without --store it cannot be resumed\n");
  }
  return kExitInterrupted;
}

// The store failed midway: what it took stays in the unfinished scan, every result is in --out, and --resume
// measures only what the store lacks once it answers again.
int store_lost(const ScanCliOptions& options, const ScanRoundReport& report, const ScanRoundSinks& sinks) {
  report_error(*report.store_error);
  const std::string out = options.out == "-" ? std::string("stdout") : options.out.empty() ? std::string() : options.out;
  fmt::print(stderr, "mitmscope: the store failed after taking {} of the {} results (scan {} of {}){}; once it answers "
             "again, run the same command with --resume: it measures only what the store lacks\n", report.stored,
             report.results, sinks.scan_id, options.store, out.empty() ? "" : fmt::format("; all {} are in {}", report.results, out));
  return kExitInput;
}

int run_scan(const ScanCliOptions& options) {
  auto setup = load_active_setup({options.engine, options.trust, options.domains, options.pfx2as, options.shards,
                                   options.shard});
  if (!setup) return report_error(setup.error());

  ScanRoundSinks sinks;
  std::unique_ptr<Store> store;
  if (!options.store.empty()) {
    auto opened = open_scan_store(options, sinks);
    if (!opened) return report_error(opened.error());
    store = std::move(*opened);
  } else if (options.resume) {
    return report_error({ErrorCode::kInvalidArgument, "--resume needs --store"});
  }
  sinks.out = options.out;
  sinks.append = options.resume;
  sinks.progress = ::isatty(2);
  ScanRoundInputs inputs{.hosts_file = options.hosts, .targets = setup->targets, .domains = &setup->domains,
                         .trust = &setup->trust, .client = &setup->client, .engine = engine_options(options.engine),
                         .asn_map = setup->asn(), .method = options.method,
                         .seed = options.engine.seed, .foxio = options.trust.foxio};
  auto report = run_scan_round(inputs, sinks);
  if (!report) return report_error(report.error());
  print_skipped(options.hosts, report->skipped_hosts, report->skipped_count);
  if (report->store_error) return store_lost(options, *report, sinks);
  if (report->interrupted) return interrupted(options, *report, sinks);
  fmt::print(stderr, "{}{} handshakes in {:.1f} s ({:.0f}/s)\n", report->summary_text, report->handshakes,
             report->seconds, double(report->handshakes) / std::max(report->seconds, 1e-9));
  if (!options.summary.empty()) std::ofstream(options.summary) << report->summary.dump(2) << "\n";
  if (store) {
    if (auto finished = store->finish_scan(sinks.scan_id, report->tally, report->summary.dump()); !finished) {
      return report_error(finished.error());
    }
  }
  return kExitOk;
}

}  // namespace

void register_scan(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<ScanCliOptions>();
  auto* command = app.add_subcommand("scan", "Hosts x domains: control SNIs build each host's template, test SNIs are compared with it");
  command->add_option("--hosts", options->hosts, "One IP[:PORT] per line, optional tag columns kept in the output")->required();
  command->add_option("--domains", options->domains, "One domain per line (or rank,domain)")->required();
  command->add_option("--out", options->out, "JSON Lines output, - for stdout")->capture_default_str();
  command->add_option("--summary", options->summary, "Also write the summary as JSON to this file");
  add_scan_method_options(*command, options->method);
  command->add_option("--shards", options->shards, "Split the work into this many disjoint shards")->capture_default_str();
  command->add_option("--shard", options->shard, "Which shard this run does (0-based)")->capture_default_str();
  command->add_option("--store", options->store, "Store for the results: a SQLite file, or clickhouse://HOST:PORT[,...]/DB[?cluster=NAME]");
  command->add_flag("--resume", options->resume, "Continue the last unfinished scan with the same inputs in --store");
  command->add_option("--pfx2as", options->pfx2as, "Prefix-to-AS table (CAIDA pfx2as text, or a MaxMind ASN .mmdb): per-AS summary");
  add_engine_options(*command, options->engine);
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_scan(*options); }); });
}

}  // namespace mitmscope::cli
