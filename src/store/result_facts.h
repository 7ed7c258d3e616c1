// The typed facts the store keeps beside each result and each scan, so that report, export and demo read
// columns, never the JSON rendering: which network and interceptor, the presented issuer, the ServerHello and
// certificate fingerprints, how the certificate was forged; and per finished scan its counts per AS, tag and
// domain. They are filled where the result is judged (analyze/result_facts for scans, report/ooni_report for
// OONI handshakes); the store only keeps them. Plain values, no dependency above core/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/verdict.h"

namespace mitmscope {

// What the interceptor did to the genuine certificate (x509/forging's ForgingAnalysis, as kept).
struct ForgingFacts {
  std::optional<double> not_before_shift_hours, not_after_shift_hours;
  int serial_leading_bits_kept = 0;
  int serial_trailing_bits_differing = 0;
  bool serial_length_changed = false;
  std::string key_type;                      // "RSA", "EC", ...
  int key_bits = 0;
  std::string key_exponent;                  // RSA: decimal ("3", "65537"); empty otherwise
  std::vector<std::string> extensions_dropped;   // OpenSSL short names
  bool operator==(const ForgingFacts&) const = default;
};

struct ResultFacts {
  Outcome outcome = Outcome::kError;        // the verdict in the vocabulary every source shares
  std::vector<std::string> networks;         // "AS9198" when the AS is known, the host's tags
  std::string interceptor;                   // the registry id of a known interceptor; empty: none known
  std::string issuer;                        // the presented leaf's issuer, as a one-line name
  std::string ja3s, ja4s, ja4x;              // ja4x: the presented leaf's
  std::optional<ForgingFacts> forging;       // intercepted, with a genuine certificate to compare with
  // Who measured it: "scan" (mitmscope's own probes: scan, monitor, discover) or the public data source of an ooni
  // ingest ("ooni", "atlas-sslcert", "hyperquack-v2", ...); empty: stored by a version that did not keep it.
  std::string source;
  bool operator==(const ResultFacts&) const = default;
};

// A finished scan's counts, as `report` shows them (BRIEF's Tables 1 and 2).
enum class TallyKind { kAs, kTag, kDomain, kSource };   // kSource: a public data source of an ooni ingest
std::string_view tally_kind_name(TallyKind kind);
std::optional<TallyKind> tally_kind_from_name(std::string_view name);

struct TallyGroup {
  TallyKind kind = TallyKind::kTag;
  std::string key;                           // "AS9198", a tag, a domain, a source ("atlas-sslcert")
  std::string name;                          // the AS's name, when known
  size_t hosts = 0, eligible = 0, intercepted = 0;   // kDomain: intercepted hosts only; kSource: measurements
  bool operator==(const TallyGroup&) const = default;
};

enum class ScanSource { kScan, kOoni };
std::string_view scan_source_name(ScanSource source);
std::optional<ScanSource> scan_source_from_name(std::string_view name);

struct ScanTally {
  ScanSource source = ScanSource::kScan;
  size_t hosts = 0, eligible = 0, results = 0, intercepted_hosts = 0;
  std::vector<TallyGroup> groups;            // by kind, then key
  double intercepted_share() const { return eligible ? double(intercepted_hosts) / double(eligible) : 0.0; }
  bool operator==(const ScanTally&) const = default;
};

// Lists in one text column: newline-joined (no name or tag holds a newline).
std::string join_lines(const std::vector<std::string>& items);
std::vector<std::string> split_lines(std::string_view text);

}  // namespace mitmscope
