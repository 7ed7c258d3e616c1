#include "cli/scan_round.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "analyze/result_facts.h"
#include "core/time.h"
#include "engine/engine.h"
#include "report/scan_output.h"
#include "run/run.h"

namespace mitmscope::cli {

namespace {

// The chain as sent; when it is a lone leaf signed by a registry certificate (mitmproxy sends no CA), that
// certificate is stored as its issuer (position 1), so the campaign's issuers and exports know who signed it.
// The result's JSON still says what was sent (server_certificates.length).
std::vector<std::pair<std::string, std::vector<uint8_t>>> stored_chain(const ChainAssessment& assessment) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  for (const auto& certificate : assessment.chain) out.emplace_back(certificate.sha256_hex(), certificate.der());
  const auto& entry = assessment.attribution.entry;
  if (assessment.chain.size() == 1 && entry && entry->certificate &&
      entry->certificate->sha256_hex() != assessment.chain.front().sha256_hex()) {
    out.emplace_back(entry->certificate->sha256_hex(), entry->certificate->der());
  }
  return out;
}

StoredResult stored_result(const ScanResult& result, const std::string& json, const AsnInfo* asn) {
  StoredResult stored{result.host->endpoint.ip, result.host->endpoint.port, result.sni,
                      result.observation ? format_utc(result.observation->time) : format_utc(now_utc()),
                      std::string(scan_verdict_name(result.verdict)), json, {}, {}, scan_result_facts(result, asn)};
  if (result.assessment) stored.certificates = stored_chain(*result.assessment);
  return stored;
}

run::StoreBatches<StoredResult>::Write store_writer(const ScanRoundSinks& sinks) {
  if (!sinks.store) return nullptr;
  return [store = sinks.store, scan = sinks.scan_id](std::span<const StoredResult> rows) -> Result<void> {
    if (auto added = store->add_results(scan, rows); !added) return std::unexpected(added.error());
    return {};
  };
}

std::string result_line(const ScanResult& result, const TrustStore& trust_store, const std::optional<AsnInfo>& asn,
                        bool with_asn) {
  auto row = scan_result_json(result, trust_store, {});
  if (with_asn) {
    row["asn"] = asn ? nlohmann::ordered_json{{"number", asn->asn}, {"origins", asn->origins},
                                              {"name", asn->name}, {"prefix", asn->prefix}}
                     : nlohmann::ordered_json(nullptr);
  }
  return row.dump();
}

// A host whose every (host, name) pair an interrupted run stored is not scanned again.
bool all_stored(const run::ResumeKeys& stored, const HostTarget& host, const std::vector<std::string>& domains) {
  if (stored.empty()) return false;
  const std::string prefix = host.endpoint.to_string() + " ";
  return std::all_of(domains.begin(), domains.end(),
                     [&](const std::string& domain) { return stored.contains(prefix + domain); });
}

Error no_usable_host(const std::string& hosts_file, const std::vector<SkippedTarget>& skipped, size_t count) {
  std::string reasons;
  for (size_t i = 0; i < skipped.size() && i < 3; ++i) {
    reasons += fmt::format("; line {}: {}", skipped[i].line, skipped[i].reason);
  }
  return {ErrorCode::kParseError, fmt::format("{}: no usable host ({} lines skipped{})", hosts_file, count, reasons)};
}

}  // namespace

Result<ScanRoundReport> run_scan_round(const ScanRoundInputs& inputs, ScanRoundSinks& sinks) {
  auto hosts = HostList::open(inputs.hosts_file, inputs.targets);
  if (!hosts) return std::unexpected(hosts.error());
  auto output = run::LineOutput::open(sinks.out, sinks.append);
  if (!output) return std::unexpected(output.error());
  const auto& domains = *inputs.domains;
  const auto& trust = *inputs.trust;
  const AsnMap* asn_map = inputs.asn_map;
  run::Runner<StoredResult> run(std::move(*output), store_writer(sinks),
                                {.batch = 256, .expected = hosts->shard_size() * domains.size(), .progress = sinks.progress},
                                std::move(sinks.stored));
  EngineOptions engine_options = inputs.engine;
  engine_options.stop = &run.stop_flag();
  Engine engine(*inputs.client, engine_options);
  const auto started = std::chrono::steady_clock::now();
  ScanSummary summary;
  ScanRunner runner(
      *hosts, domains, {trust.trust_store, trust.registry, trust.at, inputs.foxio},
      {.controls = inputs.method.controls, .retries = inputs.method.retries,
       .stateful_delay = std::chrono::milliseconds(static_cast<long>(inputs.method.stateful_delay * 1000)),
       .max_active_hosts = std::max<size_t>(1, inputs.engine.concurrency), .seed = inputs.seed,
       .skip_host = [&](const HostTarget& host) { return all_stored(run.resume(), host, domains); },
       .host_done = [&](const HostOutcome& outcome) {
         if (!asn_map) return summary.add_host(outcome);
         auto asn = asn_map->lookup(outcome.host->endpoint.ip);
         if (!asn) asn = AsnInfo{0, "0", "(not in the prefix table)", ""};
         summary.add_host(outcome, &*asn);
       }},
      [&](const ScanResult& result) {
        // Stored by the interrupted run: nothing twice (the key is built only when resuming).
        if (!run.resume().empty() && run.done_before(result.host->endpoint.to_string() + " " + result.sni)) return;
        const auto asn = asn_map ? asn_map->lookup(result.host->endpoint.ip) : std::nullopt;
        std::optional<StoredResult> row;
        // The JSON rendering is most of a result's cost: made only when an output or the store takes it.
        const bool rendered = run.output().active() || sinks.store;
        const std::string line = rendered ? result_line(result, trust.trust_store, asn, asn_map != nullptr) : std::string();
        if (sinks.store) row = stored_result(result, line, asn ? &*asn : nullptr);
        run.add(line, std::move(row), result.verdict == ScanVerdict::kIntercepted);
        if (sinks.observe) sinks.observe(result, as_key(result.host->endpoint.ip, result.host->tags, asn_map));
        summary.add(result);
      });
  runner.run(engine);
  const run::RunEnd end = run.finish();
  ScanRoundReport report;
  report.store_error = end.store_error;
  report.stored = end.stored;
  report.interrupted = end.interrupted;
  report.results = end.results;
  report.skipped_hosts = hosts->skipped();
  report.skipped_count = hosts->skipped_count();
  // Every line unusable: an error for scan and monitor alike, naming the first reasons.
  if (runner.counters().hosts == 0 && report.skipped_count > 0) {
    return std::unexpected(no_usable_host(inputs.hosts_file, report.skipped_hosts, report.skipped_count));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report.handshakes = engine.started();
  const ScanOverview overview = summary.overview(runner.counters());
  report.summary = scan_summary_json(overview);
  report.tally = overview.tally;
  report.summary_text = scan_summary_text(overview);
  return report;
}

}  // namespace mitmscope::cli
