#include "ooni/analysis.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/hex.h"
#include "engine/endpoint.h"
#include "ooni/judge.h"
#include "ooni/middlebox.h"
#include "ooni/pipeline.h"
#include "ooni/sources.h"
#include "ooni/tables.h"
#include "core/base64.h"
#include "x509/certificate_reader.h"

namespace mitmscope::ooni {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

int64_t to_seconds(UtcSeconds time) { return time.time_since_epoch().count(); }
UtcSeconds from_seconds(int64_t seconds) { return UtcSeconds{std::chrono::seconds{seconds}}; }


constexpr std::string_view kSecondLevelSuffixes[] = {
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.jp", "ne.jp", "or.jp", "com.br", "com.cn",
    "net.cn", "org.cn", "com.tr", "co.kr", "co.in", "com.kz", "org.kz", "gov.kz", "edu.kz", "com.ru", "msk.ru",
    "spb.ru", "com.ua", "co.za", "com.mx", "com.ar", "co.il", "com.sg", "com.hk", "com.tw", "gov.kg", "com.kg",
    "org.kg", "com.ir", "co.ir", "ac.ir", "com.eg", "com.pk", "com.vn", "co.id", "or.id", "com.my", "com.ph"};

}  // namespace

// What a worker remembers of a certificate: pointers into the shared deques, which stay valid
// while other workers append (a deque's elements never move; its index may, so it is not read unlocked).
struct Analyzer::CachedCertificate {
  uint32_t id = 0;
  const std::string* text = nullptr;
  const CertificateFacts* facts = nullptr;
};

struct Analyzer::ValidationSummary {
  bool trusted = false;
  std::string error;
};

struct Analyzer::ChainFacts {
  bool attributed = false;               // a registry certificate is in the chain
  int64_t window_from = INT64_MIN;       // when every archived certificate is valid
  int64_t window_to = INT64_MAX;
};

std::string_view StringPool::intern(std::string_view text) {
  auto found = strings_.find(text);
  if (found == strings_.end()) found = strings_.emplace(text).first;
  return *found;
}

std::string registrable_domain(std::string_view host) {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; })) {
    return std::string(host);
  }
  auto label_start = [&](size_t labels) -> size_t {
    size_t position = host.size();
    for (size_t i = 0; i < labels; ++i) {
      const auto dot = host.rfind('.', position == 0 ? 0 : position - 1);
      if (dot == std::string_view::npos || position == 0) return 0;
      position = dot;
    }
    return position + 1;
  };
  const size_t two = label_start(2);
  const std::string_view last_two = host.substr(two);
  const bool second_level = std::find(std::begin(kSecondLevelSuffixes), std::end(kSecondLevelSuffixes), last_two) !=
                            std::end(kSecondLevelSuffixes);
  const size_t start = second_level ? label_start(3) : two;
  std::string out(host.substr(start));
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

struct Analyzer::Shared {
  std::mutex certificates_mutex;
  StringMap<uint32_t> certificate_ids;        // base64 text -> id
  std::deque<std::string> certificate_texts;  // by id
  std::deque<CertificateFacts> certificates;

  std::mutex validations_mutex;
  StringMap<ValidationSummary> validations;
  uint64_t validation_count = 0;

  std::mutex errors_mutex;
  std::vector<LineError> errors;
  uint64_t error_count = 0;
  std::set<size_t> rejected_files;            // not measurement files: their later blocks are skipped (errors_mutex)
};

struct Analyzer::Worker {
  std::unique_ptr<StringPool> strings = std::make_unique<StringPool>();
  MeasurementReader reader;
  SourceReader sources;
  std::string network_name;                 // the looked-up AS name of the record in hand
  std::string ooni_copy;                    // an OONI measurement met inside an array, padded
  // The string each field of the kept handshake interned last: consecutive records mostly repeat their country,
  // network, test and version, and a comparison is cheaper than hashing into the pool.
  std::array<std::string_view, 16> recent{};
  std::string_view intern(size_t field, std::string_view text) {
    if (recent[field] == text && (text.empty() || recent[field].data() != nullptr)) return recent[field];
    return recent[field] = strings->intern(text);
  }
  MeasurementFacts facts;
  std::unordered_map<size_t, CachedCertificate> certificate_ids;  // hash of the base64 text (checked against the text)
  std::vector<uint32_t> chain;
  std::vector<const CertificateFacts*> chain_facts;
  std::string key;
  std::deque<KeptTrace> traces;
  std::deque<KeptHandshake> kept;           // a deque: growing never moves what is kept (a vector did, page by page)
  AnalysisTotals totals;
  std::map<uint32_t, std::pair<std::string, uint64_t>> networks;  // asn -> (name, measurements)
  std::map<std::string, uint64_t, std::less<>> countries;
};

Analyzer::Analyzer(const TrustStore& trust_store, const InterceptorRegistry& registry, AnalysisOptions options,
                   std::vector<std::string> files, size_t threads)
    : trust_store_(trust_store), registry_(registry), options_(std::move(options)), files_(std::move(files)),
      shared_(std::make_unique<Shared>()) {
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) workers_.push_back(std::make_unique<Worker>());
}

Analyzer::~Analyzer() = default;

void Analyzer::add_error(size_t file_index, uint64_t line, std::string reason) {
  std::lock_guard guard(shared_->errors_mutex);
  ++shared_->error_count;
  if (shared_->errors.size() < options_.max_reported_errors) {
    shared_->errors.push_back({file_index < files_.size() ? files_[file_index] : std::string(), line, std::move(reason)});
  }
}

void Analyzer::file_failed(size_t file_index, const Error& error) { add_error(file_index, 0, error.message); }

namespace {

CertificateFacts certificate_facts(std::string_view base64, const InterceptorRegistry& registry) {
  CertificateFacts facts;
  auto certificate = certificate_from_base64(base64);
  if (!certificate) {
    facts.parse_error = certificate.error().message;
    return facts;
  }
  facts.sha256 = certificate->sha256_hex();
  facts.sha1 = certificate->sha1_hex();
  if (auto ski = certificate->subject_key_id()) facts.subject_key_id = to_hex(*ski);
  if (auto aki = certificate->authority_key_id()) facts.authority_key_id = to_hex(*aki);
  facts.subject = certificate->subject();
  facts.issuer = certificate->issuer();
  facts.is_ca = certificate->is_ca();
  facts.self_signed = certificate->self_issued() && certificate->self_signed();
  const Certificate alone[] = {*certificate};
  facts.registry = registry.attribute(alone);
  facts.certificate = std::move(*certificate);
  return facts;
}

}  // namespace

void Analyzer::consume(Block& block, size_t worker_index) {
  Worker& worker = *workers_[worker_index];
  for (auto& [line, reason] : block.errors) {
    ++worker.totals.malformed;
    add_error(block.file_index, line, std::move(reason));
  }
  {
    std::lock_guard guard(shared_->errors_mutex);
    if (shared_->rejected_files.contains(block.file_index)) return;
  }
  const char* data = block.data.data();
  const char* end = data + block.size;
  const size_t capacity = block.data.size();
  std::optional<DataSource> source;  // the block's, from its first record that parses
  auto parse = [&](const char* start, size_t length, uint64_t line) {
    ++worker.totals.lines;
    if (length > BlockReader::kMaxLine) {  // inside a block inflated at once: memory was bounded by the member
      ++worker.totals.malformed;
      add_error(block.file_index, line, fmt::format("line longer than {} MiB, skipped", BlockReader::kMaxLine >> 20));
      return true;
    }
    const size_t room = capacity - static_cast<size_t>(start - data);
    if (!source) {
      auto detected = worker.sources.detect(start, length, room);
      if (!detected) {
        ++worker.totals.malformed;
        if (line == 1 && detected.error().message.starts_with("not a measurement")) return !reject_file(worker, block.file_index, line, detected.error());
        add_error(block.file_index, line, detected.error().message);
        return true;
      }
      source = *detected;
    }
    const bool array = *start == '[';
    if (*source == DataSource::kOoni && !array) {
      consume_record(worker, block.file_index, line, start, length, room, worker_index);
    } else {
      consume_other_sources(worker, block.file_index, line, start, length, room, worker_index);
    }
    return true;
  };
  if (block.whole_document) {
    const char* start = data;
    while (start < end && std::isspace(static_cast<unsigned char>(*start))) ++start;
    parse(start, static_cast<size_t>(end - start), 1);
    return;
  }
  uint64_t line = block.first_line;
  for (const char* cursor = data; cursor < end; ++line) {
    const char* newline = static_cast<const char*>(std::memchr(cursor, '\n', static_cast<size_t>(end - cursor)));
    const char* line_end = newline ? newline : end;
    size_t length = static_cast<size_t>(line_end - cursor);
    while (length > 0 && (cursor[length - 1] == '\r' || cursor[length - 1] == ' ' || cursor[length - 1] == '\t')) --length;
    if (length > 0 && !parse(cursor, length, line)) return;
    cursor = newline ? newline + 1 : end;
  }
}

// A file whose first record is JSON but no known source's: one error naming it, and none of its records read.
bool Analyzer::reject_file(Worker&, size_t file_index, uint64_t, const Error& error) {
  {
    std::lock_guard guard(shared_->errors_mutex);
    shared_->rejected_files.insert(file_index);
  }
  add_error(file_index, 0,
            fmt::format("{}: {}; the file is skipped", file_index < files_.size() ? files_[file_index] : std::string(), error.message));
  return true;
}

// One OONI measurement (a line or a whole document).
void Analyzer::consume_record(Worker& worker, size_t file_index, uint64_t line, const char* start, size_t length,
                              size_t capacity, size_t worker_index) {
  auto read = worker.reader.read(start, length, capacity, worker.facts);
  if (!read) {
    ++worker.totals.malformed;
    add_error(file_index, line, read.error().message);
    return;
  }
  // The On Demand walk reads tls_handshakes only; tlsmiddlebox's traces are read with the other sources' reader.
  if (worker.facts.test_name == "tlsmiddlebox") return consume_other_sources(worker, file_index, line, start, length, capacity, worker_index);
  consume_measurement(worker.facts, file_index, line, worker_index);
}

// The records of another source (ooni/sources.h), one or an array of them; OONI measurements inside an array too.
void Analyzer::consume_other_sources(Worker& worker, size_t file_index, uint64_t line, const char* start, size_t length,
                                     size_t capacity, size_t worker_index) {
  auto failed = [&](size_t element, const Error& error) {
    ++worker.totals.malformed;
    add_error(file_index, line, element == 0 ? error.message : fmt::format("record {}: {}", element, error.message));
  };
  auto read = worker.sources.read(
      start, length, capacity,
      [&](size_t element, Result<MeasurementFacts*> record) {
        if (!record) return failed(element, record.error());
        resolve_network(**record, worker);
        consume_measurement(**record, file_index, line, worker_index, static_cast<uint32_t>(element));
      },
      [&](size_t element, std::string_view json) {
        worker.ooni_copy.assign(json);
        worker.ooni_copy.append(MeasurementReader::kPadding, ' ');
        auto measurement = worker.reader.read(worker.ooni_copy.data(), json.size(), worker.ooni_copy.size(), worker.facts);
        if (!measurement) return failed(element, measurement.error());
        consume_measurement(worker.facts, file_index, line, worker_index, static_cast<uint32_t>(element));
      });
  if (!read) failed(0, read.error());
}

// The AS of a source that names only an address, from --pfx2as.
void Analyzer::resolve_network(MeasurementFacts& facts, Worker& worker) {
  if (facts.probe_asn != 0 || facts.network_address.empty() || !options_.network_of) return;
  auto network = options_.network_of(facts.network_address);
  if (!network) return;
  facts.probe_asn = network->asn;
  worker.network_name = std::move(network->name);
  facts.probe_network_name = worker.network_name;
}

namespace {

// The DNS view of a handshake: its address among the control's addresses, OONI's own verdict, or the probe's
// answers against the control's.
Tri dns_view(const MeasurementFacts& facts, std::string_view address, std::string_view host) {
  const auto& control = facts.control_addresses;
  auto in_control = [&](std::string_view ip) { return std::find(control.begin(), control.end(), ip) != control.end(); };
  if (!control.empty()) {
    const auto endpoint = parse_endpoint(address, 443);
    if (endpoint && in_control(endpoint->ip)) return Tri::kYes;
  }
  if (facts.dns_consistency == "consistent") return Tri::kYes;
  if (facts.dns_consistency == "inconsistent") return Tri::kNo;
  if (control.empty()) return Tri::kUnknown;
  for (const auto& answer : facts.dns_answers) {
    if ((answer.hostname.empty() || answer.hostname == host) && in_control(answer.address)) return Tri::kYes;
  }
  return facts.dns_answers.empty() ? Tri::kUnknown : Tri::kNo;
}

}  // namespace

// Counts the measurement; false when the filters drop it.
bool Analyzer::admit(const MeasurementFacts& facts, Worker& worker) {
  AnalysisTotals& totals = worker.totals;
  ++totals.measurements;
  if ((!options_.country.empty() && facts.probe_cc != options_.country) ||
      (options_.since && facts.start < *options_.since) || (options_.until && facts.start >= *options_.until)) {
    ++totals.filtered_out;
    return false;
  }
  ++worker.countries[std::string(facts.probe_cc)];
  ++worker.totals.sources[std::string(data_source_name(facts.source))];
  auto& network = worker.networks[facts.probe_asn];
  if (network.first.empty()) network.first = facts.probe_network_name;
  ++network.second;
  if (!facts.handshakes.empty()) ++totals.with_tls;
  return true;
}

// A certificate by its base64 text: the worker's cache, else the shared pool, else parsed (outside the lock;
// when two workers meet a new certificate at once, the first one stored wins).
const Analyzer::CachedCertificate& Analyzer::certificate_of(Worker& worker, std::string_view text) {
  static constexpr size_t kWorkerCacheLimit = 200000;
  // The tail of a certificate's base64 is its signature (as random as a hash) and the length is part of the key:
  // hashing 64 characters instead of all 1,500 of a typical leaf. The text is compared in full after.
  const std::string_view tail = text.substr(text.size() > 64 ? text.size() - 64 : 0);
  const size_t hash = std::hash<std::string_view>{}(tail) ^ (text.size() * 0x9e3779b97f4a7c15ull);
  if (auto found = worker.certificate_ids.find(hash); found != worker.certificate_ids.end() && *found->second.text == text) {
    return found->second;
  }
  auto lookup = [&]() -> std::optional<CachedCertificate> {
    auto known = shared_->certificate_ids.find(text);
    if (known == shared_->certificate_ids.end()) return std::nullopt;
    return CachedCertificate{known->second, &shared_->certificate_texts[known->second], &shared_->certificates[known->second]};
  };
  std::optional<CachedCertificate> entry;
  {
    std::lock_guard guard(shared_->certificates_mutex);
    entry = lookup();
  }
  if (!entry) {
    CertificateFacts parsed = certificate_facts(text, registry_);
    std::lock_guard guard(shared_->certificates_mutex);
    entry = lookup();
    if (!entry) {
      const auto id = static_cast<uint32_t>(shared_->certificates.size());
      shared_->certificates.push_back(std::move(parsed));
      shared_->certificate_texts.emplace_back(text);
      shared_->certificate_ids.emplace(std::string(text), id);
      entry = CachedCertificate{id, &shared_->certificate_texts[id], &shared_->certificates[id]};
    }
  }
  if (worker.certificate_ids.size() > kWorkerCacheLimit) worker.certificate_ids.clear();
  return worker.certificate_ids[hash] = *entry;
}

// The handshake's chain as certificate ids in worker.chain (and their facts), with whether any is a registry
// certificate and the window in which every archived certificate is valid.
Analyzer::ChainFacts Analyzer::intern_chain(Worker& worker, const MeasurementFacts& facts, const HandshakeFacts& handshake) {
  ChainFacts out;
  worker.chain.clear();
  worker.chain_facts.clear();
  for (size_t c = 0; c < handshake.certificate_count; ++c) {
    const CachedCertificate& cached = certificate_of(worker, facts.certificates[handshake.first_certificate + c]);
    worker.chain.push_back(cached.id);
    worker.chain_facts.push_back(cached.facts);
    const CertificateFacts& certificate = *cached.facts;
    out.attributed |= static_cast<bool>(certificate.registry);
    if (!certificate.certificate) continue;
    if (auto from = certificate.certificate->not_before()) out.window_from = std::max(out.window_from, to_seconds(*from));
    if (auto to = certificate.certificate->not_after()) out.window_to = std::min(out.window_to, to_seconds(*to));
  }
  return out;
}

// Validation of this (chain, name), once per side of the archived certificates' validity window.
Analyzer::ValidationSummary Analyzer::validate_once(Worker& worker, std::string_view sni, int64_t time, const ChainFacts& chain_facts) {
  auto& key = worker.key;
  key.clear();
  for (uint32_t id : worker.chain) fmt::format_to(std::back_inserter(key), "{},", id);
  key.append(sni);
  key.push_back(time >= chain_facts.window_from && time <= chain_facts.window_to ? '+' : '-');
  {
    std::lock_guard guard(shared_->validations_mutex);
    if (auto found = shared_->validations.find(key); found != shared_->validations.end()) return found->second;
  }
  ValidationSummary summary;
  Chain chain;
  for (const CertificateFacts* facts_of : worker.chain_facts) {
    if (facts_of->certificate) chain.push_back(*facts_of->certificate);
  }
  if (chain.empty()) {
    summary.error = "unparseable";
  } else {
    ValidationOptions validation_options;
    if (!sni.empty()) validation_options.hostname = std::string(sni);
    validation_options.at = from_seconds(time);
    const auto result = trust_store_.validate(chain, validation_options);
    summary.trusted = result.browser_trusted && chain.size() == worker.chain.size();
    summary.error = result.browser_trusted ? std::string() : result.browser_error;
  }
  std::lock_guard guard(shared_->validations_mutex);
  shared_->validations.emplace(key, summary);
  ++shared_->validation_count;
  return summary;
}

// What is kept of a handshake for the judging stage: its strings interned, its DNS and control views.
KeptHandshake Analyzer::kept_handshake(Worker& worker, const MeasurementFacts& facts, const HandshakeFacts& handshake,
                                       int64_t time, const ValidationSummary& summary) {
  const std::string_view sni = handshake.server_name;
  auto intern = [&worker](size_t field, std::string_view text) { return worker.intern(field, text); };
  KeptHandshake kept{.source = facts.source,
                     .time = time,
                     .asn = facts.probe_asn,
                     .country = intern(0, facts.probe_cc),
                     .network = intern(1, facts.probe_network_name),
                     .input = intern(2, facts.input),
                     .sni = intern(3, sni.empty() ? std::string_view(url_host(facts.input)) : sni),
                     .address = intern(4, handshake.address),
                     .failure = intern(5, handshake.failure),
                     .tls_version = intern(6, handshake.tls_version),
                     .cipher_suite = intern(7, handshake.cipher_suite),
                     .test_name = intern(8, facts.test_name),
                     .report_id = intern(9, facts.report_id),
                     .chain = worker.chain};
  kept.vantage = intern(10, facts.vantage);
  if (handshake.matches_template) kept.matches_template = *handshake.matches_template ? Tri::kYes : Tri::kNo;
  kept.trusted = summary.trusted;
  kept.validation_error = intern(11, summary.error);
  kept.dns_consistent = dns_view(facts, handshake.address, kept.sni);
  // The control's own handshake to the same address; an older test helper only fetched the page.
  for (const auto& control : facts.control_tls) {
    if (!handshake.address.empty() && control.address == handshake.address) {
      kept.control_tls_ok = control.status ? Tri::kYes : Tri::kNo;
      kept.control_failure = intern(12, control.failure);
    }
  }
  if (kept.control_tls_ok == Tri::kUnknown && facts.control_tls.empty() && facts.control_http_ok &&
      facts.input.starts_with("https://")) {
    kept.control_tls_ok = *facts.control_http_ok ? Tri::kYes : Tri::kNo;
    kept.control_from_http = true;
  }
  return kept;
}

void Analyzer::consume_measurement(const MeasurementFacts& facts, size_t file_index, uint64_t line, size_t worker_index,
                                   uint32_t record) {
  Worker& worker = *workers_[worker_index];
  if (!admit(facts, worker)) return;
  for (size_t index = 0; index < facts.handshakes.size(); ++index) {
    const HandshakeFacts& handshake = facts.handshakes[index];
    ++worker.totals.handshakes;
    if (handshake.certificate_count == 0) {
      ++worker.totals.verdicts["failed"];
      continue;
    }
    const ChainFacts chain = intern_chain(worker, facts, handshake);
    const int64_t time = to_seconds(handshake_time(facts.start, handshake.t));
    const ValidationSummary summary = validate_once(worker, handshake.server_name, time, chain);
    if (!chain.attributed && summary.trusted) {
      ++worker.totals.verdicts["clean"];
      continue;
    }
    // Censored Planet: the answer the host gives for any name (equal to its answers to the random control names) is
    // not name-triggered interception. Counted like a clean one, not kept, unless a registry certificate is in it.
    if (!chain.attributed && handshake.matches_template == true) {
      ++worker.totals.verdicts[std::string(ooni_verdict_name(OoniVerdict::kNotIntercepted))];
      ++worker.totals.categories[fmt::format("{}/{}", ooni_verdict_name(OoniVerdict::kNotIntercepted),
                                             category_name(OoniCategory::kMatchesTemplate))];
      continue;
    }
    KeptHandshake kept = kept_handshake(worker, facts, handshake, time, summary);
    kept.file = static_cast<uint32_t>(file_index);
    kept.line = line;
    kept.record = record;
    kept.handshake = static_cast<uint16_t>(index);
    worker.kept.push_back(std::move(kept));
  }
  for (const MiddleboxTrace& trace : facts.middlebox) keep_trace(worker, facts, trace, file_index, line, record);
}

// A tlsmiddlebox trace until its handshakes are judged.
void Analyzer::keep_trace(Worker& worker, const MeasurementFacts& facts, const MiddleboxTrace& trace, size_t file_index,
                          uint64_t line, uint32_t record) {
  StringPool& strings = *worker.strings;
  KeptTrace kept{.file = static_cast<uint32_t>(file_index), .line = line, .record = record,
                 .time = to_seconds(facts.start), .asn = facts.probe_asn, .country = strings.intern(facts.probe_cc),
                 .report_id = strings.intern(facts.report_id), .address = strings.intern(trace.address),
                 .target_sni = strings.intern(trace.target_sni), .control_sni = strings.intern(trace.control_sni)};
  auto hops = [&](const std::vector<MiddleboxHop>& series) {
    std::vector<KeptHop> out;
    for (const MiddleboxHop& hop : series) {
      out.push_back({.ttl = hop.ttl, .outcome = middlebox_hop_outcome(hop.failure, hop.so_error),
                     .handshake = hop.handshake ? std::optional(static_cast<uint16_t>(*hop.handshake)) : std::nullopt,
                     .detail = strings.intern(hop.failure.empty() ? hop.so_error : hop.failure)});
    }
    return out;
  };
  kept.target = hops(trace.target);
  kept.control = hops(trace.control);
  for (const MiddleboxPathHop& hop : trace.path) {
    const HopOutcome outcome = hop.icmp_type == 11 ? HopOutcome::kTimeExceeded : hop.reached ? HopOutcome::kReached : HopOutcome::kSilence;
    kept.path.push_back({.ttl = hop.ttl, .outcome = outcome, .router = strings.intern(hop.router)});
  }
  worker.traces.push_back(std::move(kept));
}

// The workers' partial results as one: totals, per-network and per-country counts, the kept handshakes in
// input order, and the string pools their views point into.
MeasurementCounts Analyzer::merge_workers(AnalysisResult& result) {
  MeasurementCounts counts;
  AnalysisTotals& totals = result.totals;
  size_t kept = 0;
  for (const auto& worker : workers_) kept += worker->kept.size();
  result.kept.reserve(kept);
  result.kept_parts.reserve(workers_.size());
  for (auto& worker : workers_) {
    const auto& partial = worker->totals;
    totals.lines += partial.lines;
    totals.measurements += partial.measurements;
    totals.filtered_out += partial.filtered_out;
    totals.malformed += partial.malformed;
    totals.with_tls += partial.with_tls;
    totals.handshakes += partial.handshakes;
    for (const auto& [name, count] : partial.verdicts) totals.verdicts[name] += count;
    for (const auto& [name, count] : partial.sources) totals.sources[name] += count;
    for (const auto& [name, count] : partial.categories) totals.categories[name] += count;
    for (auto& [asn, network] : worker->networks) {
      auto& merged = counts.networks[asn];
      if (merged.first.empty() || (!network.first.empty() && network.first < merged.first)) merged.first = network.first;
      merged.second += network.second;
    }
    for (const auto& [country, count] : worker->countries) counts.countries[country] += count;
    for (const KeptHandshake& handshake : worker->kept) result.kept.push_back(&handshake);
    result.kept_parts.push_back(std::move(worker->kept));   // a deque's move keeps its elements where they are
    worker->kept = {};
    std::move(worker->traces.begin(), worker->traces.end(), std::back_inserter(result.traces));
    worker->traces.clear();
    worker->recent = {};
    result.strings.push_back(std::move(worker->strings));
    worker->strings = std::make_unique<StringPool>();
  }
  // Input order (each worker's part is in it already when one worker read everything).
  auto input_order = [](const KeptHandshake* a, const KeptHandshake* b) {
    return std::tie(a->file, a->line, a->record, a->handshake) < std::tie(b->file, b->line, b->record, b->handshake);
  };
  if (!std::is_sorted(result.kept.begin(), result.kept.end(), input_order)) std::sort(result.kept.begin(), result.kept.end(), input_order);
  std::sort(result.traces.begin(), result.traces.end(), [](const KeptTrace& a, const KeptTrace& b) {
    return std::tie(a.file, a.line, a.record) < std::tie(b.file, b.line, b.record);
  });
  std::lock_guard guard(shared_->errors_mutex);
  result.errors = std::move(shared_->errors);
  std::sort(result.errors.begin(), result.errors.end(),
            [](const LineError& a, const LineError& b) { return std::tie(a.file, a.line) < std::tie(b.file, b.line); });
  return counts;
}

// Every distinct certificate of the corpus by id, then the registry's (a leaf may be signed by a root directly).
std::vector<CertificateFacts> Analyzer::certificate_pool(AnalysisTotals& totals) {
  std::vector<CertificateFacts> certificates(std::make_move_iterator(shared_->certificates.begin()),
                                             std::make_move_iterator(shared_->certificates.end()));
  totals.distinct_certificates = certificates.size();
  totals.certificates_unparseable = static_cast<uint64_t>(
      std::count_if(certificates.begin(), certificates.end(), [](const CertificateFacts& facts) { return !facts.certificate; }));
  totals.validations = shared_->validation_count;
  for (const auto& entry : registry_.entries()) {
    if (!entry->certificate) continue;
    const std::string text = base64_encode(entry->certificate->der());
    if (!shared_->certificate_ids.contains(text)) certificates.push_back(certificate_facts(text, registry_));
  }
  return certificates;
}

AnalysisResult Analyzer::finish() {
  AnalysisResult result;
  result.files = files_;
  const MeasurementCounts counts = merge_workers(result);
  result.certificates = certificate_pool(result.totals);
  judge_handshakes(result, result.certificates, options_.min_forged_domains);
  build_tables(result, counts);
  result.families = find_families(result, options_.min_forged_domains);
  locate_middlebox(result);
  return result;
}

AnalysisResult analyze_files(const FileList& files, const TrustStore& trust_store, const InterceptorRegistry& registry,
                             const AnalysisOptions& options, size_t threads) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> paths;
  for (const auto& file : files.files) paths.push_back(file.path.string());
  threads = std::max<size_t>(threads, 1);
  Analyzer analyzer(trust_store, registry, options, paths, threads);
  PipelineCallbacks callbacks{
      .consume = [&](Block& block, size_t worker) { analyzer.consume(block, worker); },
      .file_failed = [&](size_t file, const Error& error) { analyzer.file_failed(file, error); },
      .stop = options.stop,
  };
  const PipelineStats stats = run_pipeline(files.files, threads, callbacks);
  AnalysisResult result = analyzer.finish();
  result.interrupted = stats.stopped;
  result.totals.files = stats.files;
  result.totals.files_failed = stats.files_failed;
  result.totals.bytes_in = stats.bytes_in;
  result.totals.bytes_out = stats.bytes_out;
  result.totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace mitmscope::ooni
