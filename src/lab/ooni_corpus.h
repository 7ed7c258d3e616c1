// The 2021-2024 interception as OONI saw it, generated: web_connectivity measurements shaped like OONI's real ones
// (the samples in tests/data/ooni-samples) from the lab's kz-2021 scenario, with the ground truth the `ooni`
// analysis must recover exactly. `mitmscope lab corpus` writes it; the demo's second act, the ooni tests and the
// ooni benchmark read it.
//
// The scenario gives the targeted domains, the 19 networks and the intermediates' names; the intermediates'
// validity windows are BRIEF's real ones (75 days each, 2021 to 2024) and their roots follow BRIEF too: five test
// roots named "Information Security Certification Authority", four of them written to known-roots/ (the registry
// the analysis gets) and one not, so two intermediates have an unknown root. Intermediates are used past their
// expiry, into the gaps. Probes without the root archive only the leaf (ssl_unknown_authority); probes with it
// installed archive the whole chain (success) or the leaf alone once the intermediate expired
// (ssl_invalid_certificate). Mixed in: clean traffic from several countries, plain-HTTP measurements, connection
// resets, and the traps that are not interception (a pinned self-signed service, an expired server certificate, a
// server with another name's certificate, a DNS blockpage under one issuer for many domains, a private CA on one
// domain), and, on request, malformed lines and a truncated file. On request too, a share of the Kazakh HTTPS
// measurements is written as the other public sources record them instead (RIPE Atlas sslcert, Censored Planet
// Hyperquack v1 and v2, ZGrab2, in turn; lab/source_records): the same campaign, seen by every source that could
// see it (Satellite fetches pages only after a DNS answer disagreed, and this interception left DNS alone).
//
// Layout: OUT/raw/YYYYMMDD/00/CC/webconnectivity/*.jsonl.gz (one file per day and country),
// OUT/sources/<source>/YYYY.jsonl.gz (one file per year and source), OUT/known-roots/ (PEM + registry.json),
// OUT/trust/public-root.pem (the clean traffic's Web PKI), OUT/pfx2as.txt (the other sources' vantage points to
// their AS), OUT/ground-truth.json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mitmscope::lab {

struct OoniCorpusOptions {
  size_t measurements = 20000;
  uint64_t seed = 1;
  size_t malformed = 0;        // malformed lines spread over the files
  bool damaged = false;        // one more file, truncated in the middle of its gzip stream
  std::string from = "2021-06-01", to = "2024-12-01";
  double other_sources = 0;    // share of the Kazakh HTTPS measurements written as another source's records
};

// What the analysis must find.
struct OoniCorpusTruth {
  struct Issuer {
    std::string sha1, sha256, subject;
    std::string root;                  // "root-N" (in known-roots/), "unknown"
    std::string root_sha1;             // empty when unknown
    std::string not_before, not_after, first_seen, last_seen;
    size_t handshakes = 0, used_before_validity = 0, used_after_validity = 0;
    std::set<std::string> domains;
    std::set<uint32_t> networks;
  };
  std::vector<Issuer> issuers;                         // in the order the interceptor used them
  std::map<std::string, size_t> domains;               // intercepted handshakes
  std::map<uint32_t, size_t> networks;                 // intercepted measurements
  std::map<uint32_t, size_t> network_measurements;     // all measurements
  std::map<std::string, size_t> countries;             // intercepted measurements
  std::map<std::string, size_t> categories;            // verdict/category -> handshakes (OONI's measurements)
  struct SourceCounts {
    size_t records = 0, intercepted = 0;
  };
  std::map<std::string, SourceCounts> sources;         // the other sources' records ("atlas-sslcert", ...)
  size_t measurements = 0, handshakes = 0, malformed = 0, files = 0;
};

// Writes the corpus under `out` (created) and its ground truth (also as OUT/ground-truth.json).
Result<OoniCorpusTruth> write_ooni_corpus(const std::filesystem::path& out, const OoniCorpusOptions& options);

// The ground truth as ground-truth.json holds it.
nlohmann::ordered_json ooni_corpus_truth_json(const OoniCorpusTruth& truth);

}  // namespace mitmscope::lab
