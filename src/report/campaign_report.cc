#include "report/campaign_report.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analyze/forged_chain.h"
#include "analyze/issuer_validity.h"
#include "analyze/monitor_events.h"
#include "analyze/stored_families.h"
#include "core/time.h"
#include "x509/certificate.h"

namespace mitmscope {
namespace {

using Json = nlohmann::json;

Json parse_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  try {
    return Json::parse(text);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The latest finished scan (a plain scan before a monitor round: a round may cover a few hosts only), or the
// scan `chosen`, and, when it is one shard of a split scan, the latest finished scan of every other shard with
// the same parameters; by shard. With `intercepting`, the latest one whose scan saw interception.
std::vector<const StoredScan*> latest_campaign(const std::vector<StoredScan>& scans, bool intercepting = false,
                                               std::optional<int64_t> chosen = std::nullopt) {
  const StoredScan* latest = nullptr;
  const StoredScan* latest_round = nullptr;
  // An OONI ingest is not a campaign of hosts: its views are `ooni`'s.
  auto tallied = [](const StoredScan& scan) {
    return !scan.finished_at.empty() && scan.tally && scan.tally->source == ScanSource::kScan;
  };
  for (const auto& scan : scans) {
    if (!tallied(scan) || (chosen && scan.id != *chosen)) continue;
    if (intercepting && scan.tally->intercepted_hosts == 0) continue;
    (scan.monitor.empty() ? latest : latest_round) = &scan;
  }
  if (!latest) latest = latest_round;
  if (!latest) return {};
  Json parameters = parse_or_null(latest->parameters);
  if (!parameters.is_object() || parameters.value("shards", 1) <= 1 || !parameters.contains("shard")) return {latest};
  auto without_shard = [](Json value) {
    value.erase("shard");
    return value;
  };
  const Json work = without_shard(parameters);
  std::map<int, const StoredScan*> per_shard;
  for (const auto& scan : scans) {
    const Json other = parse_or_null(scan.parameters);
    if (!tallied(scan) || !other.is_object() || !other.contains("shard") || without_shard(other) != work) {
      continue;
    }
    per_shard[other["shard"].get<int>()] = &scan;   // scans come by id: the latest stays
  }
  std::vector<const StoredScan*> out;
  for (const auto& [shard, scan] : per_shard) out.push_back(scan);
  return out;
}

}  // namespace

Result<std::string> report_format(std::string_view format, std::string_view out) {
  static constexpr std::string_view kFormats[] = {"md", "json", "csv", "html"};
  if (!format.empty()) {
    if (std::find(std::begin(kFormats), std::end(kFormats), format) != std::end(kFormats)) return std::string(format);
    return make_error(ErrorCode::kInvalidArgument, fmt::format("--format '{}': use md, json, csv or html", format));
  }
  const std::filesystem::path path(out);
  const std::string extension = path.extension().string();
  if (out == "-" || extension == ".md") return std::string("md");
  if (extension == ".html" || extension == ".htm") return std::string("html");
  if (extension == ".json") return std::string("json");
  std::error_code error;
  if (out.ends_with('/') || std::filesystem::is_directory(path, error) || extension.empty()) return std::string("csv");
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("--out {}: say --format (md, json, csv or html); the extension '{}' does not", out, extension));
}

bool ReportTable::shown_in_text(size_t column) const {
  return column >= columns.size() || std::find(machine_columns.begin(), machine_columns.end(), columns[column]) == machine_columns.end();
}

std::string report_cell_text(const Json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return fmt::format("{:.4f}", value.get<double>());
  if (value.is_array() && std::all_of(value.begin(), value.end(), [](const Json& item) { return item.is_string(); })) {
    std::string text;   // a list of names in one cell: space-separated, empty when none
    for (const auto& item : value) text += (text.empty() ? "" : " ") + item.get<std::string>();
    return text;
  }
  return value.dump();
}

nlohmann::ordered_json table_records(const ReportTable& table) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : table.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t i = 0; i < table.columns.size() && i < row.size(); ++i) object[table.columns[i]] = row[i];
    rows.push_back(std::move(object));
  }
  return rows;
}

namespace {

ReportTable rounds_table(const std::vector<StoredScan>& scans) {
  ReportTable rounds{"rounds", "Scans and monitor rounds: intercepted hosts over time",
                     {"scan", "monitor", "round", "started_at", "finished", "hosts", "eligible", "intercepted_hosts",
                      "intercepted_share"},
                     {}};
  for (const auto& scan : scans) {
    const ScanTally* tally = scan.tally && scan.tally->source == ScanSource::kScan ? &*scan.tally : nullptr;
    auto count = [&](size_t ScanTally::*field) { return tally ? Json(tally->*field) : Json(nullptr); };
    rounds.rows.push_back({scan.id, scan.monitor.empty() ? Json(nullptr) : Json(scan.monitor),
                           scan.monitor.empty() ? Json(nullptr) : Json(scan.round), scan.started_at,
                           !scan.finished_at.empty(), count(&ScanTally::hosts), count(&ScanTally::eligible),
                           count(&ScanTally::intercepted_hosts), tally ? Json(tally->intercepted_share()) : Json(nullptr)});
  }
  return rounds;
}

Result<ReportTable> events_table(Store& store) {
  auto events = store.all_events();
  if (!events) return std::unexpected(events.error());
  ReportTable event_table{"events", "Monitor events", {"monitor", "round", "time", "type", "scope", "event", "detail"}, {},
                          {"detail"}};
  for (const auto& [monitor, event] : *events) {
    const auto detail = Json::parse(event.detail_json, nullptr, false);
    event_table.rows.push_back({monitor, event.round, event.time, event.type, event.scope,
                                event_sentence(event.type, event.scope, detail), event.detail_json});
  }
  return event_table;
}

// Per AS and per domain over the chosen campaign (BRIEF's Tables 1 and 2).
Result<std::pair<ReportTable, ReportTable>> campaign_tables(Store& store, const std::vector<StoredScan>& scans,
                                                           const ReportOptions& options) {
  // The latest campaign: the latest finished scan, with the latest finished scan of each other
  // shard of the same work when scanners split it (--shards N): per AS and per domain over all.
  const auto campaign = latest_campaign(scans, false, options.scan);
  if (options.scan && campaign.empty()) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: no finished scan {}", store.location(), *options.scan));
  }
  ReportTable per_as{"per_as", "Intercepted share per AS (latest finished scan)",
                     {"as", "name", "hosts", "eligible", "intercepted", "intercepted_share"}, {}};
  ReportTable per_domain{"per_domain", "Intercepted hosts per domain (latest finished scan)", {"domain", "intercepted_hosts"}, {}};
  std::string campaign_name;
  for (const auto* scan : campaign) campaign_name += (campaign_name.empty() ? "" : "+") + std::to_string(scan->id);
  if (!campaign.empty()) {
    const std::string which = campaign.size() == 1 ? fmt::format(": scan {}", campaign_name)
                                                   : fmt::format(": scans {} ({} shards)", campaign_name, campaign.size());
    per_as.title += which;
    per_domain.title += which;
    struct Counts {
      Json name = nullptr;
      size_t hosts = 0, eligible = 0, intercepted = 0;
    };
    std::map<std::string, Counts> ases;
    std::map<std::string, size_t> domains;
    for (const auto* scan : campaign) {
      // Per AS when the scan had a prefix table, else per the hosts' first tag.
      const bool by_as = std::ranges::any_of(scan->tally->groups, [](const TallyGroup& group) { return group.kind == TallyKind::kAs; });
      for (const auto& group : scan->tally->groups) {
        if (group.kind == TallyKind::kDomain) {
          domains[group.key] += group.intercepted;
          continue;
        }
        if (group.kind != (by_as ? TallyKind::kAs : TallyKind::kTag)) continue;
        auto& counts = ases[group.key];
        if (!group.name.empty()) counts.name = group.name;
        counts.hosts += group.hosts;
        counts.eligible += group.eligible;
        counts.intercepted += group.intercepted;
      }
    }
    for (const auto& [key, counts] : ases) {
      per_as.rows.push_back({key, counts.name, counts.hosts, counts.eligible, counts.intercepted,
                             counts.eligible ? double(counts.intercepted) / double(counts.eligible) : 0.0});
    }
    std::ranges::stable_sort(per_as.rows, [](const auto& a, const auto& b) { return a[4].template get<size_t>() > b[4].template get<size_t>(); });
    for (const auto& [domain, hosts] : domains) per_domain.rows.push_back({domain, hosts});
    std::ranges::stable_sort(per_domain.rows, [](const auto& a, const auto& b) { return a[1].template get<size_t>() > b[1].template get<size_t>(); });
  }
  return std::pair{std::move(per_as), std::move(per_domain)};
}

// `issuers`: the store's intercepting issuers, read once for this table and the families.
Result<ReportTable> intermediates_table(const Result<std::vector<IssuerValidity>>& issuers) {
  if (!issuers) return std::unexpected(issuers.error());
  ReportTable intermediates{"intermediates",
                            "Certificates that signed intercepted leaves, against their validity",
                            {"sha256", "subject", "issuer", "not_before", "not_after", "first_seen", "last_seen",
                             "results", "used_before_not_before", "used_after_not_after"},
                            {}};
  auto optional_count = [](const std::optional<size_t>& count) { return count ? Json(*count) : Json(nullptr); };
  for (const auto& use : *issuers) {
    const bool window = use.not_before && use.not_after;
    intermediates.rows.push_back({use.sha256, use.certificate ? Json(use.certificate->subject()) : Json(nullptr),
                                  use.certificate ? Json(use.certificate->issuer()) : Json(nullptr),
                                  window ? Json(format_utc(*use.not_before)) : Json(nullptr),
                                  window ? Json(format_utc(*use.not_after)) : Json(nullptr), use.first_seen, use.last_seen,
                                  use.results, optional_count(use.used_before), optional_count(use.used_after)});
  }
  return intermediates;
}

// The study's Figure 4 as rows: the forged chain, root first, each certificate with its validity and key.
Result<ReportTable> forged_chain_table(Store& store, const InterceptorRegistry* registry) {
  ReportTable table{"forged_chain", "The forged chain: root -> intermediate -> leaf",
                    {"role", "subject", "issuer", "not_before", "not_after", "validity_days", "key", "signature", "sha256",
                     "source"},
                    {}};
  auto chain = forged_chain(store, registry);
  if (!chain) return std::unexpected(chain.error());
  if (!*chain) return table;
  table.title = fmt::format("The forged chain: root -> intermediate -> leaf (the intermediate that signed most intercepted "
                            "results, {}; the leaf of {})", (*chain)->results, (*chain)->example);
  for (const auto& link : (*chain)->links) {
    const Certificate& certificate = link.certificate;
    const auto from = certificate.not_before(), to = certificate.not_after();
    const PublicKeyInfo key = certificate.public_key();
    table.rows.push_back({chain_role_name(link.role), certificate.subject(), certificate.issuer(),
                          from ? Json(format_utc(*from)) : Json(nullptr), to ? Json(format_utc(*to)) : Json(nullptr),
                          from && to ? Json(std::chrono::duration_cast<std::chrono::days>(*to - *from).count()) : Json(nullptr),
                          fmt::format("{} {}{}", key.type, key.bits, key.rsa_exponent.empty() ? "" : " e=" + key.rsa_exponent),
                          certificate.signature_algorithm(), certificate.sha256_hex(), link.source});
  }
  return table;
}

// The profile a result belongs to: (interceptor, issuer, JA3S, JA4S, validity shifts, serial rule, key, extensions
// dropped), and the serial's replaced trailing bits, from the result's stored facts.
std::pair<std::vector<Json>, std::optional<size_t>> profile_key(const ResultFacts& facts) {
  auto optional_hours = [](const std::optional<double>& hours) { return hours ? Json(*hours) : Json(nullptr); };
  std::vector<Json> fields = {facts.interceptor.empty() ? "unknown" : facts.interceptor, facts.issuer, facts.ja3s, facts.ja4s};
  if (!facts.forging) {
    fields.insert(fields.end(), {nullptr, nullptr, "", "", ""});
    return {std::move(fields), std::nullopt};
  }
  const ForgingFacts& forging = *facts.forging;
  // The rule, not the random bits of one serial: which part of the genuine serial survives.
  const std::string serial = forging.serial_length_changed                ? "new length"
                             : forging.serial_trailing_bits_differing == 0 ? "copied"
                             : forging.serial_leading_bits_kept == 0       ? "replaced"
                                                                          : "leading bits kept, trailing bits replaced";
  const std::string key = fmt::format("{} {}{}", forging.key_type, forging.key_bits,
                                      forging.key_exponent.empty() ? "" : " e=" + forging.key_exponent);
  fields.insert(fields.end(), {optional_hours(forging.not_before_shift_hours), optional_hours(forging.not_after_shift_hours),
                               serial, key, fmt::format("{}", fmt::join(forging.extensions_dropped, " "))});
  return {std::move(fields), static_cast<size_t>(forging.serial_trailing_bits_differing)};
}

Result<ReportTable> profile_table(Store& store, const std::vector<StoredScan>& scans, const ReportOptions& options) {
  // The interceptor's profile over the intercepted results of the latest campaign that saw any:
  // one row per distinct (interceptor, issuer, ServerHello fingerprint, forging rule).
  const auto intercepted_campaign = latest_campaign(scans, true, options.scan);
  std::string intercepted_name;
  for (const auto* scan : intercepted_campaign) intercepted_name += (intercepted_name.empty() ? "" : "+") + std::to_string(scan->id);
  ReportTable profile{"profile", "The interceptor's profile: forging rules and fingerprints (latest scan with interception)",
                      {"interceptor", "issuer", "ja3s", "ja4s", "not_before_shift_hours", "not_after_shift_hours",
                       "serial", "serial_bits_replaced", "key", "extensions_dropped", "results", "hosts", "domains"},
                      {}};
  if (!intercepted_campaign.empty()) {
    profile.title = fmt::format("The interceptor's profile: forging rules and fingerprints (latest scan with interception: {})",
                                intercepted_name);
  }
  struct ProfileCounts {
    size_t results = 0;
    size_t trailing_min = SIZE_MAX, trailing_max = 0;
    std::set<std::string> hosts, domains;
  };
  std::map<std::vector<Json>, ProfileCounts> profiles;
  // Bounded at any scale: at most this many intercepted results per scan are read (and the title says so).
  constexpr size_t kProfileSample = 20000;
  size_t sampled = 0;
  bool capped = false;
  for (const auto* scan : intercepted_campaign) {
    auto results = store.intercepted_results(scan->id, kProfileSample);
    if (!results) return std::unexpected(results.error());
    sampled += results->size();
    capped |= results->size() == kProfileSample;
    for (const auto& result : *results) {
      auto [key_fields, trailing] = profile_key(result.facts);
      auto& counts = profiles[key_fields];
      ++counts.results;
      if (trailing) {
        counts.trailing_min = std::min(counts.trailing_min, *trailing);
        counts.trailing_max = std::max(counts.trailing_max, *trailing);
      }
      counts.hosts.insert(result.ip);
      counts.domains.insert(result.sni);
    }
  }
  if (capped) profile.title += fmt::format(", from a sample of {} intercepted results (the first {} per scan)", sampled, kProfileSample);
  for (const auto& [fields, counts] : profiles) {
    std::vector<Json> row = fields;
    row.insert(row.begin() + 7, counts.trailing_min == SIZE_MAX ? Json(nullptr)
                                : counts.trailing_min == counts.trailing_max
                                    ? Json(std::to_string(counts.trailing_min))
                                    : Json(fmt::format("{}-{}", counts.trailing_min, counts.trailing_max)));
    row.push_back(counts.results);
    row.push_back(counts.hosts.size());
    row.push_back(counts.domains.size());
    profile.rows.push_back(std::move(row));
  }
  std::ranges::stable_sort(profile.rows, [](const auto& a, const auto& b) { return a[10].template get<size_t>() > b[10].template get<size_t>(); });
  return profile;
}

// Where traces found the injection, from the latest trace of each address and name.
Result<std::pair<ReportTable, ReportTable>> trace_tables(Store& store) {
  auto traces = store.traces();
  if (!traces) return std::unexpected(traces.error());
  // The latest trace of each address and name.
  std::map<std::tuple<std::string, uint16_t, std::string>, const StoredTrace*> latest_traces;
  for (const auto& trace : *traces) {
    auto& slot = latest_traces[{trace.ip, trace.port, trace.sni}];
    if (!slot || slot->run <= trace.run) slot = &trace;
  }
  ReportTable where{"trace_hops", "Where the forged certificate is injected: traced addresses by kind and hops before the address",
                    {"kind", "injection_ttl", "address_distance", "hops_before_address", "addresses", "share"}, {}};
  ReportTable pairs{"trace_router_pairs", "Router pairs around the injection point", {"router_before", "router_after", "addresses", "share"}, {}};
  std::map<std::tuple<std::string, int, int>, size_t> kinds;
  std::map<std::pair<std::string, std::string>, size_t> router_pairs;
  size_t located = 0;
  for (const auto& [key, trace] : latest_traces) {
    ++kinds[{trace->kind, trace->injection_ttl, trace->address_distance}];
    if (trace->injection_ttl > 0) {
      ++located;
      ++router_pairs[{trace->router_before, trace->router_after}];
    }
  }
  for (const auto& [key, count] : kinds) {
    const auto& [kind, ttl, distance] = key;
    where.rows.push_back({kind, ttl ? Json(ttl) : Json(nullptr), distance ? Json(distance) : Json(nullptr),
                          ttl && distance ? Json(distance - ttl) : Json(nullptr), count,
                          double(count) / double(latest_traces.size())});
  }
  std::ranges::stable_sort(where.rows, [](const auto& a, const auto& b) { return a[4].template get<size_t>() > b[4].template get<size_t>(); });
  for (const auto& [key, count] : router_pairs) {
    pairs.rows.push_back({key.first.empty() ? Json(nullptr) : Json(key.first), key.second.empty() ? Json(nullptr) : Json(key.second),
                          count, double(count) / double(located)});
  }
  std::ranges::stable_sort(pairs.rows, [](const auto& a, const auto& b) { return a[2].template get<size_t>() > b[2].template get<size_t>(); });
  return std::pair{std::move(where), std::move(pairs)};
}

}  // namespace

namespace {

// Which public data source saw what, per stored `ooni` ingest (its typed tally), newest first.
ReportTable sources_table(const std::vector<StoredScan>& scans) {
  ReportTable sources{"sources", "Which public data source saw what (each stored ooni ingest)",
                      {"scan", "source", "measurements", "intercepted_measurements"}, {}};
  for (auto scan = scans.rbegin(); scan != scans.rend(); ++scan) {
    if (!scan->tally) continue;
    for (const auto& group : scan->tally->groups) {
      if (group.kind == TallyKind::kSource) sources.rows.push_back({scan->id, group.key, group.hosts, group.intercepted});
    }
  }
  return sources;
}

// Interceptor families over everything stored (analyze/stored_families): names and evidence as text, the members'
// SHA-256 for programs (and `export`).
Result<ReportTable> families_table(Store& store, const Result<std::vector<IssuerValidity>>& issuers) {
  if (!issuers) return std::unexpected(issuers.error());
  ReportTable table{"families", "Interceptor families: issuers of intercepted results grouped by key, near-duplicate names "
                                "and leaf profile, whatever measured them",
                    {"family", "issuers", "issuer_names", "known_as", "first_seen", "last_seen", "results", "names",
                     "networks", "sources", "profiles", "evidence", "issuer_sha256"},
                    {},
                    {"issuer_sha256"}};
  auto members = family_members(store, *issuers);
  if (!members) return std::unexpected(members.error());
  for (const auto& family : group_members(*members)) {
    std::vector<std::string> names, sha256;
    for (const FamilyMember* member : family.members) {
      names.push_back(member->candidate.name);
      sha256.push_back(member->use.sha256);
    }
    std::vector<std::string> sources;
    for (const auto& [source, count] : family.sources) sources.push_back(fmt::format("{} {}", source.empty() ? "unrecorded" : source, count));
    table.rows.push_back({family.id, family.members.size(), fmt::format("{}", fmt::join(names, "; ")),
                          family.known_as.empty() ? std::string("unknown") : fmt::format("{}", fmt::join(family.known_as, "; ")),
                          family.first_seen, family.last_seen, family.results, family.names.size(), family.networks.size(),
                          fmt::format("{}", fmt::join(sources, ", ")), fmt::format("{}", fmt::join(family.profiles, "; ")),
                          fmt::format("{}", fmt::join(family.evidence, "; ")), sha256});
  }
  return table;
}

}  // namespace

Result<std::vector<ReportTable>> build_report_tables(Store& store, const ReportOptions& options) {
  auto scans = store.scans();
  if (!scans) return std::unexpected(scans.error());
  auto events = events_table(store);
  auto campaign = campaign_tables(store, *scans, options);
  const auto issuers = issuer_validity(store);
  auto intermediates = intermediates_table(issuers);
  auto chain = forged_chain_table(store, options.registry);
  auto profile = profile_table(store, *scans, options);
  auto traces = trace_tables(store);
  auto families = families_table(store, issuers);
  for (const Error* error : {events ? nullptr : &events.error(), campaign ? nullptr : &campaign.error(),
                             intermediates ? nullptr : &intermediates.error(), chain ? nullptr : &chain.error(),
                             profile ? nullptr : &profile.error(), traces ? nullptr : &traces.error(),
                             families ? nullptr : &families.error()}) {
    if (error) return std::unexpected(*error);
  }
  std::vector<ReportTable> tables;
  tables.push_back(rounds_table(*scans));
  tables.push_back(std::move(*events));
  tables.push_back(std::move(campaign->first));
  tables.push_back(std::move(campaign->second));
  tables.push_back(std::move(*intermediates));
  tables.push_back(std::move(*chain));
  tables.push_back(std::move(*profile));
  tables.push_back(std::move(traces->first));
  tables.push_back(std::move(traces->second));
  tables.push_back(sources_table(*scans));
  tables.push_back(std::move(*families));
  return tables;
}

std::string tables_markdown(const std::vector<ReportTable>& tables) {
  std::string out = "# mitmscope report\n";
  for (const auto& table : tables) {
    out += fmt::format("\n## {}\n\n", table.title);
    if (table.rows.empty()) {
      out += "(none)\n";
      continue;
    }
    out += "|";
    for (size_t i = 0; i < table.columns.size(); ++i) {
      if (table.shown_in_text(i)) out += " " + table.columns[i] + " |";
    }
    out += "\n|";
    for (size_t i = 0; i < table.columns.size(); ++i) out += table.shown_in_text(i) ? "---|" : "";
    out += "\n";
    for (const auto& row : table.rows) {
      out += "|";
      for (size_t i = 0; i < row.size(); ++i) {
        if (!table.shown_in_text(i)) continue;
        std::string text = report_cell_text(row[i]);
        std::ranges::replace(text, '|', '/');
        std::ranges::replace(text, '\n', ' ');
        out += " " + text + " |";
      }
      out += "\n";
    }
  }
  return out;
}

nlohmann::ordered_json tables_json(const std::vector<ReportTable>& tables) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& table : tables) {
    auto rows = table_records(table);
    if (table.name == "events") {   // the stored detail is JSON text: give it as JSON
      for (auto& row : rows) row["detail"] = nlohmann::ordered_json::parse(row["detail"].get<std::string>(), nullptr, false);
    }
    out[table.name] = std::move(rows);
  }
  return out;
}

std::string table_csv(const ReportTable& table) {
  auto quote = [](const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  };
  std::string out;
  for (size_t i = 0; i < table.columns.size(); ++i) out += (i ? "," : "") + quote(table.columns[i]);
  out += "\r\n";
  for (const auto& row : table.rows) {
    for (size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + quote(report_cell_text(row[i]));
    out += "\r\n";
  }
  return out;
}

}  // namespace mitmscope
