#include "ooni/analysis.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/hex.h"
#include "engine/endpoint.h"
#include "ooni/pipeline.h"
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

// What a worker remembers of a certificate: pointers into the shared deques, which stay valid
// while other workers append (a deque's elements never move; its index may, so it is not read unlocked).
struct CachedCertificate {
  uint32_t id = 0;
  const std::string* text = nullptr;
  const CertificateFacts* facts = nullptr;
};

struct ValidationSummary {
  bool trusted = false;
  std::string error;
};

}  // namespace

std::string_view StringPool::intern(std::string_view text) {
  auto found = strings_.find(text);
  if (found == strings_.end()) found = strings_.emplace(text).first;
  return *found;
}

std::string_view ooni_verdict_name(OoniVerdict verdict) {
  switch (verdict) {
    case OoniVerdict::kIntercepted: return "intercepted";
    case OoniVerdict::kNotIntercepted: return "not_intercepted";
    case OoniVerdict::kInconclusive: return "inconclusive";
    case OoniVerdict::kClean: return "clean";
    case OoniVerdict::kFailed: return "failed";
  }
  return "?";
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
};

struct Analyzer::Worker {
  std::unique_ptr<StringPool> strings = std::make_unique<StringPool>();
  MeasurementReader reader;
  MeasurementFacts facts;
  std::unordered_map<size_t, CachedCertificate> certificate_ids;  // hash of the base64 text (checked against the text)
  std::vector<uint32_t> chain;
  std::vector<const CertificateFacts*> chain_facts;
  std::string key;
  std::vector<KeptHandshake> kept;
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
  const char* data = block.data.data();
  const char* end = data + block.size;
  const size_t capacity = block.data.size();
  auto parse = [&](const char* start, size_t length, uint64_t line) {
    ++worker.totals.lines;
    if (length > BlockReader::kMaxLine) {  // inside a block inflated at once: memory was bounded by the member
      ++worker.totals.malformed;
      add_error(block.file_index, line, fmt::format("line longer than {} MiB, skipped", BlockReader::kMaxLine >> 20));
      return;
    }
    auto read = worker.reader.read(start, length, capacity - static_cast<size_t>(start - data), worker.facts);
    if (!read) {
      ++worker.totals.malformed;
      add_error(block.file_index, line, read.error().message);
      return;
    }
    consume_measurement(worker.facts, block.file_index, line, worker_index);
  };
  if (block.whole_document) {
    parse(data, block.size, 1);
    return;
  }
  uint64_t line = block.first_line;
  for (const char* cursor = data; cursor < end; ++line) {
    const char* newline = static_cast<const char*>(std::memchr(cursor, '\n', static_cast<size_t>(end - cursor)));
    const char* line_end = newline ? newline : end;
    size_t length = static_cast<size_t>(line_end - cursor);
    while (length > 0 && (cursor[length - 1] == '\r' || cursor[length - 1] == ' ' || cursor[length - 1] == '\t')) --length;
    if (length > 0) parse(cursor, length, line);
    cursor = newline ? newline + 1 : end;
  }
}

void Analyzer::consume_measurement(const MeasurementFacts& facts, size_t file_index, uint64_t line, size_t worker_index) {
  Worker& worker = *workers_[worker_index];
  AnalysisTotals& totals = worker.totals;
  ++totals.measurements;
  if ((!options_.country.empty() && facts.probe_cc != options_.country) ||
      (options_.since && facts.start < *options_.since) || (options_.until && facts.start >= *options_.until)) {
    ++totals.filtered_out;
    return;
  }
  ++worker.countries[std::string(facts.probe_cc)];
  auto& network = worker.networks[facts.probe_asn];
  if (network.first.empty()) network.first = facts.probe_network_name;
  ++network.second;
  if (facts.handshakes.empty()) return;
  ++totals.with_tls;

  // The DNS view: the handshake's address among the control's addresses, OONI's own verdict, or
  // the probe's answers against the control's.
  auto dns_consistent = [&](std::string_view address, std::string_view host) {
    if (!facts.control_addresses.empty()) {
      const auto endpoint = parse_endpoint(address, 443);
      if (endpoint && std::find(facts.control_addresses.begin(), facts.control_addresses.end(), endpoint->ip) !=
                             facts.control_addresses.end()) {
        return Tri::kYes;
      }
    }
    if (facts.dns_consistency == "consistent") return Tri::kYes;
    if (facts.dns_consistency == "inconsistent") return Tri::kNo;
    if (facts.control_addresses.empty()) return Tri::kUnknown;
    for (const auto& answer : facts.dns_answers) {
      if (!answer.hostname.empty() && answer.hostname != host) continue;
      if (std::find(facts.control_addresses.begin(), facts.control_addresses.end(), answer.address) !=
          facts.control_addresses.end()) {
        return Tri::kYes;
      }
    }
    return facts.dns_answers.empty() ? Tri::kUnknown : Tri::kNo;
  };

  for (size_t index = 0; index < facts.handshakes.size(); ++index) {
    const HandshakeFacts& handshake = facts.handshakes[index];
    ++totals.handshakes;
    if (handshake.certificate_count == 0) {
      ++totals.verdicts["failed"];
      continue;
    }
    worker.chain.clear();
    worker.chain_facts.clear();
    bool attributed = false;
    int64_t window_from = INT64_MIN, window_to = INT64_MAX;
    for (size_t c = 0; c < handshake.certificate_count; ++c) {
      const std::string_view text = facts.certificates[handshake.first_certificate + c];
      const size_t hash = std::hash<std::string_view>{}(text);
      const CachedCertificate* cached = nullptr;
      if (auto found = worker.certificate_ids.find(hash); found != worker.certificate_ids.end() && *found->second.text == text) {
        cached = &found->second;
      } else {
        CachedCertificate entry;
        {
          std::lock_guard guard(shared_->certificates_mutex);
          if (auto known = shared_->certificate_ids.find(text); known != shared_->certificate_ids.end()) {
            entry = {known->second, &shared_->certificate_texts[known->second], &shared_->certificates[known->second]};
          }
        }
        if (!entry.facts) {
          // Parsed outside the lock; when two workers meet a new certificate at once, the first one stored wins.
          CertificateFacts parsed = certificate_facts(text, registry_);
          std::lock_guard guard(shared_->certificates_mutex);
          uint32_t id;
          if (auto known = shared_->certificate_ids.find(text); known != shared_->certificate_ids.end()) {
            id = known->second;
          } else {
            id = static_cast<uint32_t>(shared_->certificates.size());
            shared_->certificates.push_back(std::move(parsed));
            shared_->certificate_texts.emplace_back(text);
            shared_->certificate_ids.emplace(std::string(text), id);
          }
          entry = {id, &shared_->certificate_texts[id], &shared_->certificates[id]};
        }
        if (worker.certificate_ids.size() > 200000) worker.certificate_ids.clear();
        cached = &(worker.certificate_ids[hash] = entry);
      }
      worker.chain.push_back(cached->id);
      worker.chain_facts.push_back(cached->facts);
      const CertificateFacts& certificate = *cached->facts;
      if (certificate.registry) attributed = true;
      if (certificate.certificate) {
        if (auto from = certificate.certificate->not_before()) window_from = std::max(window_from, to_seconds(*from));
        if (auto to = certificate.certificate->not_after()) window_to = std::min(window_to, to_seconds(*to));
      }
    }
    const int64_t time = to_seconds(facts.start) + static_cast<int64_t>(std::floor(std::max(0.0, handshake.t)));
    const std::string_view sni = handshake.server_name;

    // Validation of this (chain, name), once per side of the archived certificates' validity window.
    auto& key = worker.key;
    key.clear();
    for (uint32_t id : worker.chain) fmt::format_to(std::back_inserter(key), "{},", id);
    key.append(sni);
    key.push_back(time >= window_from && time <= window_to ? '+' : '-');
    ValidationSummary summary;
    bool cached = false;
    {
      std::lock_guard guard(shared_->validations_mutex);
      if (auto found = shared_->validations.find(key); found != shared_->validations.end()) {
        summary = found->second;
        cached = true;
      }
    }
    if (!cached) {
      Chain chain;
      for (const CertificateFacts* facts_of : worker.chain_facts) {
        if (facts_of->certificate) chain.push_back(*facts_of->certificate);
      }
      if (!chain.empty()) {
        ValidationOptions validation_options;
        if (!sni.empty()) validation_options.hostname = std::string(sni);
        validation_options.at = from_seconds(time);
        const auto result = trust_store_.validate(chain, validation_options);
        summary.trusted = result.browser_trusted && chain.size() == worker.chain.size();
        summary.error = result.browser_trusted ? std::string() : result.browser_error;
      } else {
        summary.error = "unparseable";
      }
      std::lock_guard guard(shared_->validations_mutex);
      shared_->validations.emplace(key, summary);
      ++shared_->validation_count;
    }
    if (!attributed && summary.trusted) {
      ++totals.verdicts["clean"];
      continue;
    }

    StringPool& strings = *worker.strings;
    KeptHandshake kept;
    kept.time = time;
    kept.asn = facts.probe_asn;
    kept.country = strings.intern(facts.probe_cc);
    kept.network = strings.intern(facts.probe_network_name);
    kept.input = strings.intern(facts.input);
    kept.sni = strings.intern(sni.empty() ? std::string_view(url_host(facts.input)) : sni);
    kept.address = strings.intern(handshake.address);
    kept.failure = strings.intern(handshake.failure);
    kept.tls_version = strings.intern(handshake.tls_version);
    kept.cipher_suite = strings.intern(handshake.cipher_suite);
    kept.test_name = strings.intern(facts.test_name);
    kept.report_id = strings.intern(facts.report_id);
    kept.chain = worker.chain;
    kept.trusted = summary.trusted;
    kept.validation_error = strings.intern(summary.error);
    kept.dns_consistent = dns_consistent(handshake.address, kept.sni);
    // The control's own handshake to the same address; an older test helper only fetched the page.
    for (const auto& control : facts.control_tls) {
      if (!handshake.address.empty() && control.address == handshake.address) {
        kept.control_tls_ok = control.status ? Tri::kYes : Tri::kNo;
        kept.control_failure = strings.intern(control.failure);
      }
    }
    if (kept.control_tls_ok == Tri::kUnknown && facts.control_tls.empty() && facts.control_http_ok &&
        facts.input.starts_with("https://")) {
      kept.control_tls_ok = *facts.control_http_ok ? Tri::kYes : Tri::kNo;
      kept.control_from_http = true;
    }
    kept.file = static_cast<uint32_t>(file_index);
    kept.line = line;
    kept.handshake = static_cast<uint16_t>(index);
    worker.kept.push_back(std::move(kept));
  }
}

namespace {

// The CA certificates of the corpus (and the registry), by Subject Key Identifier and by subject.
struct IssuerIndex {
  std::unordered_map<std::string, std::vector<uint32_t>> by_key_id;
  std::unordered_map<std::string, std::vector<uint32_t>> by_subject;
};

}  // namespace

AnalysisResult Analyzer::finish() {
  AnalysisResult result;
  result.files = files_;
  AnalysisTotals& totals = result.totals;
  std::map<uint32_t, std::pair<std::string, uint64_t>> networks;
  std::map<std::string, uint64_t, std::less<>> countries;
  for (auto& worker : workers_) {
    const auto& partial = worker->totals;
    totals.lines += partial.lines;
    totals.measurements += partial.measurements;
    totals.filtered_out += partial.filtered_out;
    totals.malformed += partial.malformed;
    totals.with_tls += partial.with_tls;
    totals.handshakes += partial.handshakes;
    for (const auto& [name, count] : partial.verdicts) totals.verdicts[name] += count;
    for (auto& [asn, network] : worker->networks) {
      auto& merged = networks[asn];
      if (merged.first.empty() || (!network.first.empty() && network.first < merged.first)) merged.first = network.first;
      merged.second += network.second;
    }
    for (const auto& [country, count] : worker->countries) countries[country] += count;
    std::move(worker->kept.begin(), worker->kept.end(), std::back_inserter(result.kept));
    worker->kept.clear();
    result.strings.push_back(std::move(worker->strings));
    worker->strings = std::make_unique<StringPool>();
  }
  std::sort(result.kept.begin(), result.kept.end(), [](const KeptHandshake& a, const KeptHandshake& b) {
    return std::tie(a.file, a.line, a.handshake) < std::tie(b.file, b.line, b.handshake);
  });
  {
    std::lock_guard guard(shared_->errors_mutex);
    result.errors = std::move(shared_->errors);
    std::sort(result.errors.begin(), result.errors.end(),
              [](const LineError& a, const LineError& b) { return std::tie(a.file, a.line) < std::tie(b.file, b.line); });
  }
  // Registry certificates can be issuers too (a leaf signed by a root directly).
  std::vector<CertificateFacts> certificates(std::make_move_iterator(shared_->certificates.begin()),
                                             std::make_move_iterator(shared_->certificates.end()));
  const size_t corpus_certificates = certificates.size();
  for (const auto& entry : registry_.entries()) {
    if (!entry->certificate) continue;
    const std::string text = base64_encode(entry->certificate->der());
    if (shared_->certificate_ids.contains(text)) continue;
    certificates.push_back(certificate_facts(text, registry_));
  }
  totals.distinct_certificates = corpus_certificates;
  totals.certificates_unparseable = static_cast<uint64_t>(
      std::count_if(certificates.begin(), certificates.begin() + static_cast<long>(corpus_certificates),
                    [](const CertificateFacts& facts) { return !facts.certificate; }));
  totals.validations = shared_->validation_count;

  IssuerIndex index;
  for (uint32_t id = 0; id < certificates.size(); ++id) {
    const auto& facts = certificates[id];
    if (!facts.certificate || !facts.is_ca) continue;
    if (!facts.subject_key_id.empty()) index.by_key_id[facts.subject_key_id].push_back(id);
    index.by_subject[facts.subject].push_back(id);
  }

  // The leaf's issuer: the archived next certificate when it signed the leaf, or a CA certificate of
  // the corpus found by the leaf's Authority Key Identifier (or issuer name) whose key verifies it.
  std::unordered_map<uint32_t, std::optional<uint32_t>> resolved;
  std::map<std::pair<uint32_t, uint32_t>, bool> signatures;  // (certificate, issuer) -> verified: each pair once
  auto signed_by = [&](uint32_t certificate, uint32_t issuer) {
    auto [found, inserted] = signatures.try_emplace({certificate, issuer}, false);
    if (inserted) {
      const auto& subject = certificates[certificate].certificate;
      const auto& signer = certificates[issuer].certificate;
      found->second = subject && signer && subject->signed_by(*signer);
    }
    return found->second;
  };
  auto resolve_issuer = [&](const KeptHandshake& kept) -> std::pair<std::optional<uint32_t>, bool> {
    const auto& leaf = certificates[kept.chain.front()];
    if (!leaf.certificate) return {std::nullopt, false};
    if (kept.chain.size() > 1 && signed_by(kept.chain.front(), kept.chain[1])) return {kept.chain[1], false};
    auto [found, inserted] = resolved.try_emplace(kept.chain.front());
    if (inserted) {
      const std::vector<uint32_t>* candidates = nullptr;
      if (!leaf.authority_key_id.empty()) {
        if (auto it = index.by_key_id.find(leaf.authority_key_id); it != index.by_key_id.end()) candidates = &it->second;
      } else if (auto it = index.by_subject.find(leaf.issuer); it != index.by_subject.end()) {
        candidates = &it->second;
      }
      if (candidates) {
        for (uint32_t candidate : *candidates) {
          if (candidate != kept.chain.front() && signed_by(kept.chain.front(), candidate)) {
            found->second = candidate;
            break;
          }
        }
      }
    }
    const bool archived = found->second && std::find(kept.chain.begin(), kept.chain.end(), *found->second) != kept.chain.end();
    return {found->second, found->second && !archived};
  };

  // First pass over the kept handshakes: issuers, attribution, and who is eligible for the forging-CA rule.
  auto keys = std::make_unique<StringPool>();
  result.judged.resize(result.kept.size());
  std::unordered_map<std::string_view, std::set<std::string>> forged_domains;  // issuer key -> registrable domains
  for (size_t i = 0; i < result.kept.size(); ++i) {
    const KeptHandshake& kept = result.kept[i];
    JudgedHandshake& judged = result.judged[i];
    judged.handshake = &kept;
    const auto& leaf = certificates[kept.chain.front()];
    auto [issuer, from_corpus] = resolve_issuer(kept);
    judged.issuer = issuer;
    judged.issuer_from_corpus = from_corpus;
    if (issuer) {
      judged.issuer_key = keys->intern("sha256:" + certificates[*issuer].sha256);
    } else if (!leaf.authority_key_id.empty()) {
      judged.issuer_key = keys->intern("aki:" + leaf.authority_key_id);
    } else if (leaf.certificate) {
      judged.issuer_key = keys->intern("name:" + leaf.issuer);
    } else {
      judged.issuer_key = "unparseable";
    }
    for (size_t position = 0; position < kept.chain.size(); ++position) {
      const auto& facts = certificates[kept.chain[position]];
      if (!facts.registry) continue;
      judged.root = facts.registry.entry;
      judged.attributed_position = static_cast<int16_t>(position);
      break;
    }
    if (!judged.root && issuer && from_corpus && certificates[*issuer].registry) {
      judged.root = certificates[*issuer].registry.entry;
      judged.attributed_position = JudgedHandshake::kIssuerFromCorpus;
    }
    if (judged.root) {
      judged.verdict = OoniVerdict::kIntercepted;
      judged.category = "known_interceptor";
      continue;
    }
    if (!leaf.self_signed && kept.dns_consistent == Tri::kYes && kept.control_tls_ok == Tri::kYes && !kept.trusted) {
      forged_domains[judged.issuer_key].insert(registrable_domain(kept.sni));
    }
  }

  // Second pass: the rules that need the whole corpus, then the categories of what is not interception.
  for (size_t i = 0; i < result.kept.size(); ++i) {
    const KeptHandshake& kept = result.kept[i];
    JudgedHandshake& judged = result.judged[i];
    if (judged.root) continue;
    const auto& leaf = certificates[kept.chain.front()];
    const auto domains = forged_domains.find(judged.issuer_key);
    judged.forged_domains = domains == forged_domains.end() ? 0 : static_cast<uint32_t>(domains->second.size());
    const bool eligible = kept.dns_consistent == Tri::kYes && kept.control_tls_ok == Tri::kYes;
    const bool expired = kept.failure == "ssl_invalid_certificate" || kept.validation_error == "expired" ||
                         kept.validation_error == "not_yet_valid";
    auto decide = [&](OoniVerdict verdict, std::string_view category) {
      judged.verdict = verdict;
      judged.category = category;
    };
    if (!leaf.certificate) {
      decide(OoniVerdict::kInconclusive, "unparseable_certificate");
    } else if (leaf.self_signed) {
      decide(OoniVerdict::kNotIntercepted, "self_signed_service");
    } else if (kept.failure.empty() && kept.test_name == "signal") {
      decide(OoniVerdict::kNotIntercepted, "pinned_by_test");
    } else if (kept.dns_consistent == Tri::kNo) {
      decide(OoniVerdict::kNotIntercepted, "dns_inconsistent");
    } else if (eligible && judged.forged_domains >= options_.min_forged_domains) {
      decide(OoniVerdict::kIntercepted, "forging_ca");
    } else if (expired && kept.control_tls_ok != Tri::kYes) {
      decide(OoniVerdict::kNotIntercepted, "server_certificate_invalid");
    } else if (kept.failure == "ssl_invalid_hostname" && kept.control_tls_ok != Tri::kYes) {
      decide(OoniVerdict::kNotIntercepted, "server_hostname_mismatch");
    } else if (kept.control_tls_ok == Tri::kNo) {
      decide(OoniVerdict::kNotIntercepted, "control_failed_too");
    } else {
      decide(OoniVerdict::kInconclusive, eligible ? "issuer_on_few_domains" : "no_control");
    }
  }
  result.strings.push_back(std::move(keys));
  result.min_forged_domains = options_.min_forged_domains;

  // The tables, from the intercepted handshakes.
  std::map<std::string, IssuerRow> issuers;
  std::map<std::string, CountRow> domains;
  std::map<uint32_t, CountRow> network_rows;
  std::map<std::string, CountRow> country_rows;
  std::set<std::pair<uint32_t, uint64_t>> intercepted_measurements;
  std::map<uint32_t, std::set<std::pair<uint32_t, uint64_t>>> network_measurements;
  std::map<std::string, std::set<std::pair<uint32_t, uint64_t>>> country_measurements;
  auto touch = [](CountRow& row, UtcSeconds time) {
    if (row.intercepted == 0 || time < row.first_seen) row.first_seen = time;
    if (row.intercepted == 0 || time > row.last_seen) row.last_seen = time;
    ++row.intercepted;
  };
  for (const auto& judged : result.judged) {
    ++totals.verdicts[std::string(ooni_verdict_name(judged.verdict))];
    ++totals.categories[fmt::format("{}/{}", ooni_verdict_name(judged.verdict), judged.category)];
    if (judged.verdict != OoniVerdict::kIntercepted) continue;
    const KeptHandshake& kept = *judged.handshake;
    const UtcSeconds time = from_seconds(kept.time);
    auto [row_it, inserted] = issuers.try_emplace(std::string(judged.issuer_key));
    IssuerRow& row = row_it->second;
    if (inserted) {
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
        const auto& leaf = certificates[kept.chain.front()];
        row.subject = leaf.issuer;
        row.authority_key_id = leaf.authority_key_id;
      }
      if (judged.root) {
        row.root = judged.root->name;
        row.root_id = judged.root->id;
        if (judged.root->certificate) {
          row.root_sha1 = judged.root->certificate->sha1_hex();
          row.root_sha256 = judged.root->certificate->sha256_hex();
        }
        if (judged.issuer && certificates[*judged.issuer].registry) {
          row.attribution_method = std::string(attribution_method_name(certificates[*judged.issuer].registry.method));
        } else {
          row.attribution_method = "chain";
        }
      } else {
        row.root = "unknown";
      }
      row.first_seen = row.last_seen = time;
    }
    row.first_seen = std::min(row.first_seen, time);
    row.last_seen = std::max(row.last_seen, time);
    ++row.count;
    const bool before = row.not_before && time < *row.not_before;
    const bool after = row.not_after && time > *row.not_after;
    if (before) ++row.before_validity;
    if (after) ++row.after_validity;
    if (before || after) {
      if (!row.first_outside || time < *row.first_outside) row.first_outside = time;
      if (!row.last_outside || time > *row.last_outside) row.last_outside = time;
    }
    row.domains.insert(std::string(kept.sni));
    row.networks.insert(kept.asn);
    ++row.per_day[kept.time >= 0 ? kept.time / 86400 : (kept.time - 86399) / 86400];

    auto& domain = domains[std::string(kept.sni)];
    domain.key = kept.sni;
    touch(domain, time);
    domain.issuers.insert(std::string(judged.issuer_key));
    auto& network = network_rows[kept.asn];
    network.key = fmt::format("AS{}", kept.asn);
    touch(network, time);
    network.issuers.insert(std::string(judged.issuer_key));
    auto& country = country_rows[std::string(kept.country)];
    country.key = kept.country;
    touch(country, time);
    country.issuers.insert(std::string(judged.issuer_key));
    const std::pair measurement{kept.file, kept.line};
    intercepted_measurements.insert(measurement);
    network_measurements[kept.asn].insert(measurement);
    country_measurements[std::string(kept.country)].insert(measurement);
  }
  for (auto& [key, row] : issuers) result.issuers.push_back(std::move(row));
  std::sort(result.issuers.begin(), result.issuers.end(), [](const IssuerRow& a, const IssuerRow& b) {
    return std::tie(a.first_seen, a.key) < std::tie(b.first_seen, b.key);
  });
  for (auto& [key, row] : domains) result.domains.push_back(std::move(row));
  std::sort(result.domains.begin(), result.domains.end(),
            [](const CountRow& a, const CountRow& b) { return a.intercepted != b.intercepted ? a.intercepted > b.intercepted : a.key < b.key; });
  for (auto& [asn, row] : network_rows) {
    row.name = networks[asn].first;
    row.measurements = networks[asn].second;
    row.intercepted_measurements = network_measurements[asn].size();
    result.networks.push_back(std::move(row));
  }
  std::sort(result.networks.begin(), result.networks.end(),
            [](const CountRow& a, const CountRow& b) { return a.intercepted != b.intercepted ? a.intercepted > b.intercepted : a.key < b.key; });
  for (auto& [country, row] : country_rows) {
    row.measurements = countries[country];
    row.intercepted_measurements = country_measurements[country].size();
    result.countries.push_back(std::move(row));
  }

  // Gaps between consecutive issuers' validity windows, and the intercepted handshakes inside them.
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
        if (judged.verdict != OoniVerdict::kIntercepted) continue;
        const auto time = from_seconds(judged.handshake->time);
        if (time > gap.from && time < gap.to) ++gap.uses;
      }
      result.gaps.push_back(gap);
    }
    if (!covering || *row->not_after > *covering->not_after) covering = row;
  }
  result.certificates = std::move(certificates);
  return result;
}

std::vector<std::string> judged_reasons(const AnalysisResult& result, const JudgedHandshake& judged) {
  const KeptHandshake& kept = *judged.handshake;
  const auto& leaf = result.certificates[kept.chain.front()];
  std::vector<std::string> reasons;
  const std::string_view failure = kept.failure.empty() ? kept.validation_error : kept.failure;
  const std::string control_text =
      kept.control_tls_ok == Tri::kYes
          ? (kept.control_from_http ? "the control fetched the HTTPS page without error"
                                    : "the control's own handshake to the same address succeeded")
      : kept.control_tls_ok == Tri::kNo
          ? (kept.control_from_http ? std::string("the control could not fetch the HTTPS page either")
                                    : fmt::format("the control's handshake to the same address failed too ({})",
                                                  kept.control_failure.empty() ? "failed" : kept.control_failure))
          : "no control handshake to compare with";
  auto registry_text = [](const CertificateFacts& facts) {
    switch (facts.registry.method) {
      case AttributionMethod::kIdenticalCertificate: return "is";
      case AttributionMethod::kSameKey: return "carries the key of";
      case AttributionMethod::kSignature: return "is signed by";
    }
    return "matches";
  };
  const std::string_view category = judged.category;
  if (category == "known_interceptor" && judged.attributed_position >= 0) {
    const auto& facts = result.certificates[kept.chain[static_cast<size_t>(judged.attributed_position)]];
    reasons.push_back(fmt::format("certificate {} ({}) {} registry entry '{}' ({})", judged.attributed_position,
                                  facts.subject, registry_text(facts), judged.root->id, judged.root->name));
  } else if (category == "known_interceptor" && judged.issuer) {
    const auto& facts = result.certificates[*judged.issuer];
    reasons.push_back(fmt::format("the probe archived only the leaf; its issuer {} (SHA-1 {}), found in other measurements "
                                  "by its key identifier and verified by signature, {} registry entry '{}' ({})",
                                  facts.subject, facts.sha1, registry_text(facts), judged.root->id, judged.root->name));
  } else if (category == "unparseable_certificate") {
    reasons.push_back("the leaf certificate does not parse: " + leaf.parse_error);
  } else if (category == "self_signed_service") {
    reasons.push_back(fmt::format("the certificate is self-signed ({}): a service with its own pinned certificate, not a "
                                  "forging CA", leaf.subject));
  } else if (category == "pinned_by_test") {
    reasons.push_back("the signal test verifies Signal's servers against Signal's own CA only, and this handshake passed "
                      "that check");
  } else if (category == "dns_inconsistent") {
    reasons.push_back("the address came from DNS answers the control did not see: DNS manipulation, not interception on "
                      "the path to the real server");
  } else if (category == "forging_ca") {
    reasons.push_back(fmt::format("untrusted for {} ({})", kept.sni, failure));
    reasons.push_back("DNS agreed with the control");
    reasons.push_back(control_text);
    reasons.push_back(fmt::format("the same issuer ({}) signed certificates for {} unrelated domains seen this way",
                                  judged.issuer ? result.certificates[*judged.issuer].subject : leaf.issuer,
                                  judged.forged_domains));
  } else if (category == "server_certificate_invalid") {
    reasons.push_back(fmt::format("the server's own certificate is invalid ({}), not forged: {}", failure, control_text));
  } else if (category == "server_hostname_mismatch") {
    reasons.push_back(fmt::format("the server presents a certificate for another name ({}): {}",
                                  fmt::join(leaf.certificate->dns_names(), ", "), control_text));
  } else if (category == "control_failed_too") {
    reasons.push_back(control_text + ": the problem is the server's, not the path's");
  } else {
    reasons.push_back(fmt::format("untrusted for {} ({})", kept.sni, failure));
    reasons.push_back(category == "issuer_on_few_domains"
                          ? fmt::format("its issuer signed certificates for {} unrelated domain(s) seen with a consistent "
                                        "DNS and a successful control, fewer than {}",
                                        judged.forged_domains, result.min_forged_domains)
                          : control_text);
  }
  return reasons;
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
  };
  const PipelineStats stats = run_pipeline(files.files, threads, callbacks);
  AnalysisResult result = analyzer.finish();
  result.totals.files = stats.files;
  result.totals.files_failed = stats.files_failed;
  result.totals.bytes_in = stats.bytes_in;
  result.totals.bytes_out = stats.bytes_out;
  result.totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace mitmscope::ooni
