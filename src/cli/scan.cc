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
#include "core/unique_fd.h"
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

int run_scan(const ScanCliOptions& options) {
  auto target_options = make_target_options(options.engine, options.shards, options.shard);
  if (!target_options) return report_error(target_options.error());
  auto domains = read_domains_reporting(options.domains);
  if (!domains) return report_error(domains.error());
  auto asn_map = load_asn_map(options.pfx2as);
  if (!asn_map) return report_error(asn_map.error());
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  auto context = make_client_context(options.engine);
  if (!context) return report_error(context.error());

  ScanRoundSinks sinks;
  std::unique_ptr<Store> store;
  if (!options.store.empty()) {
    auto opened = open_store(options.store);
    if (!opened) return report_error(opened.error());
    store = std::move(*opened);
    // A resume must continue the same work: same inputs, order, shard and method.
    const nlohmann::json parameters = {{"hosts", std::filesystem::absolute(options.hosts).string()},
                                       {"domains", std::filesystem::absolute(options.domains).string()},
                                       {"seed", options.engine.seed}, {"shards", options.shards}, {"shard", options.shard},
                                       {"controls", options.method.controls}, {"retries", options.method.retries}};
    auto begun = store->begin_scan(parameters.dump(), options.resume);
    if (!begun) return report_error(begun.error());
    sinks.store = store.get();
    sinks.scan_id = begun->id;
    auto pairs = store->stored_pairs(begun->id);
    if (!pairs) return report_error(pairs.error());
    sinks.stored = std::move(*pairs);
    if (options.resume) {
      fmt::print(stderr, "mitmscope: resuming scan {} ({} results already stored)\n", begun->id, sinks.stored.size());
    }
  } else if (options.resume) {
    return report_error({ErrorCode::kInvalidArgument, "--resume needs --store"});
  }
  UniqueFile out(stdout);
  if (options.out != "-") {
    auto opened = open_file(options.out, options.resume ? "a" : "w");
    if (!opened) return report_error(opened.error());
    out = std::move(*opened);
  }
  sinks.out = out.get();
  sinks.progress = ::isatty(2);
  ScanRoundInputs inputs{.hosts_file = options.hosts, .targets = std::move(*target_options), .domains = &*domains,
                         .trust = &*trust, .client = &*context, .engine = engine_options(options.engine),
                         .asn_map = *asn_map ? &**asn_map : nullptr, .method = options.method,
                         .seed = options.engine.seed, .foxio = options.trust.foxio};
  auto report = run_scan_round(inputs, sinks);
  out.reset();
  if (!report) return report_error(report.error());
  for (const auto& skipped : report->skipped_hosts) {
    fmt::print(stderr, "mitmscope: {}: line {}: skipped: {}\n", options.hosts, skipped.line, skipped.reason);
  }
  fmt::print(stderr, "{}{} handshakes in {:.1f} s ({:.0f}/s)\n", report->summary_text, report->handshakes,
             report->seconds, double(report->handshakes) / std::max(report->seconds, 1e-9));
  if (!options.summary.empty()) std::ofstream(options.summary) << report->summary.dump(2) << "\n";
  if (report->store_error) return report_error(*report->store_error);
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
