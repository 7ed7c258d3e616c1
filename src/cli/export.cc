// `mitmscope export [FILE...] [--store S] --out DIR`: the interception CAs that were measured, as the
// entries browsers ship (report/browser_export.h), with the evidence to attach to a bug report.
//
// What is exported:
//   --store: every CA that signed intercepted leaves (chain position 1 of `intercepted` results), with its
//            uses, first/last seen, uses outside its validity, domains, hosts and networks; plus the registry
//            root that signed it, when one did (the interceptor never sends its root).
//   FILE:    certificate files (PEM, DER, base64; chains) and `inspect --json` output: every CA certificate
//            in them. A file with only leaves is an error: browsers block the CA, not one forged leaf.
// A Mozilla-trusted root is never exported without --include-trusted: blocking one breaks the web for
// everyone, and an interception by a public CA is an intermediate to block, not its root.
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analyze/issuer_validity.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/time.h"
#include "report/browser_export.h"
#include "store/store.h"
#include "x509/certificate_reader.h"

namespace mitmscope::cli {
namespace {

struct ExportCliOptions {
  std::vector<std::string> files;
  std::string store;
  std::string out;
  std::string bug, who, why;
  std::string created;
  size_t min_results = 1;
  bool known_only = false;
  bool include_trusted = false;
  TrustOptions trust;
};

// Entries by certificate SHA-256, in the order first met.
class EntrySet {
 public:
  ExportEntry& add(const Certificate& certificate, const std::string& source) {
    auto [it, inserted] = index_.try_emplace(certificate.sha256_hex(), entries_.size());
    if (inserted) entries_.push_back({.certificate = certificate, .role = export_role(certificate)});
    auto& entry = entries_[it->second];
    if (std::find(entry.sources.begin(), entry.sources.end(), source) == entry.sources.end()) {
      entry.sources.push_back(source);
    }
    return entry;
  }
  ExportEntry* find(const std::string& sha256) {
    auto it = index_.find(sha256);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }
  std::vector<ExportEntry>& entries() { return entries_; }

 private:
  std::vector<ExportEntry> entries_;
  std::map<std::string, size_t> index_;
};

// The registry entry the certificate is or was signed by, and that entry's certificate when it is another
// one (the root above a measured intermediate).
std::optional<Certificate> attribute(const InterceptorRegistry& registry, ExportEntry& entry) {
  const Chain alone{entry.certificate};
  const auto attribution = registry.attribute(alone);
  if (!attribution) return std::nullopt;
  entry.registry_id = attribution.entry->id;
  entry.registry_name = attribution.entry->name;
  if (attribution.entry->certificate && !(*attribution.entry->certificate == entry.certificate) &&
      attribution.method == AttributionMethod::kSignature) {
    entry.signed_by = attribution.entry->certificate->sha256_hex();
    return attribution.entry->certificate;
  }
  return std::nullopt;
}

Result<void> add_store(const ExportCliOptions& options, EntrySet& set, const InterceptorRegistry& registry) {
  if (!options.store.starts_with("clickhouse://") && !std::filesystem::exists(options.store)) {
    return make_error(ErrorCode::kFileNotFound, fmt::format("{}: no such store", options.store));
  }
  auto store = open_store(options.store);
  if (!store) return std::unexpected(store.error());
  auto issuers = issuer_validity(**store, options.min_results);
  if (!issuers) return std::unexpected(issuers.error());
  const std::string source = fmt::format("store {}", (*store)->location());
  std::vector<std::string> kept;
  for (const auto& use : *issuers) {
    if (!use.certificate) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: stored certificate {}: {}", options.store, use.sha256, use.parse_error));
    }
    auto& entry = set.add(*use.certificate, source);
    entry.results += use.results;
    entry.first_seen = entry.first_seen.empty() ? use.first_seen : std::min(entry.first_seen, use.first_seen);
    entry.last_seen = std::max(entry.last_seen, use.last_seen);
    entry.before_validity += use.used_before.value_or(0);
    entry.after_validity += use.used_after.value_or(0);
    kept.push_back(use.sha256);
  }
  // Domains, hosts and networks from the intercepted results themselves.
  auto scans = (*store)->scans();
  if (!scans) return std::unexpected(scans.error());
  for (const auto& scan : *scans) {
    if (scan.finished_at.empty()) continue;
    auto visited = (*store)->for_each_result(scan.id, 4096, [&](std::span<const StoredResult> results) -> Result<void> {
      for (const auto& result : results) {
        if (result.verdict != "intercepted" || result.certificates.size() < 2) continue;
        auto* entry = set.find(result.certificates[1].first);
        if (!entry) continue;
        entry->domains.insert(result.sni);
        entry->hosts.insert(fmt::format("{}:{}", result.ip, result.port));
        entry->networks.insert(result.facts.networks.begin(), result.facts.networks.end());
      }
      return {};
    });
    if (!visited) return std::unexpected(visited.error());
  }
  if (kept.empty()) {
    fmt::print(stderr, "export: {} holds no CA that signed intercepted certificates{}\n", options.store,
               options.min_results > 1 ? fmt::format(" in at least {} results", options.min_results) : "");
  }
  for (const auto& sha256 : kept) {
    auto root = attribute(registry, *set.find(sha256));
    if (!root) continue;
    const std::string registry_id = set.find(sha256)->registry_id;  // copied: add() may move the entries
    set.add(*root, "registry (the root that signed a measured intermediate)").registry_id = registry_id;
  }
  return {};
}

// inspect --json lines: the certificates' base64 DER ("raw").
Result<Chain> read_inspect_json(const std::string& file) {
  std::ifstream input(file, std::ios::binary);
  Chain chain;
  std::string line;
  size_t number = 0;
  while (std::getline(input, line)) {
    ++number;
    if (line.empty()) continue;
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      return make_error(ErrorCode::kParseError, fmt::format("{}:{}: not a JSON object", file, number));
    }
    const auto certificates = json.find("certificates");
    if (certificates == json.end() || !certificates->is_array()) {
      return make_error(ErrorCode::kParseError, fmt::format("{}:{}: field certificates: missing or not an array (expected "
                                                            "`inspect --json` output)", file, number));
    }
    for (size_t i = 0; i < certificates->size(); ++i) {
      const auto& raw = (*certificates)[i].find("raw");
      if (raw == (*certificates)[i].end() || !raw->is_string()) {
        return make_error(ErrorCode::kParseError, fmt::format("{}:{}: field certificates[{}].raw: missing or not a string",
                                                              file, number, i));
      }
      auto certificate = certificate_from_base64(raw->get<std::string>());
      if (!certificate) {
        return make_error(ErrorCode::kParseError, fmt::format("{}:{}: field certificates[{}].raw: {}", file, number, i,
                                                              certificate.error().message));
      }
      chain.push_back(std::move(*certificate));
    }
  }
  return chain;
}

Result<void> add_file(const std::string& file, EntrySet& set) {
  std::ifstream probe(file, std::ios::binary);
  if (!probe) return make_error(ErrorCode::kFileNotFound, fmt::format("{}: cannot open", file));
  char first = 0;
  probe >> first;
  auto chain = first == '{' ? read_inspect_json(file) : read_certificate_file(file);
  if (!chain) return std::unexpected(chain.error());
  size_t authorities = 0;
  for (const auto& certificate : *chain) {
    if (!certificate.is_ca()) continue;
    set.add(certificate, file);
    ++authorities;
  }
  if (authorities == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: no CA certificate in it (export lists the CAs that sign forged certificates; a "
                                  "forged leaf alone is not what browsers block)", file));
  }
  return {};
}

Result<void> write_all(const std::filesystem::path& out, const std::vector<ExportFile>& files) {
  for (const auto& file : files) {
    const auto path = out / file.path;
    std::error_code error;
    std::filesystem::create_directories(path.parent_path(), error);
    if (error) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: {}", path.parent_path().string(), error.message()));
    std::ofstream stream(path, std::ios::binary | std::ios::trunc);
    stream << file.content;
    stream.close();
    if (!stream) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", path.string()));
  }
  return {};
}

int run_export(const ExportCliOptions& options) {
  if (options.store.empty() && options.files.empty()) {
    return report_error({ErrorCode::kInvalidArgument, "export: give --store, certificate files, or both"});
  }
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  ExportOptions export_options{.bug = options.bug, .who = options.who, .created = now_utc(), .block = !options.known_only};
  if (!options.why.empty()) export_options.why = options.why;
  if (!options.created.empty()) {
    auto created = parse_utc(options.created);
    if (!created) return report_error({ErrorCode::kInvalidArgument, "--created: " + created.error().message});
    export_options.created = *created;
  }

  EntrySet set;
  int status = kExitOk;
  for (const auto& file : options.files) {
    if (auto added = add_file(file, set); !added) status = report_error(added.error());
  }
  if (status != kExitOk) return status;  // an export with a file left out would look complete
  if (!options.store.empty()) {
    if (auto added = add_store(options, set, trust->registry); !added) return report_error(added.error());
  }
  std::vector<ExportEntry> entries;
  for (auto& entry : set.entries()) {
    if (entry.registry_id.empty()) attribute(trust->registry, entry);
    if (!options.include_trusted && trust->trust_store.contains(entry.certificate)) {
      fmt::print(stderr, "export: {} ({}) is a root of the trust store ({}): left out (--include-trusted to export it)\n",
                 entry.certificate.subject(), entry.certificate.sha256_hex(), trust->trust_store.description());
      continue;
    }
    entries.push_back(std::move(entry));
  }
  // A root that signed an exported intermediate is named in it.
  for (auto& entry : entries) {
    if (!entry.signed_by.empty() || entry.role != "intermediate") continue;
    for (const auto& other : entries) {
      if (other.role == "root" && entry.certificate.signed_by(other.certificate)) entry.signed_by = other.certificate.sha256_hex();
    }
  }
  if (entries.empty()) {
    return report_error({ErrorCode::kInvalidArgument, "export: nothing to export (no interception CA was found)"});
  }
  auto files = browser_export(entries, export_options);
  if (!files) return report_error(files.error());
  if (auto written = write_all(options.out, *files); !written) return report_error(written.error());
  size_t roots = 0;
  for (const auto& entry : entries) roots += entry.role == "root";
  fmt::print("export: {} CAs ({} roots, {} intermediates) written to {}: chromium/blocklist/ ({} files), "
             "chromium/cert_verify_proc_blocklist.inc, chromium/crlset, firefox/onecrl.json ({} records), "
             "certificates.pem, EVIDENCE.md, evidence.json\n",
             entries.size(), roots, entries.size() - roots, options.out, entries.size(), 2 * entries.size());
  return kExitOk;
}

}  // namespace

void register_export(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<ExportCliOptions>();
  auto* command = app.add_subcommand("export", "Write measured interception CAs as Chromium blocklist/CRLSet and Firefox "
                                               "OneCRL entries, a PEM bundle and the evidence");
  command->add_option("files", options->files, "Certificate files (PEM, DER, base64) or `inspect --json` output");
  command->add_option("--store", options->store, "A store (SQLite file or clickhouse://...): the CAs of its intercepted results");
  command->add_option("--out", options->out, "Folder to write into")->required();
  command->add_option("--min-results", options->min_results, "From a store: only CAs seen in at least this many intercepted results")
      ->capture_default_str();
  command->add_option("--bug", options->bug, "Bug report address, written into the OneCRL records and the evidence");
  command->add_option("--who", options->who, "Who reports it (OneCRL details.who)");
  command->add_option("--why", options->why, "Why it is blocked (OneCRL details.why)");
  command->add_option("--created", options->created, "Creation time written into the files (default: now; for reproducible output)");
  command->add_flag("--known-only", options->known_only,
                    "CRLSet: list the keys as known interception only, not as blocked");
  command->add_flag("--include-trusted", options->include_trusted, "Also export roots of the trust store");
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_export(*options); }); });
}

}  // namespace mitmscope::cli
