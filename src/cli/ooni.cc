// `mitmscope ooni PATH... [--cc KZ] [--since DATE --until DATE] [--store STORE] [--out DIR] [--json]`:
// TLS interception in OONI measurement files (ooni/analysis.h).
#include <malloc.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <openssl/sha.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "run/run.h"
#include "cli/common.h"
#include "core/hex.h"
#include "ooni/analysis.h"
#include "report/campaign_report.h"
#include "report/ooni_report.h"
#include "store/store.h"

namespace mitmscope::cli {
namespace {

struct OoniCliOptions {
  std::vector<std::string> paths;
  std::string country;
  std::string since, until;
  size_t threads = 0;
  size_t min_forged_domains = 3;
  std::string store;
  std::string out;
  std::string pfx2as;
  bool json = false;
  size_t show_errors = 20;
  TrustOptions trust;
};

Result<void> write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
  file.close();
  if (!file) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", path.string()));
  return {};
}

// Each interceptor family's CA certificates that the input holds, one PEM file per family, for `export`.
Result<void> write_families(const std::filesystem::path& directory, const ooni::AnalysisResult& result) {
  for (const auto& family : result.families) {
    std::string pem;
    for (uint32_t id : family.certificates) {
      const auto& facts = result.certificates[id];
      if (facts.certificate && facts.is_ca) pem += facts.certificate->pem();
    }
    if (pem.empty()) continue;   // its CAs were never archived (probes keep the lone leaf they reject)
    std::error_code error;
    std::filesystem::create_directories(directory / "families", error);
    if (auto written = write_text(directory / "families" / (family.id + ".pem"), pem); !written) return written;
  }
  return {};
}

Result<void> write_out(const std::filesystem::path& directory, const ooni::AnalysisResult& result,
                       const std::vector<ReportTable>& tables, const nlohmann::ordered_json& summary) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: {}", directory.string(), error.message()));
  for (const auto& table : tables) {
    if (auto written = write_text(directory / (table.name + ".csv"), table_csv(table)); !written) return written;
  }
  nlohmann::ordered_json whole = {{"summary", summary}, {"tables", tables_json(tables)}};
  if (auto written = write_text(directory / "analysis.json", whole.dump(2) + "\n"); !written) return written;
  std::string observations;
  for (const auto& judged : result.judged) observations += judged_handshake_json(result, judged).dump() + "\n";
  if (auto written = write_text(directory / "observations.jsonl", observations); !written) return written;
  if (auto written = write_families(directory, result); !written) return written;
  ReportTable errors{"errors", "Malformed input", {"file", "line", "reason"}, {}};
  for (const auto& line_error : result.errors) errors.rows.push_back({line_error.file, line_error.line, line_error.reason});
  return write_text(directory / "errors.csv", table_csv(errors));
}

// What identifies an ingest: the filters and the input files as they are (path, size, modification time), so a
// run over the same files is recognised and a run over a tree that grew is a new ingest.
std::string ingest_parameters(const OoniCliOptions& options, const ooni::FileList& files) {
  std::string listing;
  for (const auto& file : files.files) {
    std::error_code error;
    const auto modified = std::filesystem::last_write_time(file.path, error);
    listing += fmt::format("{}\t{}\t{}\n", file.path.string(), file.size, error ? 0 : modified.time_since_epoch().count());
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(listing.data()), listing.size(), digest);
  const nlohmann::ordered_json parameters = {
      {"source", "ooni"}, {"paths", options.paths}, {"cc", options.country}, {"since", options.since},
      {"until", options.until}, {"min_forged_domains", options.min_forged_domains}, {"pfx2as", options.pfx2as}, {"files", files.files.size()},
      {"files_sha256", to_hex(std::span<const uint8_t>(digest, sizeof digest))}};
  return parameters.dump();
}

// The judged handshakes into the store; false when a signal stopped it (the ingest left unfinished, completed by
// the next run over the same files).
Result<bool> store_result(const std::string& spec, const std::string& parameters, const ooni::AnalysisResult& result,
                          const nlohmann::ordered_json& summary) {
  auto store = open_store(spec);
  if (!store) return std::unexpected(store.error());
  // The same files already stored whole: nothing to add (storing twice would count every handshake twice).
  auto scans = (*store)->scans();
  if (!scans) return std::unexpected(scans.error());
  for (const auto& scan : *scans) {
    if (scan.parameters == parameters && !scan.finished_at.empty()) {
      fmt::print(stderr, "ooni: these files are already in {} as scan {} (stored {}); nothing added\n",
                 (*store)->location(), scan.id, scan.finished_at);
      return true;
    }
  }
  // A run killed while storing left an unfinished scan with the same parameters: it is completed (results already
  // stored are kept, one per measurement handshake), so the store ends as an uninterrupted run leaves it.
  auto scan = (*store)->begin_scan(parameters, true);
  if (!scan) return std::unexpected(scan.error());
  run::Runner<StoredResult> run(run::LineOutput(), [&](std::span<const StoredResult> rows) -> Result<void> {
    if (auto added = (*store)->add_results(scan->id, rows); !added) return std::unexpected(added.error());
    return {};
  }, {.batch = 5000});
  for (const auto& judged : result.judged) {
    if (run.stopping()) break;
    run.add("", judged_handshake_result(result, judged), false);
  }
  const run::RunEnd end = run.finish();
  if (end.store_error) return std::unexpected(*end.store_error);
  if (end.interrupted) return false;
  ScanTally tally;
  tally.source = ScanSource::kOoni;
  tally.results = result.judged.size();
  // Which public data source saw what, typed for `report`: measurements and intercepted measurements per source.
  for (const auto& row : result.sources) {
    tally.groups.push_back({TallyKind::kSource, row.key, "", row.measurements, row.measurements, row.intercepted_measurements});
  }
  auto finished = (*store)->finish_scan(scan->id, tally,
                                        nlohmann::ordered_json({{"source", "ooni"}, {"ooni", summary}}).dump());
  if (!finished) return std::unexpected(finished.error());
  return true;
}

Result<ooni::AnalysisOptions> analysis_options(const OoniCliOptions& options) {
  ooni::AnalysisOptions analysis;
  analysis.country = options.country;
  analysis.min_forged_domains = options.min_forged_domains;
  analysis.stop = &run::stop_requested();
  for (const auto& [text, target] : {std::pair{&options.since, &analysis.since}, std::pair{&options.until, &analysis.until}}) {
    if (text->empty()) continue;
    auto time = parse_utc(*text);
    if (!time) return make_error(ErrorCode::kInvalidArgument, fmt::format("--since/--until: not a date: {}", *text));
    *target = *time;
  }
  return analysis;
}

void print_skipped(const OoniCliOptions& options, const ooni::AnalysisResult& result) {
  for (size_t i = 0; i < result.errors.size() && i < options.show_errors; ++i) {
    fmt::print(stderr, "mitmscope: skipped {}\n", ooni_error_text(result.errors[i]));
  }
  if (result.totals.malformed + result.totals.files_failed > options.show_errors) {
    fmt::print(stderr, "mitmscope: {} lines or files skipped in all{}\n", result.totals.malformed + result.totals.files_failed,
               options.out.empty() ? "" : fmt::format(" (every one in {}/errors.csv)", options.out));
  }
}

void print_text(const ooni::AnalysisResult& result, const std::vector<ReportTable>& tables) {
  const auto& totals = result.totals;
  const double per_second = totals.seconds > 0 ? 1 / totals.seconds : 0.0;
  fmt::print("ooni: {} files ({:.1f} MB compressed, {:.1f} MB), {} measurements ({} with TLS, {} outside the filter, {} "
             "malformed), {} handshakes in {:.2f} s ({:.0f} MB/s, {:.0f} measurements/s)\n",
             totals.files, static_cast<double>(totals.bytes_in) / 1e6, static_cast<double>(totals.bytes_out) / 1e6,
             totals.measurements, totals.with_tls, totals.filtered_out, totals.malformed, totals.handshakes,
             totals.seconds, static_cast<double>(totals.bytes_out) / 1e6 * per_second,
             static_cast<double>(totals.measurements) * per_second);
  std::string verdicts;
  for (const auto& [name, count] : totals.verdicts) verdicts += fmt::format("{}{} {}", verdicts.empty() ? "" : ", ", count, name);
  fmt::print("verdicts: {}\n", verdicts);
  for (const auto& [name, count] : totals.categories) fmt::print("  {:<50} {}\n", name, count);
  fmt::print("\n{}", tables_markdown(tables));
}

void print_json(const ooni::AnalysisResult& result, const std::vector<ReportTable>& tables,
                const nlohmann::ordered_json& summary) {
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  for (const auto& error : result.errors) errors.push_back({{"file", error.file}, {"line", error.line}, {"reason", error.reason}});
  fmt::print("{}\n", nlohmann::ordered_json({{"summary", summary}, {"tables", tables_json(tables)}, {"errors", errors}}).dump());
}

int run_ooni(const OoniCliOptions& options) {
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  auto analysis = analysis_options(options);
  if (!analysis) return report_error(analysis.error());
  auto asn_map = load_asn_map(options.pfx2as);
  if (!asn_map) return report_error(asn_map.error());
  if (*asn_map) {
    // RIPE Atlas probes, Censored Planet vantage points and ZGrab2 targets name an address, not an AS.
    analysis->network_of = [map = &**asn_map](std::string_view address) -> std::optional<ooni::NetworkOf> {
      auto info = map->lookup(std::string(address));
      if (!info) return std::nullopt;
      return ooni::NetworkOf{info->asn, info->name};
    };
  }
  auto files = ooni::find_input_files(options.paths, {options.country, analysis->since, analysis->until});
  if (!files) return report_error(files.error());
  if (files->files.empty()) {
    return report_error({ErrorCode::kFileNotFound,
                         fmt::format("no measurement files (.jsonl, .jsonl.gz, .json, .json.gz) in {}", fmt::join(options.paths, " "))});
  }
  run::StopScope stop;
  // Blocks of 8 MiB come and go thousands of times: from the heap they are reused in place, where glibc's default
  // (mmap for each, unmapped when freed) faults every page in again (a quarter of the time on a large gzip file).
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
  const size_t threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  const auto result = ooni::analyze_files(*files, trust->trust_store, trust->registry, *analysis, threads);
  if (result.interrupted) {
    fmt::print(stderr, "mitmscope: ooni interrupted after {} of {} files ({} measurements): nothing written or stored; "
               "the input is unchanged, run it again\n", result.totals.files, files->files.size(), result.totals.measurements);
    return kExitInterrupted;
  }
  print_skipped(options, result);
  const auto tables = ooni_tables(result);
  const auto summary = ooni_summary_json(result);
  if (!options.out.empty()) {
    if (auto written = write_out(options.out, result, tables, summary); !written) return report_error(written.error());
  }
  if (!options.store.empty()) {
    auto stored = store_result(options.store, ingest_parameters(options, *files), result, summary);
    if (!stored) return report_error(stored.error());
    if (!*stored) {
      fmt::print(stderr, "mitmscope: ooni interrupted while storing into {}: the ingest is left unfinished and the same "
                 "command completes it\n", options.store);
      return kExitInterrupted;
    }
  }
  if (options.json) {
    print_json(result, tables, summary);
  } else {
    print_text(result, tables);
  }
  // The whole input unusable: nothing read.
  if (result.totals.measurements == 0 && (result.totals.malformed > 0 || result.totals.files_failed > 0)) return kExitInput;
  return kExitOk;
}

}  // namespace

void register_ooni(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<OoniCliOptions>();
  auto* command = app.add_subcommand(
      "ooni", "TLS interception in public measurement data: OONI, Censored Planet Hyperquack and Satellite, RIPE Atlas "
              "sslcert, ZGrab2 (.jsonl, .jsonl.gz, .json, .json.gz, OONI's raw/YYYYMMDD/HH/CC/test/ trees; the source of "
              "each record is recognised by its fields)");
  command->add_option("paths", options->paths, "Measurement files or directories")->required();
  command->add_option("--cc", options->country, "Only measurements from this probe country (e.g. KZ)");
  command->add_option("--since", options->since, "Only measurements from this time on (YYYY-MM-DD or RFC 3339)");
  command->add_option("--until", options->until, "Only measurements before this time");
  command->add_option("--threads", options->threads, "Worker threads (default: every core)");
  command->add_option("--min-forged-domains", options->min_forged_domains,
                      "Unrelated domains one untrusted issuer must sign for (consistent DNS, control OK) to be called a "
                      "forging CA")
      ->default_val(3)
      ->check(CLI::Range(1, 1000000));
  command->add_option("--pfx2as", options->pfx2as,
                      "Prefix-to-AS table (CAIDA pfx2as text, or a MaxMind ASN .mmdb): the network of sources that name "
                      "only an address (RIPE Atlas probes, Censored Planet vantage points, ZGrab2 targets)");
  command->add_option("--store", options->store, "Store the judged handshakes (SQLite file or clickhouse://...)");
  command->add_option("--out", options->out, "Directory for CSV tables, analysis.json, observations.jsonl, errors.csv");
  command->add_flag("--json", options->json, "The summary and tables as one JSON object");
  command->add_option("--show-errors", options->show_errors, "Skipped lines printed on stderr (all are in --out)")->default_val(20);
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_ooni(*options); }); });
}

}  // namespace mitmscope::cli
