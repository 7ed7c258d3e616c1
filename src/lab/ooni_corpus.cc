#include "lab/ooni_corpus.h"

#include <libdeflate.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/time.h"
#include "lab/pki.h"
#include "lab/scenario.h"
#include "lab/source_records.h"

namespace mitmscope::lab {
namespace {

using nlohmann::ordered_json;

// A certificate the corpus needs could not be made: the whole corpus fails with this error.
struct CorpusFailure {
  Error error;
};

UtcSeconds day(std::string_view text) { return *parse_utc(text); }

struct Interval {
  UtcSeconds from, to;
};

struct IntermediatePlan {
  Interval validity;
  Interval used;      // when the interceptor signs with it (past its expiry for some)
  int root = 0;       // index into roots; the last root is not in the registry
};

// BRIEF: the seven intermediates (validity) and their roots (0..3 registered, 4 unknown).
const IntermediatePlan kIntermediates[] = {
    {{day("2021-06-18"), day("2021-09-01")}, {day("2021-06-20"), day("2021-09-10")}, 0},
    {{day("2021-08-19"), day("2021-11-02")}, {day("2021-09-11"), day("2021-11-02")}, 4},
    {{day("2023-08-09"), day("2023-10-23")}, {day("2023-08-10"), day("2023-11-01")}, 1},
    {{day("2023-11-02"), day("2024-01-16")}, {day("2023-11-02"), day("2023-11-27")}, 1},
    {{day("2023-11-28"), day("2024-02-11")}, {day("2023-11-28"), day("2024-03-05")}, 2},
    {{day("2024-03-20"), day("2024-06-03")}, {day("2024-03-20"), day("2024-06-20")}, 4},
    {{day("2024-08-23"), day("2024-11-06")}, {day("2024-08-23"), day("2024-11-06")}, 3},
};
constexpr int kRoots = 5;
constexpr int kUnknownRoot = 4;
// The sources that see on-path interception of a name whose DNS is left alone. Satellite fetches a page only when a
// resolver's answer disagreed with the controls', so it would not have seen this campaign.
constexpr RecordFormat kOnPathFormats[] = {RecordFormat::kAtlas, RecordFormat::kHyperquackV1, RecordFormat::kHyperquackV2,
                                           RecordFormat::kZgrab2};
// The other sources' vantage points in the Kazakh network k are in 10.(32+k).0.0/16 (OUT/pfx2as.txt).
constexpr size_t kSourceVantageBase = 32;
constexpr uint64_t kSourceSeed = 0x5eed05ce;

const char* kCleanDomains[] = {"www.bbc.com", "www.wikipedia.org", "twitter.com", "www.facebook.com", "web.telegram.org",
                               "www.reddit.com", "github.com", "www.nytimes.com", "www.theguardian.com", "meduza.io",
                               "www.rferl.org", "www.azattyq.org", "vlast.kz", "www.hrw.org", "www.torproject.org",
                               "www.dw.com", "www.bbc.co.uk", "tengrinews.kz", "www.amnesty.org", "signal.org"};
const char* kBlockpageDomains[] = {"www.instagram.com", "www.youtube.com", "twitter.com", "www.bbc.com", "www.dw.com"};
const char* kSignalHosts[] = {"storage.signal.org", "cdn.signal.org", "textsecure-service.whispersystems.org",
                              "sfu.voip.signal.org", "cdn2.signal.org"};

struct Network {
  uint32_t asn;
  std::string name;
  bool intercepting;
};


struct Corpus {
  std::optional<Identity> public_root, public_intermediate, blockpage_ca, private_ca, signal_ca;
  std::vector<Identity> roots;
  std::vector<Identity> intermediates;
  std::map<std::string, std::string> genuine;                        // domain -> base64 leaf
  std::map<std::pair<size_t, std::string>, std::string> forged;      // (intermediate, domain) -> base64 leaf
  std::map<std::string, std::string> blockpage;                      // domain -> base64 leaf
  std::string public_intermediate_b64, signal_ca_b64, signal_leaf_b64, expired_leaf_b64, mismatch_leaf_b64, private_leaf_b64;
  std::vector<std::string> intermediate_b64;
  std::map<std::string, std::string> address;                        // domain -> "ip"
  std::vector<std::string> targeted;
  std::vector<Network> kz_networks;
  SharedKey leaf_key, forged_key;   // one key for every leaf: only the signatures differ, which is what the analysis reads
};

std::string b64(const Certificate& certificate) { return base64_encode(certificate.der()); }

template <typename T>
T must(Result<T> made) {
  if (!made) throw CorpusFailure{made.error()};
  return std::move(*made);
}

CertificateSpec leaf_spec(const std::string& name, Interval validity) {
  CertificateSpec spec;
  spec.subject = {{"CN", name}};
  spec.dns_names = {name};
  spec.not_before = validity.from;
  spec.not_after = validity.to;
  return spec;
}

CertificateSpec ca_spec(Subject subject, Interval validity) {
  CertificateSpec spec;
  spec.subject = std::move(subject);
  spec.is_ca = true;
  spec.not_before = validity.from;
  spec.not_after = validity.to;
  return spec;
}

const KeySpec kRsa{KeySpec::Type::kRsa, 2048, 65537};
const KeySpec kEc{KeySpec::Type::kEcP256};
const Interval kLongAgo{day("2019-01-01"), day("2034-01-01")};

std::string issue(const std::string& name, Interval validity, const SharedKey& key, const Identity& issuer) {
  return b64(must(issue_certificate(leaf_spec(name, validity), key.get(), &issuer)));
}

// The Web PKI of the clean traffic, and the interception roots and intermediates of BRIEF.
void make_authorities(Corpus& corpus, const Scenario& scenario) {
  corpus.public_root = must(make_identity(ca_spec({{"C", "US"}, {"O", "mitmscope lab"}, {"CN", "Lab Public Root CA"}}, kLongAgo), kEc, nullptr));
  corpus.public_intermediate = must(make_identity(
      ca_spec({{"C", "US"}, {"O", "mitmscope lab"}, {"CN", "Lab Public TLS CA 1"}}, kLongAgo), kEc, &*corpus.public_root));
  corpus.public_intermediate_b64 = b64(corpus.public_intermediate->certificate);
  // Interception roots share one name, as the real ISCA roots do.
  for (int i = 0; i < kRoots; ++i) {
    corpus.roots.push_back(must(make_identity(ca_spec(scenario.issuer.root_subject, {day("2020-01-01"), day("2040-01-01")}), kRsa, nullptr)));
  }
  for (size_t i = 0; i < std::size(kIntermediates); ++i) {
    const auto& plan = kIntermediates[i];
    Subject subject = i < scenario.issuer.intermediates.size() ? scenario.issuer.intermediates[i].subject
                                                               : Subject{{"C", "KZ"}, {"CN", fmt::format("ISCA Intermediate {}", i + 1)}};
    corpus.intermediates.push_back(must(make_identity(ca_spec(subject, plan.validity), kRsa, &corpus.roots[static_cast<size_t>(plan.root)])));
    corpus.intermediate_b64.push_back(b64(corpus.intermediates.back().certificate));
  }
}

// Every domain's address and genuine leaf, and every intermediate's forged leaf of every targeted domain.
void make_leaves(Corpus& corpus, const Scenario& scenario) {
  corpus.targeted = scenario.targeted_domains;
  std::vector<std::string> all_domains(corpus.targeted);
  for (const char* domain : kCleanDomains) all_domains.push_back(domain);
  uint32_t host = 1;
  for (const auto& domain : all_domains) {
    corpus.address[domain] = fmt::format("198.51.{}.{}", 100 + host / 250, host % 250 + 1);
    ++host;
    corpus.genuine[domain] = issue(domain, kLongAgo, corpus.leaf_key, *corpus.public_intermediate);
  }
  for (size_t i = 0; i < corpus.intermediates.size(); ++i) {
    for (const auto& domain : corpus.targeted) {
      corpus.forged[{i, domain}] = issue(domain, kIntermediates[i].validity, corpus.forged_key, corpus.intermediates[i]);
    }
  }
  for (const char* domain : {"www.expired-site.ir", "www.mismatch-site.de", "portal.example-corp.de"}) {
    corpus.address[domain] = fmt::format("203.0.113.{}", ++host % 250 + 1);
  }
}

// The traps: certificates that are untrusted or wrong without any interception.
void make_traps(Corpus& corpus) {
  corpus.blockpage_ca = must(make_identity(ca_spec({{"CN", "Blockpage Authority"}}, kLongAgo), kEc, nullptr));
  for (const char* domain : kBlockpageDomains) corpus.blockpage[domain] = issue(domain, kLongAgo, corpus.leaf_key, *corpus.blockpage_ca);
  corpus.signal_ca = must(make_identity(
      ca_spec({{"C", "US"}, {"O", "Signal Messenger (mitmscope lab)"}, {"CN", "Signal Messenger"}}, kLongAgo), kEc, nullptr));
  corpus.signal_ca_b64 = b64(corpus.signal_ca->certificate);
  corpus.signal_leaf_b64 = issue("api.directory.signal.org", kLongAgo, corpus.leaf_key, *corpus.signal_ca);
  corpus.expired_leaf_b64 =
      issue("www.expired-site.ir", {day("2019-01-01"), day("2020-01-01")}, corpus.leaf_key, *corpus.public_intermediate);
  corpus.mismatch_leaf_b64 = issue("hosting-default.de", kLongAgo, corpus.leaf_key, *corpus.public_intermediate);
  corpus.private_ca = must(make_identity(ca_spec({{"O", "Example Corp"}, {"CN", "Example Corp Private CA"}}, kLongAgo), kEc, nullptr));
  corpus.private_leaf_b64 = issue("portal.example-corp.de", kLongAgo, corpus.leaf_key, *corpus.private_ca);
}

Corpus build_corpus(const Scenario& scenario) {
  Corpus corpus;
  corpus.leaf_key = must(generate_key(kEc));
  corpus.forged_key = must(generate_key(kRsa));
  make_authorities(corpus, scenario);
  make_leaves(corpus, scenario);
  make_traps(corpus);
  for (const auto& as : scenario.ases) corpus.kz_networks.push_back({as.asn, as.name, true});
  corpus.kz_networks.push_back({21282, "Kcell JSC (no interception)", false});
  corpus.kz_networks.push_back({35168, "Alfa Telecom (no interception)", false});
  return corpus;
}

struct Handshake {
  std::string address, sni, failure;  // failure empty: success
  std::vector<const std::string*> certificates;
};

struct Measurement {
  UtcSeconds time;
  std::string cc, network, input, test_name = "web_connectivity";
  uint32_t asn = 0;
  std::vector<Handshake> handshakes;
  std::vector<std::pair<std::string, std::string>> answers;  // hostname, ip
  std::vector<std::string> control_addresses;
  struct ControlTls {
    std::string address, server_name, failure;
    bool ok = true;
  };
  std::vector<ControlTls> control_tls;
  bool has_control = true;
  std::string dns_consistency = "consistent";
  std::optional<size_t> kz_network;     // index into Corpus::kz_networks
  std::optional<size_t> forged_with;    // the intermediate that signed its forged leaf
};

std::string format_start(UtcSeconds time) {
  std::string text = format_utc(time);
  return text.substr(0, 10) + " " + text.substr(11, 8);
}

void write_header(std::string& out, const Measurement& m, std::mt19937_64& random) {
  const std::string start = format_start(m.time);
  const std::string compact = start.substr(0, 4) + start.substr(5, 2) + start.substr(8, 2) + "T" + start.substr(11, 2) +
                              start.substr(14, 2) + start.substr(17, 2) + "Z";
  fmt::format_to(std::back_inserter(out),
                 R"({{"annotations":{{"architecture":"arm64","engine_name":"ooniprobe-engine","engine_version":"3.10.0",)"
                 R"("network_type":"wifi","platform":"android"}},"data_format_version":"0.2.0","input":{},)"
                 R"("measurement_start_time":"{}","probe_asn":"AS{}","probe_cc":"{}","probe_ip":"127.0.0.1",)"
                 R"("probe_network_name":"{}","report_id":"{}_{}_{}_{}_n1_{:016x}","resolver_asn":"AS{}",)"
                 R"("resolver_ip":"127.0.0.2","resolver_network_name":"{}","software_name":"ooniprobe-android",)"
                 R"("software_version":"3.7.0","test_helpers":{{"backend":{{"address":"https://0.th.ooni.org","type":"https"}}}},)"
                 R"("test_name":"{}","test_runtime":1.734,"test_start_time":"{}","test_version":"0.4.1","test_keys":{{)",
                 m.input.empty() ? "null" : "\"" + m.input + "\"", start, m.asn, m.cc, m.network, compact, m.test_name, m.cc,
                 m.asn, random(), m.asn, m.network, m.test_name, start);
  fmt::format_to(std::back_inserter(out), R"("agent":"redirect","client_resolver":"127.0.0.2","retries":null,"socksproxy":null,)");
}

void write_queries_and_connects(std::string& out, const Measurement& m) {
  out += R"("queries":[)";
  for (size_t i = 0; i < m.answers.size(); ++i) {
    fmt::format_to(std::back_inserter(out),
                   R"({}{{"answers":[{{"asn":{},"as_org_name":"Example Hosting","answer_type":"A","ipv4":"{}","ttl":null}}],)"
                   R"("engine":"system","failure":null,"hostname":"{}","query_type":"A","resolver_hostname":null,)"
                   R"("resolver_port":null,"resolver_address":"","t":0.04}})",
                   i ? "," : "", 64496 + i, m.answers[i].second, m.answers[i].first);
  }
  out += R"(],"tcp_connect":[)";
  for (size_t i = 0; i < m.handshakes.size(); ++i) {
    const auto& address = m.handshakes[i].address;
    if (address.empty()) continue;
    const auto colon = address.rfind(':');
    fmt::format_to(std::back_inserter(out), R"({}{{"ip":"{}","port":{},"status":{{"blocked":false,"failure":null,"success":true}},"t":0.12}})",
                   i ? "," : "", address.substr(0, colon), address.substr(colon + 1));
  }
  out += "],";
}

void write_handshakes(std::string& out, const Measurement& m) {
  out += R"("tls_handshakes":[)";
  for (size_t i = 0; i < m.handshakes.size(); ++i) {
    const auto& h = m.handshakes[i];
    const bool ok = h.failure.empty();
    fmt::format_to(std::back_inserter(out), R"({}{{{}"cipher_suite":"{}","failure":{},"negotiated_protocol":"{}","no_tls_verify":false,"peer_certificates":[)",
                   i ? "," : "", h.address.empty() ? std::string() : fmt::format(R"("address":"{}",)", h.address),
                   ok ? "TLS_AES_128_GCM_SHA256" : "", ok ? "null" : "\"" + h.failure + "\"", ok ? "h2" : "");
    for (size_t c = 0; c < h.certificates.size(); ++c) {
      fmt::format_to(std::back_inserter(out), R"({}{{"data":"{}","format":"base64"}})", c ? "," : "", *h.certificates[c]);
    }
    fmt::format_to(std::back_inserter(out), R"(],"server_name":"{}","t":0.{},"tags":["tcptls_experiment"],"tls_version":"{}"}})",
                   h.sni, 2 + i, ok ? "TLSv1.3" : "");
  }
  out += "],";
}

void write_request(std::string& out, const Measurement& m, std::mt19937_64& random) {
  fmt::format_to(std::back_inserter(out),
                 R"("requests":[{{"failure":{},"request":{{"body":"","body_is_truncated":false,"headers":{{"Accept":"text/html,application/xhtml+xml",)"
                 R"("Accept-Language":"en-US;q=0.8,en;q=0.5","User-Agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"}},)"
                 R"("method":"GET","tor":{{"exit_ip":null,"exit_name":null,"is_tor":false}},"x_transport":"tcp","url":{}}},)"
                 R"("response":{{"body":"<!DOCTYPE html><html><head><title>Example</title></head><body><p>{}</p></body></html>",)"
                 R"("body_is_truncated":false,"code":200,"headers":{{"Content-Type":"text/html; charset=utf-8","Server":"nginx"}}}},"t":0.41}}],)",
                 m.handshakes.empty() || m.handshakes[0].failure.empty() ? "null" : "\"" + m.handshakes[0].failure + "\"",
                 m.input.empty() ? "null" : "\"" + m.input + "\"", std::string(120 + random() % 240, 'x'));
}

void write_control(std::string& out, const Measurement& m) {
  const bool https = m.input.starts_with("https://");
  out += R"("control":{"tcp_connect":{)";
  for (size_t i = 0; i < m.control_addresses.size(); ++i) {
    fmt::format_to(std::back_inserter(out), R"({}"{}:{}":{{"status":true,"failure":null}})", i ? "," : "", m.control_addresses[i], https ? 443 : 80);
  }
  out += R"(},"tls_handshake":{)";
  for (size_t i = 0; i < m.control_tls.size(); ++i) {
    const auto& control = m.control_tls[i];
    fmt::format_to(std::back_inserter(out), R"({}"{}":{{"server_name":"{}","status":{},"failure":{}}})", i ? "," : "", control.address,
                   control.server_name, control.ok ? "true" : "false", control.ok ? "null" : "\"" + control.failure + "\"");
  }
  fmt::format_to(std::back_inserter(out),
                 R"(}},"http_request":{{"body_length":1843,"failure":null,"title":"Example","headers":{{"Content-Type":"text/html"}},"status_code":200}},)"
                 R"("dns":{{"failure":null,"addrs":[)");
  for (size_t i = 0; i < m.control_addresses.size(); ++i) fmt::format_to(std::back_inserter(out), R"({}"{}")", i ? "," : "", m.control_addresses[i]);
  out += "]}},";
  fmt::format_to(std::back_inserter(out), R"("dns_consistency":"{}","dns_experiment_failure":null,"control_failure":null,)", m.dns_consistency);
}

void write_measurement(std::string& out, const Measurement& m, std::mt19937_64& random) {
  write_header(out, m, random);
  write_queries_and_connects(out, m);
  write_handshakes(out, m);
  if (m.test_name == "web_connectivity") write_request(out, m, random);
  if (m.has_control) write_control(out, m);
  fmt::format_to(std::back_inserter(out), R"("accessible":true,"blocking":false,"x_status":1}}}})");
  out += '\n';
}

Result<void> write_gzip(const std::filesystem::path& path, const std::string& text, bool truncate) {
  std::filesystem::create_directories(path.parent_path());
  auto* compressor = libdeflate_alloc_compressor(6);
  std::string compressed(libdeflate_gzip_compress_bound(compressor, text.size()), '\0');
  const size_t size = libdeflate_gzip_compress(compressor, text.data(), text.size(), compressed.data(), compressed.size());
  libdeflate_free_compressor(compressor);
  compressed.resize(truncate ? size / 2 : size);
  std::ofstream file(path, std::ios::binary);
  file << compressed;
  if (!file) return make_error(ErrorCode::kFileUnreadable, path.string());
  return {};
}

std::string iso(UtcSeconds time) { return format_utc(time); }

// Lines that are not measurements, each its own kind of damage.
std::vector<std::string> malformed_lines() {
  static constexpr char kBinary[] = "\x1f\x8b\x08\x00garbage\xff\xfe binary";
  return {
      "{\"measurement_start_time\": \"2022-01-01 00:00:00\", \"probe_cc\": \"KZ\", \"test_keys\": {\"tls_handshakes\": [",
      std::string(kBinary, sizeof kBinary - 1),  // the NUL inside is part of it
      R"({"measurement_start_time": 12, "probe_cc": "KZ", "test_keys": {}})",
      R"({"measurement_start_time": "2022-01-01 00:00:00", "probe_cc": "KZ", "test_keys": {"tls_handshakes": [{"peer_certificates": [{"data": 5}]}]}})",
      R"(["a JSON array, not a measurement"])",
  };
}

// The category a single-handshake HTTPS measurement of the campaign is counted under: clean, or intercepted by
// an intermediate whose root the registry knows or not.
const char* category_of(const Measurement& m) {
  if (!m.forged_with) return "clean";
  return kIntermediates[*m.forged_with].root == kUnknownRoot ? "intercepted/forging_ca" : "intercepted/known_interceptor";
}

class Generator {
 public:
  Generator(const std::filesystem::path& out, const OoniCorpusOptions& options, const Corpus& corpus)
      : out_(out), options_(options), corpus_(corpus), random_(options.seed), source_random_(options.seed ^ kSourceSeed) {}

  Result<void> run();
  OoniCorpusTruth truth() const;

 private:
  void count(const std::string& category, size_t n = 1) { truth_.categories[category] += n; }
  double uniform() { return std::uniform_real_distribution<double>(0, 1)(random_); }
  size_t pick(size_t n) { return static_cast<size_t>(random_() % n); }
  const char* clean_domain() { return kCleanDomains[pick(std::size(kCleanDomains))]; }

  void https(Measurement& m, const std::string& domain, const std::string& failure,
             std::vector<const std::string*> certificates, const std::string& control_failure = "");
  void http(Measurement& m, const std::string& domain);
  void clean(Measurement& m, const std::string& domain);
  void kz(Measurement& m);
  void intercepted(Measurement& m, const std::string& domain, size_t intermediate);
  void elsewhere(Measurement& m);
  bool trap(Measurement& m, const std::string& country, double draw);
  // With --other-sources: a Kazakh HTTPS measurement written as another source's record instead of OONI's.
  bool as_other_source(const Measurement& m);
  SourceRecord source_record(const Measurement& m);
  Result<void> write_other_sources();
  Result<void> write_day(int64_t day_index, size_t count, size_t& malformed_left);
  Result<void> write_damaged();

  std::filesystem::path out_;
  const OoniCorpusOptions& options_;
  const Corpus& corpus_;
  std::mt19937_64 random_;
  OoniCorpusTruth truth_;
  std::map<size_t, OoniCorpusTruth::Issuer> issuers_;   // by intermediate
  std::map<std::filesystem::path, std::string> source_files_;   // OUT/sources/<format>/<year>.jsonl -> lines
  size_t next_format_ = 0;
  // Who recorded a measurement, and how (report ids, timings), is drawn apart from the campaign, which stays the
  // seed's with or without other sources.
  std::mt19937_64 source_random_;
};

// https://DOMAIN/ measured at the domain's own address (DNS consistent), with the control's view of it.
void Generator::https(Measurement& m, const std::string& domain, const std::string& failure,
                      std::vector<const std::string*> certificates, const std::string& control_failure) {
  const std::string ip = corpus_.address.at(domain);
  m.input = "https://" + domain + "/";
  m.answers = {{domain, ip}};
  m.control_addresses = {ip};
  m.handshakes.push_back({ip + ":443", domain, failure, std::move(certificates)});
  m.control_tls.push_back({ip + ":443", domain, control_failure, control_failure.empty()});
}

// Plain HTTP: no TLS handshake at all.
void Generator::http(Measurement& m, const std::string& domain) {
  m.input = "http://" + domain + "/";
  m.answers = {{domain, corpus_.address.at(domain)}};
  m.control_addresses = {corpus_.address.at(domain)};
}

// A clean handshake to a domain with its genuine chain.
void Generator::clean(Measurement& m, const std::string& domain) {
  https(m, domain, "", {&corpus_.genuine.at(domain), &corpus_.public_intermediate_b64});
  count("clean");
}

void Generator::kz(Measurement& m) {
  m.kz_network = pick(corpus_.kz_networks.size());
  const auto& network = corpus_.kz_networks[*m.kz_network];
  m.cc = "KZ";
  m.asn = network.asn;
  m.network = network.name;
  const double kind = uniform();
  if (kind < 0.35) return http(m, clean_domain());
  if (kind < 0.38) {  // throttled: reset before any certificate
    https(m, clean_domain(), "connection_reset", {});
    count("failed");
    return;
  }
  if (kind < 0.70) return clean(m, clean_domain());
  const std::string& domain = corpus_.targeted[pick(corpus_.targeted.size())];
  std::optional<size_t> active;
  for (size_t i = 0; i < std::size(kIntermediates); ++i) {
    if (m.time >= kIntermediates[i].used.from && m.time < kIntermediates[i].used.to + std::chrono::days{1}) active = i;
  }
  if (!network.intercepting || !active || uniform() < 0.1) return clean(m, domain);
  intercepted(m, domain, *active);
}

// The forged leaf of `domain` under intermediate `i`: with the intermediate where the root is installed and the
// intermediate still valid, else the leaf alone with the failure the probe reported.
void Generator::intercepted(Measurement& m, const std::string& domain, size_t i) {
  const auto& plan = kIntermediates[i];
  m.forged_with = i;
  const bool installed = uniform() < 0.3;
  const bool valid = m.time >= plan.validity.from && m.time <= plan.validity.to;
  const std::string ip = corpus_.address.at(domain);
  Handshake handshake{ip + ":443", domain, "", {&corpus_.forged.at({i, domain})}};
  if (installed && valid) {
    handshake.certificates.push_back(&corpus_.intermediate_b64[i]);
  } else {
    handshake.failure = installed ? "ssl_invalid_certificate" : "ssl_unknown_authority";
  }
  m.input = "https://" + domain + "/";
  m.answers = {{domain, ip}};
  m.control_addresses = {ip};
  m.handshakes.push_back(handshake);
  m.control_tls.push_back({ip + ":443", domain, "", true});
  count(category_of(m));
  auto& issuer = issuers_[i];
  ++issuer.handshakes;
  const std::string when = iso(m.time);
  if (issuer.first_seen.empty() || when < issuer.first_seen) issuer.first_seen = when;
  if (issuer.last_seen.empty() || when > issuer.last_seen) issuer.last_seen = when;
  if (m.time < plan.validity.from) ++issuer.used_before_validity;
  if (m.time > plan.validity.to) ++issuer.used_after_validity;
  issuer.domains.insert(domain);
  issuer.networks.insert(m.asn);
  ++truth_.domains[domain];
  ++truth_.networks[m.asn];
  ++truth_.countries["KZ"];
}

void Generator::elsewhere(Measurement& m) {
  static const std::pair<const char*, std::pair<uint32_t, const char*>> kCountries[] = {
      {"IT", {30722, "Vodafone Italia S.p.A."}}, {"DE", {3320, "Deutsche Telekom AG"}}, {"US", {7922, "Comcast Cable"}},
      {"AM", {44395, "Ucom CJSC"}}, {"IR", {197207, "Mobile Communication Company of Iran PLC"}}};
  const auto& [cc, network] = kCountries[pick(std::size(kCountries))];
  m.cc = cc;
  m.asn = network.first;
  m.network = network.second;
  const double draw = uniform();
  if (trap(m, cc, draw)) return;
  if (draw < 0.5) return http(m, clean_domain());
  const std::string domain = clean_domain();
  clean(m, domain);
  if (uniform() < 0.2) {  // a second address of the same site
    const std::string ip = corpus_.address.at(domain);
    m.handshakes.push_back({ip.substr(0, ip.rfind('.')) + ".251:443", domain, "", m.handshakes[0].certificates});
    m.control_addresses.push_back(ip.substr(0, ip.rfind('.')) + ".251");
    m.control_tls.push_back({m.handshakes.back().address, domain, "", true});
    count("clean");
  }
}

// The traps that are not interception, each in the country it is drawn for; false when none was drawn.
bool Generator::trap(Measurement& m, const std::string& country, double draw) {
  if (country == "AM" && draw < 0.3) {  // the Signal test: its own pinned CA, no control
    m.test_name = "signal";
    m.has_control = false;
    for (const char* host : kSignalHosts) m.handshakes.push_back({"", host, "ssl_unknown_authority", {&corpus_.signal_ca_b64}});
    m.handshakes.push_back({"", "api.directory.signal.org", "", {&corpus_.signal_leaf_b64}});
    count("not_intercepted/self_signed_service", std::size(kSignalHosts));
    count("not_intercepted/pinned_by_test");
  } else if (country == "IR" && draw < 0.2) {  // an expired server certificate, which the control sees too
    https(m, "www.expired-site.ir", "ssl_invalid_certificate", {&corpus_.expired_leaf_b64}, "ssl_invalid_certificate");
    count("not_intercepted/server_certificate_invalid");
  } else if (country == "IR" && draw < 0.4) {  // a DNS blockpage: one issuer for many domains, but DNS disagreed
    const std::string domain = kBlockpageDomains[pick(std::size(kBlockpageDomains))];
    const std::string real = corpus_.address.count(domain) ? corpus_.address.at(domain) : "198.51.100.250";
    m.input = "https://" + domain + "/";
    m.answers = {{domain, "10.10.34.35"}};
    m.control_addresses = {real};
    m.dns_consistency = "inconsistent";
    m.handshakes.push_back({"10.10.34.35:443", domain, "ssl_unknown_authority", {&corpus_.blockpage.at(domain)}});
    m.control_tls.push_back({real + ":443", domain, "", true});
    count("not_intercepted/dns_inconsistent");
  } else if (country == "DE" && draw < 0.1) {  // a server answering with another name's certificate
    https(m, "www.mismatch-site.de", "ssl_invalid_hostname", {&corpus_.mismatch_leaf_b64}, "ssl_invalid_hostname");
    count("not_intercepted/server_hostname_mismatch");
  } else if (country == "DE" && draw < 0.15) {  // a private CA on one domain: untrusted, but no forging pattern
    https(m, "portal.example-corp.de", "ssl_unknown_authority", {&corpus_.private_leaf_b64});
    count("inconclusive/issuer_on_few_domains");
  } else {
    return false;
  }
  return true;
}

// The same handshake as the other sources record it: the vantage point in the measured network (the analysis maps it
// to its AS with OUT/pfx2as.txt), the chain the device sent (the leaf and its intermediate: the probe's trust store
// does not matter here), Censored Planet's template verdict. The sources take turns.
bool Generator::as_other_source(const Measurement& m) {
  if (options_.other_sources <= 0 || !m.kz_network || m.handshakes.size() != 1 || m.handshakes[0].certificates.empty()) return false;
  if (std::uniform_real_distribution<double>(0, 1)(source_random_) >= options_.other_sources) return false;
  const RecordFormat format = kOnPathFormats[next_format_++ % std::size(kOnPathFormats)];
  const std::string name(record_format_name(format));
  const std::string year = format_utc(m.time).substr(0, 4);
  source_files_[std::filesystem::path("sources") / name / (year + ".jsonl.gz")] += record_json(format, source_record(m)).dump() + "\n";
  // The OONI category it was counted under goes to the source instead.
  const bool forged = m.forged_with.has_value();
  --truth_.categories[category_of(m)];
  ++truth_.sources[name].records;
  truth_.sources[name].intercepted += forged;
  return true;
}

SourceRecord Generator::source_record(const Measurement& m) {
  const Handshake& handshake = m.handshakes[0];
  SourceRecord record;
  record.time = m.time;
  record.vantage_ip = fmt::format("10.{}.{}.{}", kSourceVantageBase + *m.kz_network, source_random_() % 250, 1 + source_random_() % 250);
  record.country = "KZ";
  record.server_ip = handshake.address.substr(0, handshake.address.rfind(':'));
  record.sni = handshake.sni;
  if (m.forged_with) {
    record.chain = {*handshake.certificates[0], corpus_.intermediate_b64[*m.forged_with]};
  } else {
    for (const std::string* certificate : handshake.certificates) record.chain.push_back(*certificate);
  }
  record.matches_template = !m.forged_with;
  record.probe = static_cast<int>(10000 + 100 * *m.kz_network + source_random_() % 100);
  return record;
}

Result<void> Generator::write_other_sources() {
  for (const auto& [path, lines] : source_files_) {
    if (auto ok = write_gzip(out_ / path, lines, false); !ok) return ok;
    ++truth_.files;
  }
  return {};
}

Result<void> Generator::run() {
  const UtcSeconds from = day(options_.from), to = day(options_.to);
  const int64_t days = std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::days>(to - from).count());
  const double per_day = static_cast<double>(options_.measurements) / static_cast<double>(days);
  size_t written = 0, malformed_left = options_.malformed;
  double owed = 0;
  for (int64_t d = 0; d < days; ++d) {
    owed += per_day;
    size_t today = static_cast<size_t>(owed);
    owed -= static_cast<double>(today);
    if (d == days - 1) today = options_.measurements - written;
    written += today;
    if (today == 0) continue;
    if (auto ok = write_day(d, today, malformed_left); !ok) return ok;
  }
  if (auto ok = write_other_sources(); !ok) return ok;
  return options_.damaged ? write_damaged() : Result<void>{};
}

// One day's measurements, one file per country.
Result<void> Generator::write_day(int64_t day_index, size_t count, size_t& malformed_left) {
  const UtcSeconds midnight = day(options_.from) + std::chrono::days{day_index};
  std::map<std::string, std::string> files;  // country -> lines
  std::vector<Measurement> measurements(count);
  for (auto& m : measurements) m.time = midnight + std::chrono::seconds{static_cast<int64_t>(random_() % 86400)};
  std::sort(measurements.begin(), measurements.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  for (auto& m : measurements) {
    if (uniform() < 0.6) {
      kz(m);
    } else {
      elsewhere(m);
    }
    ++truth_.network_measurements[m.asn];
    if (!as_other_source(m)) write_measurement(files[m.cc], m, source_random_);
    ++truth_.measurements;
    truth_.handshakes += m.handshakes.size();
  }
  const bool last_day = midnight + std::chrono::days{1} >= day(options_.to);
  const std::string date = format_utc(midnight).substr(0, 10);
  const std::string compact = date.substr(0, 4) + date.substr(5, 2) + date.substr(8, 2);
  for (auto& [country, lines] : files) {
    if (malformed_left > 0 && (day_index % 7 == 0 || last_day)) {
      const auto damage = malformed_lines();
      lines += damage[malformed_left % damage.size()] + "\n";
      --malformed_left;
      ++truth_.malformed;
    }
    const auto path = out_ / "raw" / compact / "00" / country / "webconnectivity" /
                      fmt::format("{}00_{}_webconnectivity.n0.0.jsonl.gz", compact, country);
    if (auto ok = write_gzip(path, lines, false); !ok) return ok;
    ++truth_.files;
  }
  return {};
}

// Clean measurements only, cut in the middle: what precedes the damage is read, the rest is reported.
Result<void> Generator::write_damaged() {
  std::string lines;
  for (size_t i = 0; i < 200; ++i) {
    Measurement m;
    m.time = day(options_.from);
    m.cc = "US";
    m.asn = 7922;
    m.network = "Comcast Cable";
    const std::string domain = kCleanDomains[i % std::size(kCleanDomains)];
    m.input = "http://" + domain + "/";
    write_measurement(lines, m, source_random_);
  }
  return write_gzip(out_ / "raw" / "damaged" / "damaged.jsonl.gz", lines, true);
}

OoniCorpusTruth Generator::truth() const {
  OoniCorpusTruth truth = truth_;
  for (const auto& [index, used] : issuers_) {
    OoniCorpusTruth::Issuer issuer = used;
    const auto& certificate = corpus_.intermediates[index].certificate;
    const int root = kIntermediates[index].root;
    issuer.sha1 = certificate.sha1_hex();
    issuer.sha256 = certificate.sha256_hex();
    issuer.subject = certificate.subject();
    issuer.root = root == kUnknownRoot ? "unknown" : fmt::format("root-{}", root);
    if (root != kUnknownRoot) issuer.root_sha1 = corpus_.roots[static_cast<size_t>(root)].certificate.sha1_hex();
    issuer.not_before = iso(kIntermediates[index].validity.from);
    issuer.not_after = iso(kIntermediates[index].validity.to);
    truth.issuers.push_back(std::move(issuer));
  }
  return truth;
}

Result<void> write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream file(path, std::ios::binary);
  file << text;
  if (!file) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", path.string()));
  return {};
}

// The registry the analysis is given (roots 0..3; root 4 stays unknown) and the clean traffic's trust store.
Result<void> write_trust(const std::filesystem::path& out, const Corpus& corpus) {
  ordered_json registry = {{"format", "mitmscope-known-interceptors/1"}, {"entries", ordered_json::array()}};
  for (int i = 0; i < kUnknownRoot; ++i) {
    const std::string file = fmt::format("root-{}.pem", i);
    if (auto ok = write_text(out / "known-roots" / file, certificate_pem(corpus.roots[static_cast<size_t>(i)].certificate)); !ok) return ok;
    registry["entries"].push_back({{"id", fmt::format("root-{}", i)},
                                   {"file", file},
                                   {"name", fmt::format("ISCA test root {} (mitmscope lab)", i)},
                                   {"country", "KZ"},
                                   {"kind", "root"}});
  }
  if (auto ok = write_text(out / "known-roots" / "registry.json", registry.dump(1) + "\n"); !ok) return ok;
  std::string pfx2as;
  for (size_t k = 0; k < corpus.kz_networks.size(); ++k) {
    pfx2as += fmt::format("10.{}.0.0\t16\t{}\n", kSourceVantageBase + k, corpus.kz_networks[k].asn);
  }
  if (auto ok = write_text(out / "pfx2as.txt", pfx2as); !ok) return ok;
  return write_text(out / "trust" / "public-root.pem", certificate_pem(corpus.public_root->certificate));
}

template <typename Key>
ordered_json counts_json(const std::map<Key, size_t>& counts, const std::string& prefix = "") {
  ordered_json out = ordered_json::object();
  for (const auto& [key, count] : counts) out[prefix + fmt::format("{}", key)] = count;
  return out;
}

// The dates the user gave: days (YYYY-MM-DD), the first before the last.
Result<void> check_range(const OoniCorpusOptions& options) {
  const auto from = parse_utc(options.from), to = parse_utc(options.to);
  for (const auto& [name, text, parsed] : {std::tuple{"--from", &options.from, from.has_value()}, std::tuple{"--to", &options.to, to.has_value()}}) {
    if (!parsed) return make_error(ErrorCode::kInvalidArgument, fmt::format("{} {}: not a date (YYYY-MM-DD)", name, *text));
  }
  if (*from >= *to) return make_error(ErrorCode::kInvalidArgument, fmt::format("--from {} is not before --to {}", options.from, options.to));
  return {};
}

}  // namespace

Result<OoniCorpusTruth> write_ooni_corpus(const std::filesystem::path& out, const OoniCorpusOptions& options) {
  if (auto checked = check_range(options); !checked) return std::unexpected(checked.error());
  auto scenario = load_scenario("kz-2021");
  if (!scenario) return std::unexpected(scenario.error());
  try {
    const Corpus corpus = build_corpus(*scenario);
    if (auto ok = write_trust(out, corpus); !ok) return std::unexpected(ok.error());
    Generator generator(out, options, corpus);
    if (auto ok = generator.run(); !ok) return std::unexpected(ok.error());
    OoniCorpusTruth truth = generator.truth();
    if (auto ok = write_text(out / "ground-truth.json", ooni_corpus_truth_json(truth).dump(1) + "\n"); !ok) {
      return std::unexpected(ok.error());
    }
    return truth;
  } catch (const CorpusFailure& failure) {
    return std::unexpected(failure.error);
  }
}

ordered_json ooni_corpus_truth_json(const OoniCorpusTruth& truth) {
  ordered_json issuers = ordered_json::array();
  for (const auto& issuer : truth.issuers) {
    issuers.push_back({{"sha1", issuer.sha1}, {"sha256", issuer.sha256}, {"subject", issuer.subject},
                       {"root_sha1", issuer.root_sha1}, {"root", issuer.root}, {"not_before", issuer.not_before},
                       {"not_after", issuer.not_after}, {"handshakes", issuer.handshakes}, {"first_seen", issuer.first_seen},
                       {"last_seen", issuer.last_seen}, {"used_before_validity", issuer.used_before_validity},
                       {"used_after_validity", issuer.used_after_validity}, {"domains", issuer.domains.size()},
                       {"networks", issuer.networks.size()}});
  }
  ordered_json networks = ordered_json::object();
  for (const auto& [asn, count] : truth.networks) {
    networks[fmt::format("AS{}", asn)] = {{"intercepted_measurements", count}, {"measurements", truth.network_measurements.at(asn)}};
  }
  ordered_json sources = ordered_json::object();
  for (const auto& [name, counts] : truth.sources) sources[name] = {{"records", counts.records}, {"intercepted", counts.intercepted}};
  return {{"measurements", truth.measurements}, {"handshakes", truth.handshakes}, {"malformed", truth.malformed},
          {"files", truth.files}, {"issuers", issuers}, {"domains", counts_json(truth.domains)}, {"networks", networks},
          {"countries", counts_json(truth.countries)}, {"categories", counts_json(truth.categories)}, {"sources", sources}};
}

}  // namespace mitmscope::lab
