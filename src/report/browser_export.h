// `export`: measured interception CAs written as the entries browser vendors ship, so a CA security team
// can act on a campaign without retyping fingerprints:
//   chromium/blocklist/<certificate SHA-256>.pem   net/data/ssl/blocklist/ files (description + PEM)
//   chromium/cert_verify_proc_blocklist.inc       kSPKIBlockList / kKnownInterceptionList entries
//   chromium/crlset                               a CRLSet (uint16 LE header length, JSON header with
//                                                 BlockedSPKIs / KnownInterceptionSPKIs /
//                                                 BlockedInterceptionSPKIs, no parents)
//   firefox/onecrl.json                           OneCRL records, issuerName + serialNumber and
//                                                 subject + pubKeyHash for each CA
//   certificates.pem                              a PEM bundle with a header per certificate
//   EVIDENCE.md, evidence.json                    what was measured about each: uses, first/last seen,
//                                                 uses outside its validity, domains, hosts, networks,
//                                                 the root that signed it, the registry entry
// Pure: entries in, file contents out; the command (cli/export.cc) gathers the entries and writes.
#pragma once

#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/time.h"
#include "x509/certificate.h"

namespace mitmscope {

struct ExportEntry {
  Certificate certificate;
  std::string role;                    // "root" (self-signed) or "intermediate"
  std::vector<std::string> sources;    // "store ...: 120 intercepted results", a file path
  std::string registry_id;             // the registry entry it is or was signed by; empty: none
  std::string registry_name;
  std::string signed_by;               // SHA-256 of the exported root that signed it; empty: unknown
  // Measured in a store (zero when it came from files only).
  size_t results = 0;
  std::string first_seen, last_seen;
  size_t before_validity = 0, after_validity = 0;
  std::set<std::string> domains, hosts, networks;
};

struct ExportOptions {
  std::string bug;                     // OneCRL details.bug, the evidence's header
  std::string who;
  std::string why = "TLS interception: forged certificates for third-party sites, measured by mitmscope";
  UtcSeconds created{};
  bool block = true;                   // false: known interception only (not BlockedSPKIs/BlockedInterceptionSPKIs)
};

struct ExportFile {
  std::string path;                    // relative to the output folder
  std::string content;
};

// The role a certificate plays in an export: "root" when self-signed, else "intermediate".
std::string export_role(const Certificate& certificate);

// Each format on its own (unit-tested against hand-computed values), then all files together.
nlohmann::ordered_json onecrl_records(std::span<const ExportEntry> entries, const ExportOptions& options);
std::string chromium_spki_inc(std::span<const ExportEntry> entries);
std::string chromium_blocklist_pem(const ExportEntry& entry);
Result<std::string> crlset_bytes(std::span<const ExportEntry> entries, const ExportOptions& options);
std::string evidence_markdown(std::span<const ExportEntry> entries, const ExportOptions& options);
nlohmann::ordered_json evidence_json(std::span<const ExportEntry> entries, const ExportOptions& options);
Result<std::vector<ExportFile>> browser_export(std::span<const ExportEntry> entries, const ExportOptions& options);

}  // namespace mitmscope
