// `mitmscope audit [--root DIR] [--json]`: every root this machine trusts beyond the Mozilla set, where it is
// configured, and whether it is a known interceptor (the study's first recommendation: show people when a
// custom root is in use). Exit 11: a known interceptor is trusted; 10: other roots beyond Mozilla's are; 0: none.
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analyze/local_roots.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "report/json_output.h"

namespace mitmscope::cli {
namespace {

struct AuditCliOptions {
  std::string root = "/";
  bool json = false;
  bool no_p11kit = false;
  TrustOptions trust;
};

struct Finding {
  Certificate certificate;
  std::vector<const TrustedCertificate*> places;
  std::string kind;                  // "known_interceptor" or "unknown"
  std::shared_ptr<const RegistryEntry> entry;
  std::string method;
  bool anchor = false;               // trusted for TLS in at least one place
};

int run_audit(const AuditCliOptions& options) {
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  const auto roots = collect_local_roots({.root = options.root, .p11kit = !options.no_p11kit});

  std::map<std::string, Finding> findings;     // by SHA-256
  std::vector<std::string> order;
  size_t mozilla = 0;
  std::set<std::string> mozilla_seen;
  for (const auto& trusted : roots.certificates) {
    const auto sha256 = trusted.certificate.sha256_hex();
    if (trust->trust_store.contains(trusted.certificate)) {
      if (mozilla_seen.insert(sha256).second) ++mozilla;
      continue;
    }
    auto [it, inserted] = findings.try_emplace(sha256, Finding{.certificate = trusted.certificate});
    if (inserted) {
      order.push_back(sha256);
      const Chain alone{trusted.certificate};
      const auto attribution = trust->registry.attribute(alone);
      it->second.kind = attribution ? "known_interceptor" : "unknown";
      it->second.entry = attribution.entry;
      if (attribution) it->second.method = std::string(attribution_method_name(attribution.method));
    }
    it->second.places.push_back(&trusted);
    it->second.anchor = it->second.anchor || trusted.anchor;
  }
  size_t interceptors = 0, unknown = 0;
  for (const auto& [sha256, finding] : findings) {
    if (!finding.anchor) continue;
    (finding.kind == "known_interceptor" ? interceptors : unknown) += 1;
  }

  if (options.json) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& sha256 : order) {
      const auto& finding = findings.at(sha256);
      auto places = nlohmann::ordered_json::array();
      for (const auto* place : finding.places) {
        places.push_back({{"store", place->store}, {"location", place->location},
                          {"nss_trust", place->nss_trust.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(place->nss_trust)},
                          {"trusted_for_tls", place->anchor}});
      }
      list.push_back({{"kind", finding.kind},
                      {"trusted_for_tls", finding.anchor},
                      {"subject", finding.certificate.subject()},
                      {"issuer", finding.certificate.issuer()},
                      {"sha256", finding.certificate.sha256_hex()},
                      {"sha1", finding.certificate.sha1_hex()},
                      {"spki_sha256", finding.certificate.spki_sha256_hex()},
                      {"is_ca", finding.certificate.is_ca()},
                      {"registry_entry", finding.entry ? registry_entry_json(*finding.entry) : nlohmann::ordered_json(nullptr)},
                      {"attribution", finding.method.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(finding.method)},
                      {"places", places}});
    }
    nlohmann::ordered_json out = {{"root", options.root},
                                  {"mozilla_roots_found", mozilla},
                                  {"known_interceptors_trusted", interceptors},
                                  {"other_roots_trusted", unknown},
                                  {"beyond_mozilla", list},
                                  {"sources", roots.sources},
                                  {"skipped", roots.skipped}};
    fmt::print("{}\n", out.dump());
  } else {
    fmt::print("Roots this machine trusts ({}), compared with {}:\n", options.root, trust->trust_store.description());
    for (const auto& source : roots.sources) fmt::print("  read {}\n", source);
    for (const auto& skipped : roots.skipped) fmt::print("  not read: {}\n", skipped);
    fmt::print("\n{} of them are Mozilla's roots. ", mozilla);
    if (findings.empty()) fmt::print("No other root is trusted: nobody can forge certificates for your browser this way.\n");
    else fmt::print("{} certificates are trusted beyond Mozilla's set:\n", findings.size());
    for (const auto& sha256 : order) {
      const auto& finding = findings.at(sha256);
      fmt::print("\n  {} {}\n", finding.kind == "known_interceptor" ? "DANGER" : (finding.anchor ? "UNKNOWN" : "listed"),
                 finding.certificate.subject());
      if (finding.entry) {
        fmt::print("    This is a known interception root: {} ({}, {}). Whoever holds its key can read and change your\n"
                   "    encrypted traffic to any site without your browser warning you. Remove it unless you know why it is there.\n",
                   finding.entry->name, finding.entry->country, finding.entry->operator_name);
      } else if (finding.anchor) {
        fmt::print("    Not a Mozilla root and not a known interceptor. Companies, antivirus and debugging tools add roots\n"
                   "    like this; anyone with its key can impersonate any site to this machine.\n");
      } else {
        fmt::print("    Stored, but not trusted to identify web sites.\n");
      }
      fmt::print("    SHA-256 {}\n", finding.certificate.sha256_hex());
      for (const auto* place : finding.places) {
        fmt::print("    in {} ({}{})\n", place->location, place->store, place->nss_trust.empty() ? "" : ", trust " + place->nss_trust);
      }
    }
  }
  if (interceptors > 0) return kExitIntercepted;
  if (unknown > 0) return kExitUntrusted;
  return kExitOk;
}

}  // namespace

void register_audit(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<AuditCliOptions>();
  auto* command = app.add_subcommand("audit", "List the roots this machine trusts beyond Mozilla's (OpenSSL, p11-kit, "
                                              "Firefox and Chromium NSS databases) and flag known interceptors");
  command->add_option("--root", options->root, "Audit the tree under this folder instead of / (a mounted disk, a test)")
      ->capture_default_str();
  command->add_flag("--no-p11kit", options->no_p11kit, "Do not ask p11-kit (`trust extract`)");
  command->add_flag("--json", options->json, "One JSON object");
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_audit(*options); }); });
}

}  // namespace mitmscope::cli
