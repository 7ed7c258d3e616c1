#include "ooni/tables.h"

#include <algorithm>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace mitmscope::ooni {
namespace {

UtcSeconds from_seconds(int64_t seconds) { return UtcSeconds{std::chrono::seconds{seconds}}; }
int64_t day_of(int64_t seconds) { return seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400; }

using MeasurementKey = std::tuple<uint32_t, uint64_t, uint32_t>;   // (file, line, record)

// The first sight of an issuer: what the row says about it, its issuer and its registry root.
IssuerRow new_issuer_row(const AnalysisResult& result, const JudgedHandshake& judged) {
  const auto& certificates = result.certificates;
  IssuerRow row;
  row.key = judged.issuer_key;
  row.certificate = judged.issuer;
  if (judged.issuer) {
    const auto& facts = certificates[*judged.issuer];
    row.subject = facts.subject;
    row.serial = facts.certificate->serial_hex();
    row.sha1 = facts.sha1;
    row.sha256 = facts.sha256;
    row.authority_key_id = facts.authority_key_id;
    row.not_before = facts.certificate->not_before();
    row.not_after = facts.certificate->not_after();
    for (const auto& collision : facts.registry.collisions) row.name_collisions.push_back(collision.entry_id);
  } else {
    const auto& leaf = certificates[judged.handshake->chain.front()];
    row.subject = leaf.issuer;
    row.authority_key_id = leaf.authority_key_id;
  }
  row.root = "unknown";
  if (judged.root) {
    row.root = judged.root->name;
    row.root_id = judged.root->id;
    if (judged.root->certificate) {
      row.root_sha1 = judged.root->certificate->sha1_hex();
      row.root_sha256 = judged.root->certificate->sha256_hex();
    }
    const bool issuer_attributed = judged.issuer && certificates[*judged.issuer].registry;
    row.attribution_method =
        issuer_attributed ? std::string(attribution_method_name(certificates[*judged.issuer].registry.method)) : "chain";
  }
  row.first_seen = row.last_seen = from_seconds(judged.handshake->time);
  return row;
}

// One intercepted handshake signed by this issuer: when, whether outside the issuer's validity, where.
void add_use(IssuerRow& row, const KeptHandshake& kept) {
  const UtcSeconds time = from_seconds(kept.time);
  row.first_seen = std::min(row.first_seen, time);
  row.last_seen = std::max(row.last_seen, time);
  ++row.count;
  const bool before = row.not_before && time < *row.not_before;
  const bool after = row.not_after && time > *row.not_after;
  row.before_validity += before;
  row.after_validity += after;
  if (before || after) {
    if (!row.first_outside || time < *row.first_outside) row.first_outside = time;
    if (!row.last_outside || time > *row.last_outside) row.last_outside = time;
  }
  row.domains.insert(std::string(kept.sni));
  row.networks.insert(kept.asn);
  ++row.per_day[day_of(kept.time)];
}

void touch(CountRow& row, std::string key, const JudgedHandshake& judged) {
  const UtcSeconds time = from_seconds(judged.handshake->time);
  row.key = std::move(key);
  if (row.intercepted == 0 || time < row.first_seen) row.first_seen = time;
  if (row.intercepted == 0 || time > row.last_seen) row.last_seen = time;
  ++row.intercepted;
  row.issuers.insert(std::string(judged.issuer_key));
}

bool more_intercepted(const CountRow& a, const CountRow& b) {
  return a.intercepted != b.intercepted ? a.intercepted > b.intercepted : a.key < b.key;
}

// Per domain, network and country, with the distinct intercepted measurements of each.
struct CountTables {
  std::map<std::string, CountRow> domains, countries, sources;
  std::map<std::string, std::set<MeasurementKey>> source_measurements;
  std::map<uint32_t, CountRow> networks;
  std::map<uint32_t, std::set<MeasurementKey>> network_measurements;
  std::map<std::string, std::set<MeasurementKey>> country_measurements;

  void add(const JudgedHandshake& judged) {
    const KeptHandshake& kept = *judged.handshake;
    const MeasurementKey measurement{kept.file, kept.line, kept.record};
    touch(domains[std::string(kept.sni)], std::string(kept.sni), judged);
    touch(networks[kept.asn], fmt::format("AS{}", kept.asn), judged);
    touch(countries[std::string(kept.country)], std::string(kept.country), judged);
    const std::string source(data_source_name(kept.source));
    touch(sources[source], source, judged);
    source_measurements[source].insert(measurement);
    network_measurements[kept.asn].insert(measurement);
    country_measurements[std::string(kept.country)].insert(measurement);
  }

  void write(AnalysisResult& result, const MeasurementCounts& counts) {
    for (auto& [key, row] : domains) result.domains.push_back(std::move(row));
    std::sort(result.domains.begin(), result.domains.end(), more_intercepted);
    for (auto& [asn, row] : networks) {
      const auto network = counts.networks.find(asn);
      if (network != counts.networks.end()) std::tie(row.name, row.measurements) = network->second;
      row.intercepted_measurements = network_measurements[asn].size();
      result.networks.push_back(std::move(row));
    }
    std::sort(result.networks.begin(), result.networks.end(), more_intercepted);
    for (const auto& [source, measurements] : result.totals.sources) {
      CountRow row = sources.contains(source) ? std::move(sources[source]) : CountRow{.key = source};
      row.measurements = measurements;
      row.intercepted_measurements = source_measurements[source].size();
      result.sources.push_back(std::move(row));
    }
    for (auto& [country, row] : countries) {
      const auto found = counts.countries.find(country);
      row.measurements = found == counts.countries.end() ? 0 : found->second;
      row.intercepted_measurements = country_measurements[country].size();
      result.countries.push_back(std::move(row));
    }
  }
};

// Gaps between consecutive issuers' validity windows, and the intercepted handshakes inside them.
void find_validity_gaps(AnalysisResult& result) {
  std::vector<const IssuerRow*> windows;
  for (const auto& row : result.issuers) {
    if (row.not_before && row.not_after) windows.push_back(&row);
  }
  std::sort(windows.begin(), windows.end(), [](const IssuerRow* a, const IssuerRow* b) { return *a->not_before < *b->not_before; });
  const IssuerRow* covering = nullptr;
  for (const IssuerRow* row : windows) {
    if (covering && *row->not_before > *covering->not_after) {
      ValidityGap gap{covering->key, row->key, *covering->not_after, *row->not_before, 0};
      for (const auto& judged : result.judged) {
        const auto time = from_seconds(judged.handshake->time);
        if (judged.verdict == OoniVerdict::kIntercepted && time > gap.from && time < gap.to) ++gap.uses;
      }
      result.gaps.push_back(gap);
    }
    if (!covering || *row->not_after > *covering->not_after) covering = row;
  }
}

}  // namespace

void build_tables(AnalysisResult& result, const MeasurementCounts& counts) {
  std::map<std::string, IssuerRow> issuers;
  CountTables tables;
  for (const auto& judged : result.judged) {
    ++result.totals.verdicts[std::string(ooni_verdict_name(judged.verdict))];
    ++result.totals.categories[fmt::format("{}/{}", ooni_verdict_name(judged.verdict), category_name(judged.category))];
    if (judged.verdict != OoniVerdict::kIntercepted) continue;
    auto found = issuers.find(std::string(judged.issuer_key));
    if (found == issuers.end()) found = issuers.emplace(std::string(judged.issuer_key), new_issuer_row(result, judged)).first;
    add_use(found->second, *judged.handshake);
    tables.add(judged);
  }
  for (auto& [key, row] : issuers) result.issuers.push_back(std::move(row));
  std::sort(result.issuers.begin(), result.issuers.end(), [](const IssuerRow& a, const IssuerRow& b) {
    return std::tie(a.first_seen, a.key) < std::tie(b.first_seen, b.key);
  });
  tables.write(result, counts);
  find_validity_gaps(result);
}

}  // namespace mitmscope::ooni
