// ooni_corpus: writes web_connectivity measurements shaped like OONI's real ones (the samples in
// tests/data/ooni-samples) from the lab's kz-2021 scenario, with the ground truth the `ooni`
// analysis must recover exactly.
//
// The scenario gives the targeted domains, the 19 networks and the intermediates' names; the
// intermediates' validity windows are BRIEF's real ones (75 days each, 2021 to 2024) and their
// roots follow BRIEF too: five test roots named "Information Security Certification Authority",
// four of them written to known-roots/ (the registry the analysis gets) and one not, so two
// intermediates have an unknown root. Intermediates are used past their expiry, into the gaps.
// Probes without the root archive only the leaf (ssl_unknown_authority); probes with it installed
// archive the whole chain (success) or the leaf alone once the intermediate expired
// (ssl_invalid_certificate). Mixed in: clean traffic from several countries, plain-HTTP
// measurements, connection resets, and the traps that are not interception (a pinned self-signed
// service, an expired server certificate, a server with another name's certificate, a DNS
// blockpage under one issuer for many domains, a private CA on one domain), and, on request,
// malformed lines and a truncated file.
//
// Layout: OUT/raw/YYYYMMDD/00/CC/webconnectivity/*.jsonl.gz (one file per day and country),
// OUT/known-roots/ (PEM + registry.json), OUT/trust/public-root.pem (the clean traffic's Web
// PKI), OUT/ground-truth.json.
#include <libdeflate.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/time.h"
#include "lab/pki.h"
#include "lab/scenario.h"
#include "report/json_output.h"

namespace {

using namespace mitmscope;
using nlohmann::ordered_json;

struct Options {
  std::string out;
  size_t measurements = 20000;
  uint64_t seed = 1;
  size_t malformed = 0;        // malformed lines spread over the files
  bool damaged = false;        // one more file, truncated in the middle of its gzip stream
  std::string from = "2021-06-01", to = "2024-12-01";
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
  std::optional<lab::Identity> public_root, public_intermediate, blockpage_ca, private_ca, signal_ca;
  std::vector<lab::Identity> roots;
  std::vector<lab::Identity> intermediates;
  std::map<std::string, std::string> genuine;                        // domain -> base64 leaf
  std::map<std::pair<size_t, std::string>, std::string> forged;      // (intermediate, domain) -> base64 leaf
  std::map<std::string, std::string> blockpage;                      // domain -> base64 leaf
  std::string public_intermediate_b64, signal_ca_b64, signal_leaf_b64, expired_leaf_b64, mismatch_leaf_b64, private_leaf_b64;
  std::vector<std::string> intermediate_b64;
  std::map<std::string, std::string> address;                        // domain -> "ip"
  std::vector<std::string> targeted;
  std::vector<Network> kz_networks;
};

std::string b64(const Certificate& certificate) { return base64_encode(certificate.der()); }

lab::Identity must(Result<lab::Identity> identity) {
  if (!identity) {
    fmt::print(stderr, "ooni_corpus: {}\n", identity.error().message);
    std::exit(1);
  }
  return std::move(*identity);
}

Certificate must_certificate(Result<Certificate> certificate) {
  if (!certificate) {
    fmt::print(stderr, "ooni_corpus: {}\n", certificate.error().message);
    std::exit(1);
  }
  return std::move(*certificate);
}

lab::CertificateSpec leaf_spec(const std::string& name, Interval validity) {
  lab::CertificateSpec spec;
  spec.subject = {{"CN", name}};
  spec.dns_names = {name};
  spec.not_before = validity.from;
  spec.not_after = validity.to;
  return spec;
}

lab::CertificateSpec ca_spec(lab::Subject subject, Interval validity) {
  lab::CertificateSpec spec;
  spec.subject = std::move(subject);
  spec.is_ca = true;
  spec.not_before = validity.from;
  spec.not_after = validity.to;
  return spec;
}

Corpus build_corpus(const lab::Scenario& scenario) {
  Corpus corpus;
  const lab::KeySpec rsa{lab::KeySpec::Type::kRsa, 2048, 65537};
  const lab::KeySpec ec{lab::KeySpec::Type::kEcP256};
  const Interval long_ago{day("2019-01-01"), day("2034-01-01")};
  corpus.public_root = must(lab::make_identity(ca_spec({{"C", "US"}, {"O", "mitmscope lab"}, {"CN", "Lab Public Root CA"}}, long_ago), ec, nullptr));
  corpus.public_intermediate = must(lab::make_identity(
      ca_spec({{"C", "US"}, {"O", "mitmscope lab"}, {"CN", "Lab Public TLS CA 1"}}, long_ago), ec, &*corpus.public_root));
  corpus.public_intermediate_b64 = b64(corpus.public_intermediate->certificate);
  // Interception roots share one name, as the real ISCA roots do.
  for (int i = 0; i < kRoots; ++i) {
    corpus.roots.push_back(must(lab::make_identity(
        ca_spec(scenario.issuer.root_subject, {day("2020-01-01"), day("2040-01-01")}), rsa, nullptr)));
  }
  for (size_t i = 0; i < std::size(kIntermediates); ++i) {
    const auto& plan = kIntermediates[i];
    lab::Subject subject = i < scenario.issuer.intermediates.size()
                               ? scenario.issuer.intermediates[i].subject
                               : lab::Subject{{"C", "KZ"}, {"CN", fmt::format("ISCA Intermediate {}", i + 1)}};
    corpus.intermediates.push_back(must(lab::make_identity(ca_spec(subject, plan.validity), rsa, &corpus.roots[static_cast<size_t>(plan.root)])));
    corpus.intermediate_b64.push_back(b64(corpus.intermediates.back().certificate));
  }
  // One key for every leaf: only the signatures differ, which is what the analysis reads.
  auto leaf_key = lab::generate_key(ec);
  auto forged_key = lab::generate_key(rsa);
  if (!leaf_key || !forged_key) std::exit(1);
  corpus.targeted = scenario.targeted_domains;
  std::vector<std::string> all_domains(corpus.targeted);
  for (const char* domain : kCleanDomains) all_domains.push_back(domain);
  uint32_t host = 1;
  for (const auto& domain : all_domains) {
    corpus.address[domain] = fmt::format("198.51.{}.{}", 100 + host / 250, host % 250 + 1);
    ++host;
    corpus.genuine[domain] = b64(must_certificate(
        lab::issue_certificate(leaf_spec(domain, long_ago), leaf_key->get(), &*corpus.public_intermediate)));
  }
  for (size_t i = 0; i < corpus.intermediates.size(); ++i) {
    for (const auto& domain : corpus.targeted) {
      corpus.forged[{i, domain}] = b64(must_certificate(
          lab::issue_certificate(leaf_spec(domain, kIntermediates[i].validity), forged_key->get(), &corpus.intermediates[i])));
    }
  }
  corpus.blockpage_ca = must(lab::make_identity(ca_spec({{"CN", "Blockpage Authority"}}, long_ago), ec, nullptr));
  for (const char* domain : kBlockpageDomains) {
    corpus.blockpage[domain] = b64(must_certificate(lab::issue_certificate(leaf_spec(domain, long_ago), leaf_key->get(), &*corpus.blockpage_ca)));
  }
  corpus.signal_ca = must(lab::make_identity(
      ca_spec({{"C", "US"}, {"O", "Signal Messenger (mitmscope lab)"}, {"CN", "Signal Messenger"}}, long_ago), ec, nullptr));
  corpus.signal_ca_b64 = b64(corpus.signal_ca->certificate);
  corpus.signal_leaf_b64 = b64(must_certificate(lab::issue_certificate(leaf_spec("api.directory.signal.org", long_ago), leaf_key->get(), &*corpus.signal_ca)));
  corpus.expired_leaf_b64 = b64(must_certificate(lab::issue_certificate(
      leaf_spec("www.expired-site.ir", {day("2019-01-01"), day("2020-01-01")}), leaf_key->get(), &*corpus.public_intermediate)));
  corpus.mismatch_leaf_b64 = b64(must_certificate(
      lab::issue_certificate(leaf_spec("hosting-default.de", long_ago), leaf_key->get(), &*corpus.public_intermediate)));
  corpus.private_ca = must(lab::make_identity(ca_spec({{"O", "Example Corp"}, {"CN", "Example Corp Private CA"}}, long_ago), ec, nullptr));
  corpus.private_leaf_b64 = b64(must_certificate(
      lab::issue_certificate(leaf_spec("portal.example-corp.de", long_ago), leaf_key->get(), &*corpus.private_ca)));
  for (const char* domain : {"www.expired-site.ir", "www.mismatch-site.de", "portal.example-corp.de"}) {
    corpus.address[domain] = fmt::format("203.0.113.{}", ++host % 250 + 1);
  }
  for (const auto& as : scenario.ases) corpus.kz_networks.push_back({as.asn, as.name, true});
  corpus.kz_networks.push_back({21282, "Kcell JSC (no interception)", false});
  corpus.kz_networks.push_back({35168, "Alfa Telecom (no interception)", false});
  return corpus;
}

// What the analysis must find.
struct Truth {
  struct IssuerTruth {
    size_t count = 0;
    std::string first, last;
    size_t before = 0, after = 0;
    std::set<std::string> domains;
    std::set<uint32_t> networks;
  };
  std::map<size_t, IssuerTruth> issuers;
  std::map<std::string, size_t> domains;               // intercepted handshakes
  std::map<uint32_t, size_t> networks;                 // intercepted measurements
  std::map<uint32_t, size_t> network_measurements;     // all measurements
  std::map<std::string, size_t> countries;             // intercepted measurements
  std::map<std::string, size_t> categories;            // verdict/category -> handshakes
  size_t measurements = 0, handshakes = 0, malformed = 0, files = 0;
};

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
};

std::string format_start(UtcSeconds time) {
  std::string text = format_utc(time);
  return text.substr(0, 10) + " " + text.substr(11, 8);
}

void write_measurement(std::string& out, const Measurement& m, std::mt19937_64& random) {
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
  out += R"(],"tls_handshakes":[)";
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
  const bool https = m.input.starts_with("https://");
  if (m.test_name == "web_connectivity") {
    fmt::format_to(std::back_inserter(out),
                   R"("requests":[{{"failure":{},"request":{{"body":"","body_is_truncated":false,"headers":{{"Accept":"text/html,application/xhtml+xml",)"
                   R"("Accept-Language":"en-US;q=0.8,en;q=0.5","User-Agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"}},)"
                   R"("method":"GET","tor":{{"exit_ip":null,"exit_name":null,"is_tor":false}},"x_transport":"tcp","url":{}}},)"
                   R"("response":{{"body":"<!DOCTYPE html><html><head><title>Example</title></head><body><p>{}</p></body></html>",)"
                   R"("body_is_truncated":false,"code":200,"headers":{{"Content-Type":"text/html; charset=utf-8","Server":"nginx"}}}},"t":0.41}}],)",
                   m.handshakes.empty() || m.handshakes[0].failure.empty() ? "null" : "\"" + m.handshakes[0].failure + "\"",
                   m.input.empty() ? "null" : "\"" + m.input + "\"", std::string(120 + random() % 240, 'x'));
  }
  if (m.has_control) {
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

class Generator {
 public:
  Generator(const Options& options, const Corpus& corpus) : options_(options), corpus_(corpus), random_(options.seed) {}

  void count(const std::string& category, size_t n = 1) { truth_.categories[category] += n; }

  double uniform() { return std::uniform_real_distribution<double>(0, 1)(random_); }
  size_t pick(size_t n) { return static_cast<size_t>(random_() % n); }

  // https://DOMAIN/ measured at the domain's own address (DNS consistent), with the control's view of it.
  void https(Measurement& m, const std::string& domain, const std::string& failure,
             std::vector<const std::string*> certificates, const std::string& control_failure = "") {
    const std::string ip = corpus_.address.at(domain);
    m.input = "https://" + domain + "/";
    m.answers = {{domain, ip}};
    m.control_addresses = {ip};
    m.handshakes.push_back({ip + ":443", domain, failure, std::move(certificates)});
    m.control_tls.push_back({ip + ":443", domain, control_failure, control_failure.empty()});
  }

  // A clean handshake to a domain with its genuine chain.
  void clean(Measurement& m, const std::string& domain) {
    https(m, domain, "", {&corpus_.genuine.at(domain), &corpus_.public_intermediate_b64});
    count("clean");
  }

  void kz(Measurement& m) {
    const auto& network = corpus_.kz_networks[pick(corpus_.kz_networks.size()) % corpus_.kz_networks.size()];
    m.cc = "KZ";
    m.asn = network.asn;
    m.network = network.name;
    const double kind = uniform();
    if (kind < 0.35) {  // plain HTTP: no TLS handshake at all
      const std::string domain = kCleanDomains[pick(std::size(kCleanDomains))];
      m.input = "http://" + domain + "/";
      m.answers = {{domain, corpus_.address.at(domain)}};
      m.control_addresses = {corpus_.address.at(domain)};
      return;
    }
    if (kind < 0.38) {  // throttled: reset before any certificate
      https(m, kCleanDomains[pick(std::size(kCleanDomains))], "connection_reset", {});
      count("failed");
      return;
    }
    if (kind < 0.70) {
      clean(m, kCleanDomains[pick(std::size(kCleanDomains))]);
      return;
    }
    const std::string& domain = corpus_.targeted[pick(corpus_.targeted.size())];
    std::optional<size_t> active;
    for (size_t i = 0; i < std::size(kIntermediates); ++i) {
      if (m.time >= kIntermediates[i].used.from && m.time < kIntermediates[i].used.to + std::chrono::days{1}) active = i;
    }
    if (!network.intercepting || !active || uniform() < 0.1) {
      clean(m, domain);
      return;
    }
    const size_t i = *active;
    const auto& plan = kIntermediates[i];
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
    count(plan.root == kUnknownRoot ? "intercepted/forging_ca" : "intercepted/known_interceptor");
    auto& issuer = truth_.issuers[i];
    ++issuer.count;
    const std::string when = iso(m.time);
    if (issuer.first.empty() || when < issuer.first) issuer.first = when;
    if (issuer.last.empty() || when > issuer.last) issuer.last = when;
    if (m.time < plan.validity.from) ++issuer.before;
    if (m.time > plan.validity.to) ++issuer.after;
    issuer.domains.insert(domain);
    issuer.networks.insert(m.asn);
    ++truth_.domains[domain];
    ++truth_.networks[m.asn];
    ++truth_.countries["KZ"];
  }

  void elsewhere(Measurement& m) {
    static const std::pair<const char*, std::pair<uint32_t, const char*>> kCountries[] = {
        {"IT", {30722, "Vodafone Italia S.p.A."}}, {"DE", {3320, "Deutsche Telekom AG"}}, {"US", {7922, "Comcast Cable"}},
        {"AM", {44395, "Ucom CJSC"}}, {"IR", {197207, "Mobile Communication Company of Iran PLC"}}};
    const auto& [cc, network] = kCountries[pick(std::size(kCountries))];
    m.cc = cc;
    m.asn = network.first;
    m.network = network.second;
    const std::string country = cc;
    const double trap = uniform();
    if (country == "AM" && trap < 0.3) {  // the Signal test: its own pinned CA, no control
      m.test_name = "signal";
      m.has_control = false;
      for (const char* host : kSignalHosts) m.handshakes.push_back({"", host, "ssl_unknown_authority", {&corpus_.signal_ca_b64}});
      m.handshakes.push_back({"", "api.directory.signal.org", "", {&corpus_.signal_leaf_b64}});
      count("not_intercepted/self_signed_service", std::size(kSignalHosts));
      count("not_intercepted/pinned_by_test");
      return;
    }
    if (country == "IR" && trap < 0.2) {  // an expired server certificate, which the control sees too
      https(m, "www.expired-site.ir", "ssl_invalid_certificate", {&corpus_.expired_leaf_b64}, "ssl_invalid_certificate");
      count("not_intercepted/server_certificate_invalid");
      return;
    }
    if (country == "IR" && trap < 0.4) {  // a DNS blockpage: one issuer for many domains, but DNS disagreed
      const std::string domain = kBlockpageDomains[pick(std::size(kBlockpageDomains))];
      const std::string real = corpus_.address.count(domain) ? corpus_.address.at(domain) : "198.51.100.250";
      m.input = "https://" + domain + "/";
      m.answers = {{domain, "10.10.34.35"}};
      m.control_addresses = {real};
      m.dns_consistency = "inconsistent";
      m.handshakes.push_back({"10.10.34.35:443", domain, "ssl_unknown_authority", {&corpus_.blockpage.at(domain)}});
      m.control_tls.push_back({real + ":443", domain, "", true});
      count("not_intercepted/dns_inconsistent");
      return;
    }
    if (country == "DE" && trap < 0.1) {  // a server answering with another name's certificate
      https(m, "www.mismatch-site.de", "ssl_invalid_hostname", {&corpus_.mismatch_leaf_b64}, "ssl_invalid_hostname");
      count("not_intercepted/server_hostname_mismatch");
      return;
    }
    if (country == "DE" && trap < 0.15) {  // a private CA on one domain: untrusted, but no forging pattern
      https(m, "portal.example-corp.de", "ssl_unknown_authority", {&corpus_.private_leaf_b64});
      count("inconclusive/issuer_on_few_domains");
      return;
    }
    if (trap < 0.5) {
      const std::string domain = kCleanDomains[pick(std::size(kCleanDomains))];
      m.input = "http://" + domain + "/";
      m.answers = {{domain, corpus_.address.at(domain)}};
      m.control_addresses = {corpus_.address.at(domain)};
      return;
    }
    const std::string domain = kCleanDomains[pick(std::size(kCleanDomains))];
    clean(m, domain);
    if (uniform() < 0.2) {  // a second address of the same site
      const std::string ip = corpus_.address.at(domain);
      m.handshakes.push_back({ip.substr(0, ip.rfind('.')) + ".251:443", domain, "", m.handshakes[0].certificates});
      m.control_addresses.push_back(ip.substr(0, ip.rfind('.')) + ".251");
      m.control_tls.push_back({m.handshakes.back().address, domain, "", true});
      count("clean");
    }
  }

  Result<void> run() {
    const UtcSeconds from = day(options_.from), to = day(options_.to);
    const int64_t days = std::chrono::duration_cast<std::chrono::days>(to - from).count();
    const double per_day = static_cast<double>(options_.measurements) / static_cast<double>(days);
    size_t written = 0;
    double owed = 0;
    std::vector<std::string> malformed_lines = {
        "{\"measurement_start_time\": \"2022-01-01 00:00:00\", \"probe_cc\": \"KZ\", \"test_keys\": {\"tls_handshakes\": [",
        [] {
          static constexpr char kBinary[] = "\x1f\x8b\x08\x00garbage\xff\xfe binary";
          return std::string(kBinary, sizeof kBinary - 1);  // the NUL inside is part of it
        }(),
        R"({"measurement_start_time": 12, "probe_cc": "KZ", "test_keys": {}})",
        R"({"measurement_start_time": "2022-01-01 00:00:00", "probe_cc": "KZ", "test_keys": {"tls_handshakes": [{"peer_certificates": [{"data": 5}]}]}})",
        R"(["a JSON array, not a measurement"])",
    };
    size_t malformed_left = options_.malformed;
    for (int64_t d = 0; d < days; ++d) {
      owed += per_day;
      size_t today = static_cast<size_t>(owed);
      owed -= static_cast<double>(today);
      if (d == days - 1) today = options_.measurements - written;
      if (today == 0) continue;
      std::map<std::string, std::string> files;  // country -> lines
      std::vector<Measurement> measurements(today);
      for (auto& m : measurements) {
        m.time = from + std::chrono::days{d} + std::chrono::seconds{static_cast<int64_t>(random_() % 86400)};
      }
      std::sort(measurements.begin(), measurements.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
      for (auto& m : measurements) {
        if (uniform() < 0.6) {
          kz(m);
        } else {
          elsewhere(m);
        }
        ++truth_.network_measurements[m.asn];
        write_measurement(files[m.cc], m, random_);
        ++truth_.measurements;
        truth_.handshakes += m.handshakes.size();
      }
      written += today;
      for (auto& [country, lines] : files) {
        if (malformed_left > 0 && (d % 7 == 0 || d == days - 1)) {
          lines += malformed_lines[malformed_left % malformed_lines.size()] + "\n";
          --malformed_left;
          ++truth_.malformed;
        }
        const std::string date = format_utc(from + std::chrono::days{d}).substr(0, 10);
        const std::string compact = date.substr(0, 4) + date.substr(5, 2) + date.substr(8, 2);
        const auto path = std::filesystem::path(options_.out) / "raw" / compact / "00" / country / "webconnectivity" /
                          fmt::format("{}00_{}_webconnectivity.n0.0.jsonl.gz", compact, country);
        if (auto ok = write_gzip(path, lines, false); !ok) return ok;
        ++truth_.files;
      }
    }
    if (options_.damaged) {
      // Clean measurements only, cut in the middle: what precedes the damage is read, the rest is reported.
      std::string lines;
      for (int i = 0; i < 200; ++i) {
        Measurement m;
        m.time = from;
        m.cc = "US";
        m.asn = 7922;
        m.network = "Comcast Cable";
        const std::string domain = kCleanDomains[static_cast<size_t>(i) % std::size(kCleanDomains)];
        m.input = "http://" + domain + "/";
        write_measurement(lines, m, random_);
      }
      if (auto ok = write_gzip(std::filesystem::path(options_.out) / "raw" / "damaged" / "damaged.jsonl.gz", lines, true); !ok) return ok;
    }
    return {};
  }

  ordered_json truth_json() const {
    ordered_json issuers = ordered_json::array();
    for (const auto& [index, issuer] : truth_.issuers) {
      const auto& certificate = corpus_.intermediates[index].certificate;
      const int root = kIntermediates[index].root;
      issuers.push_back({{"sha1", certificate.sha1_hex()},
                         {"sha256", certificate.sha256_hex()},
                         {"subject", certificate.subject()},
                         {"root_sha1", root == kUnknownRoot ? "" : corpus_.roots[static_cast<size_t>(root)].certificate.sha1_hex()},
                         {"root", root == kUnknownRoot ? "unknown" : fmt::format("root-{}", root)},
                         {"not_before", iso(kIntermediates[index].validity.from)},
                         {"not_after", iso(kIntermediates[index].validity.to)},
                         {"handshakes", issuer.count},
                         {"first_seen", issuer.first},
                         {"last_seen", issuer.last},
                         {"used_before_validity", issuer.before},
                         {"used_after_validity", issuer.after},
                         {"domains", issuer.domains.size()},
                         {"networks", issuer.networks.size()}});
    }
    ordered_json domains = ordered_json::object();
    for (const auto& [domain, count] : truth_.domains) domains[domain] = count;
    ordered_json networks = ordered_json::object();
    for (const auto& [asn, count] : truth_.networks) {
      networks[fmt::format("AS{}", asn)] = {{"intercepted_measurements", count}, {"measurements", truth_.network_measurements.at(asn)}};
    }
    ordered_json countries = ordered_json::object();
    for (const auto& [country, count] : truth_.countries) countries[country] = count;
    ordered_json categories = ordered_json::object();
    for (const auto& [category, count] : truth_.categories) categories[category] = count;
    return {{"measurements", truth_.measurements},
            {"handshakes", truth_.handshakes},
            {"malformed", truth_.malformed},
            {"files", truth_.files},
            {"issuers", issuers},
            {"domains", domains},
            {"networks", networks},
            {"countries", countries},
            {"categories", categories}};
  }

 private:
  const Options& options_;
  const Corpus& corpus_;
  std::mt19937_64 random_;
  Truth truth_;
};

Result<void> write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream file(path, std::ios::binary);
  file << text;
  if (!file) return make_error(ErrorCode::kFileUnreadable, path.string());
  return {};
}

int run(const Options& options) {
  auto scenario = lab::load_scenario("kz-2021");
  if (!scenario) {
    fmt::print(stderr, "ooni_corpus: {}\n", scenario.error().message);
    return 1;
  }
  const Corpus corpus = build_corpus(*scenario);
  const std::filesystem::path out(options.out);
  // The registry the analysis is given: roots 0..3 (root 4 stays unknown).
  ordered_json registry = {{"format", "mitmscope-known-interceptors/1"}, {"entries", ordered_json::array()}};
  for (int i = 0; i < kUnknownRoot; ++i) {
    const std::string file = fmt::format("root-{}.pem", i);
    if (auto ok = write_text(out / "known-roots" / file, lab::certificate_pem(corpus.roots[static_cast<size_t>(i)].certificate)); !ok) return 1;
    registry["entries"].push_back({{"id", fmt::format("root-{}", i)},
                                   {"file", file},
                                   {"name", fmt::format("ISCA test root {} (mitmscope lab)", i)},
                                   {"country", "KZ"},
                                   {"kind", "root"}});
  }
  if (auto ok = write_text(out / "known-roots" / "registry.json", registry.dump(1) + "\n"); !ok) return 1;
  if (auto ok = write_text(out / "trust" / "public-root.pem", lab::certificate_pem(corpus.public_root->certificate)); !ok) return 1;
  Generator generator(options, corpus);
  if (auto ok = generator.run(); !ok) {
    fmt::print(stderr, "ooni_corpus: {}\n", ok.error().message);
    return 1;
  }
  if (auto ok = write_text(out / "ground-truth.json", generator.truth_json().dump(1) + "\n"); !ok) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "ooni_corpus: {} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--out") options.out = value();
    else if (arg == "--measurements") options.measurements = std::stoul(value());
    else if (arg == "--seed") options.seed = std::stoull(value());
    else if (arg == "--malformed") options.malformed = std::stoul(value());
    else if (arg == "--damaged") options.damaged = true;
    else if (arg == "--from") options.from = value();
    else if (arg == "--to") options.to = value();
    else {
      fmt::print(stderr, "usage: ooni_corpus --out DIR [--measurements N] [--seed S] [--malformed K] [--damaged] [--from DATE --to DATE]\n");
      return 2;
    }
  }
  if (options.out.empty()) {
    fmt::print(stderr, "ooni_corpus: --out DIR is required\n");
    return 2;
  }
  return run(options);
}
