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
#include "detect/scan.h"
#include "engine/engine.h"
#include "engine/targets.h"
#include "report/scan_output.h"
#include "store/sqlite_store.h"

namespace mitmscope::cli {
namespace {

struct ScanCliOptions {
  std::string hosts;
  std::string domains;
  std::string out = "-";
  std::string summary;
  int controls = 2;
  int retries = 5;
  double stateful_delay = 120;
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
  auto hosts = HostList::open(options.hosts, std::move(*target_options));
  if (!hosts) return report_error(hosts.error());
  std::vector<SkippedTarget> skipped_domains;
  auto domains = read_domains(options.domains, skipped_domains);
  if (!domains) return report_error(domains.error());
  for (const auto& skipped : skipped_domains) {
    fmt::print(stderr, "mitmscope: {}: line {}: skipped: {}\n", options.domains, skipped.line, skipped.reason);
  }
  std::optional<AsnMap> asn_map;
  if (!options.pfx2as.empty()) {
    auto loaded = AsnMap::load(options.pfx2as);
    if (!loaded) return report_error(loaded.error());
    asn_map = std::move(*loaded);
  }
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  auto context = make_client_context(options.engine);
  if (!context) return report_error(context.error());

  std::unique_ptr<SqliteStore> store;
  std::optional<ScanRecord> record;
  std::set<std::string> stored;
  if (!options.store.empty()) {
    auto opened = SqliteStore::open(options.store);
    if (!opened) return report_error(opened.error());
    store = std::move(*opened);
    // A resume must continue the same work: same inputs, order, shard and method.
    const nlohmann::json parameters = {{"hosts", std::filesystem::absolute(options.hosts).string()},
                                       {"domains", std::filesystem::absolute(options.domains).string()},
                                       {"seed", options.engine.seed}, {"shards", options.shards}, {"shard", options.shard},
                                       {"controls", options.controls}, {"retries", options.retries}};
    auto begun = store->begin_scan(parameters.dump(), options.resume);
    if (!begun) return report_error(begun.error());
    record = *begun;
    auto pairs = store->stored_pairs(record->id);
    if (!pairs) return report_error(pairs.error());
    stored = std::move(*pairs);
    if (options.resume) fmt::print(stderr, "mitmscope: resuming scan {} ({} results already stored)\n", record->id, stored.size());
  } else if (options.resume) {
    return report_error({ErrorCode::kInvalidArgument, "--resume needs --store"});
  }
  std::vector<StoredResult> batch;
  auto flush = [&]() -> Result<void> {
    if (!store || batch.empty()) return {};
    auto added = store->add_results(record->id, batch);
    batch.clear();
    if (!added) return std::unexpected(added.error());
    return {};
  };
  std::optional<Error> store_error;

  std::FILE* out = stdout;
  if (options.out != "-") {
    out = std::fopen(options.out.c_str(), options.resume ? "a" : "w");
    if (!out) return report_error({ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", options.out)});
  }
  const bool progress = ::isatty(2);
  const auto started = std::chrono::steady_clock::now();
  const size_t expected = hosts->shard_size() * domains->size();
  ScanSummary summary;
  Engine engine(*context, engine_options(options.engine));
  size_t intercepted = 0;
  size_t done = 0;
  auto last_progress = started;
  ScanRunner runner(*hosts, *domains, {trust->trust_store, trust->registry, trust->at},
                    {.controls = options.controls, .retries = options.retries,
                     .stateful_delay = std::chrono::milliseconds(static_cast<long>(options.stateful_delay * 1000)),
                     .max_active_hosts = std::max<size_t>(1, options.engine.concurrency), .seed = options.engine.seed,
                     .skip_host = [&](const HostTarget& host) {
                       if (stored.empty()) return false;
                       const std::string prefix = host.endpoint.to_string() + " ";
                       return std::all_of(domains->begin(), domains->end(),
                                          [&](const std::string& domain) { return stored.contains(prefix + domain); });
                     },
                     .host_done = [&](const HostOutcome& outcome) {
                       if (!asn_map) return summary.add_host(outcome);
                       auto asn = asn_map->lookup(outcome.host->endpoint.ip);
                       if (!asn) asn = AsnInfo{0, "0", "(not in the prefix table)", ""};
                       summary.add_host(outcome, &*asn);
                     }},
                    [&](const ScanResult& result) {
                      const std::string pair = result.host->endpoint.to_string() + " " + result.sni;
                      if (stored.contains(pair)) return;  // stored by the interrupted run: nothing twice
                      auto row = scan_result_json(result, trust->trust_store, {.foxio = options.trust.foxio});
                      if (asn_map) {
                        const auto asn = asn_map->lookup(result.host->endpoint.ip);
                        row["asn"] = asn ? nlohmann::ordered_json{{"number", asn->asn}, {"origins", asn->origins},
                                                                  {"name", asn->name}, {"prefix", asn->prefix}}
                                         : nlohmann::ordered_json(nullptr);
                      }
                      const std::string text = row.dump();
                      fmt::print(out, "{}\n", text);
                      if (store) {
                        StoredResult stored_result{result.host->endpoint.ip, result.host->endpoint.port, result.sni,
                                                   result.observation ? format_utc(result.observation->time) : format_utc(now_utc()),
                                                   std::string(scan_verdict_name(result.verdict)), text, {}};
                        if (result.assessment) {
                          for (const auto& certificate : result.assessment->chain) {
                            stored_result.certificates.emplace_back(certificate.sha256_hex(), certificate.der());
                          }
                        }
                        batch.push_back(std::move(stored_result));
                        if (batch.size() >= 256) {
                          if (auto flushed = flush(); !flushed && !store_error) store_error = flushed.error();
                        }
                      }
                      summary.add(result);
                      intercepted += result.verdict == ScanVerdict::kIntercepted;
                      ++done;
                      const auto now = std::chrono::steady_clock::now();
                      if (progress && now - last_progress > std::chrono::milliseconds(500)) {
                        last_progress = now;
                        const double seconds = std::chrono::duration<double>(now - started).count();
                        const double per_second = double(done) / std::max(seconds, 1e-9);
                        const double eta = expected > done ? double(expected - done) / std::max(per_second, 1e-9) : 0;
                        fmt::print(stderr, "\r{}/{} results, {:.0f}/s, ETA {:.0f} s, intercepted {}   ", done, expected,
                                   per_second, eta, intercepted);
                      }
                    });
  runner.run(engine);
  if (auto flushed = flush(); !flushed && !store_error) store_error = flushed.error();
  if (progress) fmt::print(stderr, "\n");
  if (out != stdout) std::fclose(out);
  for (const auto& skipped : hosts->skipped()) {
    fmt::print(stderr, "mitmscope: {}: line {}: skipped: {}\n", options.hosts, skipped.line, skipped.reason);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print(stderr, "{}{} handshakes in {:.1f} s ({:.0f}/s)\n", summary.text(runner.counters()), engine.started(),
             seconds, double(engine.started()) / std::max(seconds, 1e-9));
  if (!options.summary.empty()) {
    std::ofstream(options.summary) << summary.json(runner.counters()).dump(2) << "\n";
  }
  if (store_error) return report_error(*store_error);
  if (store) {
    if (auto finished = store->finish_scan(record->id, summary.json(runner.counters()).dump()); !finished) {
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
  command->add_option("--controls", options->controls, "Control SNIs per host")->capture_default_str();
  command->add_option("--retries", options->retries, "Tries per test domain before it counts as an anomaly")->capture_default_str();
  command->add_option("--stateful-delay", options->stateful_delay, "Seconds before the second control re-test")->capture_default_str();
  command->add_option("--shards", options->shards, "Split the work into this many disjoint shards")->capture_default_str();
  command->add_option("--shard", options->shard, "Which shard this run does (0-based)")->capture_default_str();
  command->add_option("--store", options->store, "SQLite store (WAL) for the results: certificates once, one result per pair");
  command->add_flag("--resume", options->resume, "Continue the last unfinished scan with the same inputs in --store");
  command->add_option("--pfx2as", options->pfx2as, "Prefix-to-AS table (CAIDA pfx2as text, or a MaxMind ASN .mmdb): per-AS summary");
  add_engine_options(*command, options->engine);
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_scan(*options); }); });
}

}  // namespace mitmscope::cli
