// TLS interception in OONI measurements: every handshake judged, every interception
// issuer found, and the tables of OONI's 2024 Kazakhstan report computed in one pass.
//
// The model. Each TLS handshake of a measurement (web_connectivity, urlgetter, signal,
// anything with test_keys.tls_handshakes) is one observation. A handshake whose chain is
// browser-trusted for its SNI at its own time and carries no registry certificate is clean
// and only counted. Every other handshake with certificates is kept (compactly) until the
// whole input is read, because its judgement needs the corpus: probes archive only the leaf
// when verification fails, so the leaf's issuer is looked up among the CA certificates seen
// anywhere in the input (Authority Key Identifier, then the signature decides), and the
// "forging CA" rule needs to know on how many unrelated domains an issuer key appears.
//
// Verdicts:
//  - intercepted: a certificate of the chain, or the leaf's issuer found in the corpus, is,
//    shares a key with, or was signed by a known interceptor (the registry plus --known-roots);
//    or the chain is untrusted for the name while DNS agreed with the control, the control's
//    own handshake to the same address succeeded, and the same issuer key signed certificates
//    for at least `min_forged_domains` unrelated domains seen that way.
//  - not_intercepted, with a category: a self-signed service certificate (pinned services such
//    as Signal), a server certificate the probe found invalid or for another name that the
//    control's view confirms, DNS that disagreed with the control.
//  - inconclusive: untrusted, but no rule above decides.
//  - clean (counted only) and failed (no certificate: reset, timeout...).
// Each certificate is parsed and attributed once, each distinct (chain, name) validated once.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/time.h"
#include "ooni/families.h"
#include "ooni/input.h"
#include "ooni/measurement.h"
#include "ooni/verdict_rules.h"
#include "trace/locate.h"
#include "x509/registry.h"
#include "x509/trust_store.h"

namespace mitmscope::ooni {

// The AS of an address (a RIPE Atlas probe's, a Censored Planet vantage point's), for sources that do not name it.
struct NetworkOf {
  uint32_t asn = 0;
  std::string name;
};
using NetworkLookup = std::function<std::optional<NetworkOf>(std::string_view address)>;

struct AnalysisOptions {
  std::string country;                    // probe_cc filter; empty: all
  std::optional<UtcSeconds> since, until; // measurement_start_time filter [since, until)
  size_t min_forged_domains = 3;          // the forging-CA rule's threshold (registrable domains)
  size_t max_reported_errors = 1000;      // malformed lines listed one by one; the rest counted
  const std::atomic<bool>* stop = nullptr; // when set (a signal): reading ends after the blocks in hand
  NetworkLookup network_of;               // --pfx2as; unset: such measurements have AS 0
};


// One distinct certificate, parsed and attributed once.
struct CertificateFacts {
  std::optional<Certificate> certificate;  // nullopt: did not parse
  std::string parse_error;
  std::string sha256, sha1;                // hex
  std::string subject_key_id, authority_key_id;  // hex, empty when absent
  std::string subject, issuer;             // one-line names, computed once
  bool is_ca = false;
  bool self_signed = false;
  Attribution registry;                    // this certificate alone against the registry
};

// Strings kept with the handshakes, stored once: country, network, failure and the like repeat across
// millions of handshakes. Views into a pool stay valid as long as the pool (the AnalysisResult) lives.
class StringPool {
 public:
  std::string_view intern(std::string_view text);
  size_t size() const { return strings_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_set<std::string, Hash, std::equal_to<>> strings_;
};

// A handshake kept for the final judgement (everything but clean and failed ones), about 250 bytes.
struct KeptHandshake {
  DataSource source = DataSource::kOoni;
  int64_t time = 0;                        // UTC seconds
  uint32_t asn = 0;
  std::string_view country, network, input, sni, address, failure, tls_version, cipher_suite, test_name, report_id;
  std::string_view vantage;                // RIPE Atlas probe, Censored Planet vantage point; empty for OONI
  Tri matches_template = Tri::kUnknown;    // Censored Planet: the answer equals the host's answer to the controls
  std::vector<uint32_t> chain;             // certificate ids, as archived (leaf first)
  Tri dns_consistent = Tri::kUnknown;
  Tri control_tls_ok = Tri::kUnknown;      // the control's handshake to the same address
  bool control_from_http = false;          // control_tls_ok inferred from the control's HTTPS fetch
  bool trusted = false;                    // validated for the name at its time (with the registry still matching)
  std::string_view control_failure;
  std::string_view validation_error;
  uint32_t file = 0;
  uint16_t handshake = 0;
  uint64_t line = 0;
  uint32_t record = 0;                     // the record's place in a JSON array on that line (from 1); 0: the line is one
};

// A tlsmiddlebox trace kept until its TTL-limited handshakes are judged (a hop's chain is forged when its handshake
// is intercepted).
struct KeptHop {
  int ttl = 0;
  HopOutcome outcome = HopOutcome::kSilence;   // of a hop without certificates; kGenuine until judged otherwise
  std::optional<uint16_t> handshake;           // the measurement's handshake index, when it presented certificates
  std::string_view detail, router;
};
struct KeptTrace {
  uint32_t file = 0;
  uint64_t line = 0;
  uint32_t record = 0;
  int64_t time = 0;
  uint32_t asn = 0;
  std::string_view country, report_id, address, target_sni, control_sni;
  std::vector<KeptHop> target, control, path;
};

// Where a tlsmiddlebox trace puts the device (trace/locate, as for `trace`).
struct MiddleboxFinding {
  const KeptTrace* trace = nullptr;
  InjectionPoint point;
};

struct JudgedHandshake {
  static constexpr int kIssuerFromCorpus = -2;
  const KeptHandshake* handshake = nullptr;
  OoniVerdict verdict = OoniVerdict::kInconclusive;
  bool issuer_from_corpus = false;         // the probe did not archive the issuer
  int16_t attributed_position = -1;        // chain position of the registry match, kIssuerFromCorpus, or -1
  uint32_t forged_domains = 0;             // unrelated domains of the issuer key under the forging-CA conditions
  OoniCategory category = OoniCategory::kNoControl;  // why (ooni/verdict_rules)
  std::optional<uint32_t> issuer;          // certificate id of the leaf's issuer (archived or found in the corpus)
  std::string_view issuer_key;             // "sha256:..", "aki:..", "name:.."
  std::shared_ptr<const RegistryEntry> root;  // the registry entry the chain was attributed to
};

struct IssuerRow {
  std::string key;
  std::optional<uint32_t> certificate;     // the issuer itself, when any measurement archived it
  std::string subject, serial, sha1, sha256, authority_key_id;
  std::optional<UtcSeconds> not_before, not_after;
  std::string root;                        // registry entry name, or "unknown"
  std::string root_id, root_sha1, root_sha256, attribution_method;
  std::vector<std::string> name_collisions;  // registry entries that share the issuer's name but not its key
  UtcSeconds first_seen{}, last_seen{};
  size_t count = 0;
  size_t before_validity = 0, after_validity = 0;
  std::optional<UtcSeconds> first_outside, last_outside;
  std::set<std::string> domains;
  std::set<uint32_t> networks;
  std::map<int64_t, size_t> per_day;       // days since 1970 -> intercepted handshakes
};

struct ValidityGap {
  std::string before_key, after_key;       // issuers on either side
  UtcSeconds from{}, to{};
  size_t uses = 0;                         // intercepted handshakes inside the gap (with an expired issuer)
};

struct CountRow {
  std::string key;                         // domain, "AS9198", "KZ"
  std::string name;                        // network name for ASes
  size_t measurements = 0;                 // all measurements (networks, countries)
  size_t intercepted_measurements = 0;
  size_t intercepted = 0;                  // intercepted handshakes
  UtcSeconds first_seen{}, last_seen{};
  std::set<std::string> issuers;
};

struct LineError {
  std::string file;
  uint64_t line = 0;                       // 0: the file as a whole
  std::string reason;
};

struct AnalysisTotals {
  uint64_t files = 0, files_failed = 0, bytes_in = 0, bytes_out = 0;
  uint64_t lines = 0, measurements = 0, filtered_out = 0, malformed = 0;
  uint64_t with_tls = 0, handshakes = 0;
  std::map<std::string, uint64_t> verdicts;       // per verdict name, handshakes
  std::map<std::string, uint64_t> categories;     // not_intercepted/inconclusive/intercepted categories
  std::map<std::string, uint64_t> sources;        // measurements per source ("ooni", "atlas-sslcert", ...)
  uint64_t distinct_certificates = 0, certificates_unparseable = 0, validations = 0;
  double seconds = 0;
};

struct AnalysisResult {
  AnalysisTotals totals;
  std::vector<IssuerRow> issuers;          // by first use
  std::vector<ValidityGap> gaps;
  std::vector<CountRow> domains, networks, countries;
  std::vector<CountRow> sources;           // per source: measurements, intercepted handshakes and measurements
  std::vector<IssuerFamily> families;      // issuers grouped into interceptor families (ooni/families.h)
  std::vector<KeptTrace> traces;           // tlsmiddlebox traces, in input order
  std::vector<MiddleboxFinding> middlebox; // one per trace
  std::vector<JudgedHandshake> judged;     // every kept handshake, in input order
  std::vector<std::deque<KeptHandshake>> kept_parts;  // each worker's, moved whole (nothing copied)
  std::vector<const KeptHandshake*> kept;             // every kept handshake, in input order
  std::vector<LineError> errors;           // at most max_reported_errors
  std::vector<std::string> files;          // input paths by index
  std::vector<CertificateFacts> certificates;
  size_t min_forged_domains = 0;
  bool interrupted = false;                // stopped before every file was read: a partial answer
  std::vector<std::unique_ptr<StringPool>> strings;  // what the handshakes' views point into
};

// Sentences a person can check: why this handshake got its verdict.
std::vector<std::string> judged_reasons(const AnalysisResult& result, const JudgedHandshake& judged);

struct MeasurementCounts;   // ooni/tables.h

class Analyzer {
 public:
  Analyzer(const TrustStore& trust_store, const InterceptorRegistry& registry, AnalysisOptions options,
           std::vector<std::string> files, size_t threads);
  ~Analyzer();

  // Thread-safe for distinct `worker`s.
  void consume(Block& block, size_t worker);
  void file_failed(size_t file_index, const Error& error);
  // Once every block was consumed.
  AnalysisResult finish();

  // One measurement, for tests and for `ooni` on a single document.
  void consume_measurement(const MeasurementFacts& facts, size_t file_index, uint64_t line, size_t worker,
                           uint32_t record = 0);

 private:
  struct Worker;
  struct Shared;
  struct CachedCertificate;
  struct ValidationSummary;
  struct ChainFacts;
  void add_error(size_t file_index, uint64_t line, std::string reason);
  // Reading a block's records (ooni/analysis.cc): OONI's own reader or the other sources' (ooni/sources.h).
  void consume_record(Worker& worker, size_t file_index, uint64_t line, const char* start, size_t length, size_t capacity,
                      size_t worker_index);
  void consume_other_sources(Worker& worker, size_t file_index, uint64_t line, const char* start, size_t length,
                             size_t capacity, size_t worker_index);
  bool reject_file(Worker& worker, size_t file_index, uint64_t line, const Error& error);
  void resolve_network(MeasurementFacts& facts, Worker& worker);
  void keep_trace(Worker& worker, const MeasurementFacts& facts, const MiddleboxTrace& trace, size_t file_index,
                  uint64_t line, uint32_t record);
  // Reading, per measurement and handshake (ooni/analysis.cc).
  bool admit(const MeasurementFacts& facts, Worker& worker);
  const CachedCertificate& certificate_of(Worker& worker, std::string_view text);
  ChainFacts intern_chain(Worker& worker, const MeasurementFacts& facts, const HandshakeFacts& handshake);
  ValidationSummary validate_once(Worker& worker, std::string_view sni, int64_t time, const ChainFacts& chain);
  KeptHandshake kept_handshake(Worker& worker, const MeasurementFacts& facts, const HandshakeFacts& handshake, int64_t time,
                               const ValidationSummary& summary);
  // After the last block: the stages of finish().
  MeasurementCounts merge_workers(AnalysisResult& result);
  std::vector<CertificateFacts> certificate_pool(AnalysisTotals& totals);

  const TrustStore& trust_store_;
  const InterceptorRegistry& registry_;
  AnalysisOptions options_;
  std::vector<std::string> files_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Shared> shared_;
};

// "www.sub.example.co.uk" -> "example.co.uk": the registrable part, by a short list of
// second-level suffixes (enough to tell unrelated domains apart; not the Public Suffix List).
std::string registrable_domain(std::string_view host);

// Everything from a file list: the pipeline on `threads` workers, then the judgement.
AnalysisResult analyze_files(const FileList& files, const TrustStore& trust_store, const InterceptorRegistry& registry,
                             const AnalysisOptions& options, size_t threads);

}  // namespace mitmscope::ooni
