#include "report/ooni_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/time.h"
#include "engine/endpoint.h"

namespace mitmscope {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string day_text(int64_t day) { return format_utc(UtcSeconds{std::chrono::days{day}}).substr(0, 10); }

json optional_time(const std::optional<UtcSeconds>& time) { return time ? json(format_utc(*time)) : json(nullptr); }

std::string measurement_id(const ooni::AnalysisResult& result, const ooni::KeptHandshake& kept) {
  const std::string& file = kept.file < result.files.size() ? result.files[kept.file] : std::string();
  if (kept.record > 0) return fmt::format("{}/{}:{}#{}/{}", kept.report_id, file, kept.line, kept.record, kept.handshake);
  return fmt::format("{}/{}:{}/{}", kept.report_id, file, kept.line, kept.handshake);
}

std::string_view tri_name(ooni::Tri value) {
  switch (value) {
    case ooni::Tri::kYes: return "yes";
    case ooni::Tri::kNo: return "no";
    case ooni::Tri::kUnknown: return "unknown";
  }
  return "unknown";
}

}  // namespace

namespace {

// Interceptor families (ooni/families.h): names and evidence as text, the members' keys for programs.
ReportTable families_table(const ooni::AnalysisResult& result) {
  ReportTable families{"families", "Interceptor families: issuers grouped by key, near-duplicate names and leaf profile",
                       {"family", "issuers", "issuer_names", "known_as", "first_seen", "last_seen", "handshakes", "intercepted",
                        "domains", "networks", "sources", "profiles", "evidence", "issuer_keys"}, {}, {"issuer_keys"}};
  for (const auto& family : result.families) {
    std::string sources;
    for (const auto& [source, count] : family.sources) sources += fmt::format("{}{} {}", sources.empty() ? "" : ", ", source, count);
    families.rows.push_back({family.id, family.issuer_keys.size(), fmt::format("{}", fmt::join(family.issuer_names, "; ")),
                             family.registry.empty() ? std::string("unknown") : fmt::format("{}", fmt::join(family.registry, "; ")),
                             format_utc(family.first_seen), format_utc(family.last_seen), family.handshakes, family.intercepted,
                             family.domains.size(), family.networks.size(), sources,
                             fmt::format("{}", fmt::join(family.profiles, "; ")), fmt::format("{}", fmt::join(family.evidence, "; ")),
                             family.issuer_keys});
  }
  return families;
}

// Where OONI's tlsmiddlebox traces put the device (trace/locate).
ReportTable middlebox_table(const ooni::AnalysisResult& result) {
  ReportTable table{"middlebox", "tlsmiddlebox traces: where the device answers, by TTL",
                    {"report_id", "time", "probe_asn", "address", "target_sni", "control_sni", "kind", "injection_ttl",
                     "target_terminating_ttl", "control_terminating_ttl", "address_distance", "router_before", "router_after",
                     "reasons"}, {}};
  auto number = [](const std::optional<int>& value) { return value ? json(*value) : json(nullptr); };
  auto text = [](const std::optional<std::string>& value) { return value ? json(*value) : json(nullptr); };
  for (const auto& finding : result.middlebox) {
    const auto& trace = *finding.trace;
    const auto& point = finding.point;
    table.rows.push_back({trace.report_id, format_utc(UtcSeconds{std::chrono::seconds{trace.time}}), fmt::format("AS{}", trace.asn),
                          trace.address, trace.target_sni, trace.control_sni, injection_kind_name(point.kind),
                          number(point.injection_ttl), number(point.target_terminating_ttl), number(point.control_terminating_ttl),
                          number(point.address_distance), text(point.router_before), text(point.router_after),
                          fmt::format("{}", fmt::join(point.reasons, "; "))});
  }
  return table;
}

}  // namespace

std::vector<ReportTable> ooni_tables(const ooni::AnalysisResult& result) {
  std::vector<ReportTable> tables;

  ReportTable issuers{"issuers", "Interception issuers (the certificate that signed intercepted leaves)",
                      {"sha1", "sha256", "subject", "serial", "not_before", "not_after", "root", "root_sha1", "root_id",
                       "first_seen", "last_seen", "handshakes", "domains", "networks", "used_before_validity",
                       "used_after_validity", "first_use_outside", "last_use_outside", "name_collisions", "key"},
                      {}};
  for (const auto& row : result.issuers) {
    json collisions = json::array();
    for (const auto& id : row.name_collisions) collisions.push_back(id);
    issuers.rows.push_back({row.sha1, row.sha256, row.subject, row.serial, optional_time(row.not_before),
                            optional_time(row.not_after), row.root, row.root_sha1, row.root_id, format_utc(row.first_seen),
                            format_utc(row.last_seen), row.count, row.domains.size(), row.networks.size(),
                            row.before_validity, row.after_validity, optional_time(row.first_outside),
                            optional_time(row.last_outside), collisions, row.key});
  }
  tables.push_back(std::move(issuers));

  ReportTable gaps{"gaps", "Gaps between consecutive issuers' validity (interception went on with an expired issuer)",
                   {"from", "to", "days", "expired_issuer", "next_issuer", "intercepted_in_gap"}, {}};
  auto short_key = [&](const std::string& key) {
    for (const auto& row : result.issuers) {
      if (row.key == key && !row.sha1.empty()) return row.sha1.substr(0, 8);
    }
    return key;
  };
  for (const auto& gap : result.gaps) {
    const double days = std::chrono::duration<double>(gap.to - gap.from).count() / 86400.0;
    gaps.rows.push_back({format_utc(gap.from), format_utc(gap.to), days, short_key(gap.before_key), short_key(gap.after_key), gap.uses});
  }
  tables.push_back(std::move(gaps));

  ReportTable domains{"domains", "Targeted domains (SNI of intercepted handshakes)",
                      {"domain", "handshakes", "first_seen", "last_seen", "issuers"}, {}};
  for (const auto& row : result.domains) {
    domains.rows.push_back({row.key, row.intercepted, format_utc(row.first_seen), format_utc(row.last_seen), row.issuers.size()});
  }
  tables.push_back(std::move(domains));

  ReportTable networks{"networks", "Networks where interception was seen",
                       {"asn", "name", "measurements", "intercepted_measurements", "share", "intercepted_handshakes",
                        "first_seen", "last_seen"},
                       {}};
  for (const auto& row : result.networks) {
    networks.rows.push_back({row.key, row.name, row.measurements, row.intercepted_measurements,
                             row.measurements ? static_cast<double>(row.intercepted_measurements) / static_cast<double>(row.measurements) : 0.0,
                             row.intercepted, format_utc(row.first_seen), format_utc(row.last_seen)});
  }
  tables.push_back(std::move(networks));

  ReportTable countries{"countries", "Countries", {"country", "measurements", "intercepted_measurements", "intercepted_handshakes", "issuers"}, {}};
  for (const auto& row : result.countries) {
    countries.rows.push_back({row.key, row.measurements, row.intercepted_measurements, row.intercepted, row.issuers.size()});
  }
  tables.push_back(std::move(countries));

  ReportTable sources{"sources", "Which public data source saw what",
                      {"source", "measurements", "intercepted_measurements", "intercepted_handshakes", "issuers", "first_seen", "last_seen"}, {}};
  for (const auto& row : result.sources) {
    const bool seen = row.intercepted > 0;
    sources.rows.push_back({row.key, row.measurements, row.intercepted_measurements, row.intercepted, row.issuers.size(),
                            seen ? json(format_utc(row.first_seen)) : json(nullptr), seen ? json(format_utc(row.last_seen)) : json(nullptr)});
  }
  tables.push_back(std::move(sources));
  tables.push_back(families_table(result));
  tables.push_back(middlebox_table(result));

  ReportTable timeline{"timeline", "Intercepted handshakes per issuer and day", {"issuer_sha1", "issuer_key", "day", "handshakes", "issuer_valid"}, {}};
  for (const auto& row : result.issuers) {
    for (const auto& [day, count] : row.per_day) {
      const UtcSeconds start{std::chrono::days{day}};
      const bool valid = row.not_before && row.not_after && start + std::chrono::days{1} > *row.not_before && start <= *row.not_after;
      timeline.rows.push_back({row.sha1, row.key, day_text(day), count, row.not_before ? json(valid) : json(nullptr)});
    }
  }
  tables.push_back(std::move(timeline));
  return tables;
}

ordered_json ooni_summary_json(const ooni::AnalysisResult& result) {
  const auto& totals = result.totals;
  ordered_json verdicts = ordered_json::object();
  for (const auto& [name, count] : totals.verdicts) verdicts[name] = count;
  ordered_json categories = ordered_json::object();
  for (const auto& [name, count] : totals.categories) categories[name] = count;
  ordered_json sources = ordered_json::object();
  for (const auto& [name, count] : totals.sources) sources[name] = count;
  const double mb = static_cast<double>(totals.bytes_out) / 1e6;
  return {
      {"files", totals.files},
      {"files_failed", totals.files_failed},
      {"bytes_compressed", totals.bytes_in},
      {"bytes_uncompressed", totals.bytes_out},
      {"lines", totals.lines},
      {"measurements", totals.measurements},
      {"sources", sources},
      {"filtered_out", totals.filtered_out},
      {"malformed", totals.malformed},
      {"errors", result.errors.size()},
      {"measurements_with_tls", totals.with_tls},
      {"handshakes", totals.handshakes},
      {"verdicts", verdicts},
      {"categories", categories},
      {"issuers", result.issuers.size()},
      {"domains", result.domains.size()},
      {"networks", result.networks.size()},
      {"families", result.families.size()},
      {"distinct_certificates", totals.distinct_certificates},
      {"unparseable_certificates", totals.certificates_unparseable},
      {"validations", totals.validations},
      {"seconds", totals.seconds},
      {"mb_per_second", totals.seconds > 0 ? mb / totals.seconds : 0.0},
      {"measurements_per_second", totals.seconds > 0 ? static_cast<double>(totals.measurements) / totals.seconds : 0.0},
  };
}

ordered_json judged_handshake_json(const ooni::AnalysisResult& result, const ooni::JudgedHandshake& judged) {
  const auto& kept = *judged.handshake;
  ordered_json certificates = ordered_json::array();
  for (uint32_t id : kept.chain) {
    const auto& facts = result.certificates[id];
    certificates.push_back({{"sha256", facts.sha256},
                            {"sha1", facts.sha1},
                            {"subject", facts.subject},
                            {"issuer", facts.issuer},
                            {"parse_error", facts.parse_error.empty() ? json(nullptr) : json(facts.parse_error)}});
  }
  ordered_json issuer = nullptr;
  if (judged.issuer) {
    const auto& facts = result.certificates[*judged.issuer];
    issuer = {{"sha256", facts.sha256}, {"sha1", facts.sha1}, {"subject", facts.subject},
              {"from_corpus", judged.issuer_from_corpus}};
  }
  ordered_json root = nullptr;
  if (judged.root) {
    root = {{"id", judged.root->id}, {"name", judged.root->name}, {"country", judged.root->country},
            {"sha256", judged.root->certificate ? judged.root->certificate->sha256_hex() : std::string()}};
  }
  return {
      {"ts", format_utc(UtcSeconds{std::chrono::seconds{kept.time}})},
      {"source", ooni::data_source_name(kept.source)},
      {"file", kept.file < result.files.size() ? result.files[kept.file] : std::string()},
      {"line", kept.line},
      {"record", kept.record},
      {"handshake", kept.handshake},
      {"report_id", kept.report_id},
      {"test_name", kept.test_name},
      {"input", kept.input},
      {"probe_cc", kept.country},
      {"probe_asn", fmt::format("AS{}", kept.asn)},
      {"probe_network_name", kept.network},
      {"vantage", kept.vantage},
      {"address", kept.address},
      {"sni", kept.sni},
      {"failure", kept.failure.empty() ? json(nullptr) : json(kept.failure)},
      {"tls_version", kept.tls_version},
      {"cipher_suite", kept.cipher_suite},
      {"dns_consistent", tri_name(kept.dns_consistent)},
      {"control_tls", tri_name(kept.control_tls_ok)},
      {"matches_template", tri_name(kept.matches_template)},
      {"browser_error", kept.validation_error},
      {"verdict", ooni::ooni_verdict_name(judged.verdict)},
      {"outcome", outcome_name(ooni::ooni_outcome(judged.verdict))},
      {"category", category_name(judged.category)},
      {"reasons", ooni::judged_reasons(result, judged)},
      {"issuer", issuer},
      {"known_interceptor", root},
      {"issuer_key", judged.issuer_key},
      {"certificates", certificates},
  };
}

namespace {

// OONI keeps no ServerHello and no genuine certificate to compare with: the network, the root and the issuer.
ResultFacts judged_handshake_facts(const ooni::AnalysisResult& result, const ooni::JudgedHandshake& judged) {
  const auto& kept = *judged.handshake;
  ResultFacts facts;
  facts.outcome = ooni::ooni_outcome(judged.verdict);
  facts.networks.push_back(fmt::format("AS{}", kept.asn));
  if (judged.root) facts.interceptor = judged.root->id;
  if (!kept.chain.empty()) facts.issuer = result.certificates[kept.chain.front()].issuer;
  facts.source = std::string(ooni::data_source_name(kept.source));
  return facts;
}

}  // namespace

StoredResult judged_handshake_result(const ooni::AnalysisResult& result, const ooni::JudgedHandshake& judged) {
  const auto& kept = *judged.handshake;
  StoredResult stored;
  // The archived "ip:port" ("[v6]:port"); the signal test records none.
  if (auto endpoint = parse_endpoint(kept.address, 443)) {
    stored.ip = endpoint->ip;
    stored.port = endpoint->port;
  } else {
    stored.ip = std::string(kept.address);
    stored.port = 443;
  }
  stored.sni = std::string(kept.sni);
  stored.time = format_utc(UtcSeconds{std::chrono::seconds{kept.time}});
  stored.verdict = std::string(ooni::ooni_verdict_name(judged.verdict));
  stored.result_json = judged_handshake_json(result, judged).dump();
  stored.measurement = measurement_id(result, kept);
  for (uint32_t id : kept.chain) {
    const auto& facts = result.certificates[id];
    if (facts.certificate) stored.certificates.emplace_back(facts.sha256, facts.certificate->der());
  }
  stored.facts = judged_handshake_facts(result, judged);
  if (judged.issuer && judged.issuer_from_corpus && stored.certificates.size() == 1) {
    const auto& facts = result.certificates[*judged.issuer];
    stored.certificates.emplace_back(facts.sha256, facts.certificate->der());
  }
  return stored;
}

std::string ooni_error_text(const ooni::LineError& error) {
  if (error.line == 0) return error.reason;  // file-level errors name the file already
  return fmt::format("{}:{}: {}", error.file, error.line, error.reason);
}

}  // namespace mitmscope
