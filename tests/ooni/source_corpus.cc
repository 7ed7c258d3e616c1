// source_corpus: one interception campaign written in every public format besides OONI's (RIPE Atlas sslcert,
// Censored Planet Hyperquack v1 and v2, Satellite page fetches, ZGrab2; lab/source_records), gzip'd
// JSON Lines, with the ground truth the `ooni` command must recover exactly, for tests/e2e/sources_test.sh and
// bench/sources_bench.sh.
//
// The campaign: an interception root (written to known-roots/ as the registry) with one intermediate forges
// certificates for 12 targeted domains; one record in 25 is forged, the rest are clean answers under a public CA
// (trust/public-root.pem) for 200 other domains. Records come from 2,000 vantage points in 20 networks (pfx2as.txt maps them to ASes), over
// 2022. Hyperquack keeps only the leaf, as the real data does; the other sources keep the chain.
//
// Layout: OUT/<source>/part-NN.jsonl.gz (kParts files per source, as the data sets publish them: per day, per
// scan, per shard), OUT/known-roots/, OUT/trust/public-root.pem, OUT/pfx2as.txt,
// OUT/ground-truth.json ({"<source>": {"records", "intercepted", "domains", "networks"}}).
#include <libdeflate.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "lab/pki.h"
#include "lab/source_records.h"

namespace {

using namespace mitmscope;
using lab::RecordFormat;
using lab::SourceRecord;

constexpr size_t kTargeted = 12, kClean = 200, kNetworks = 20, kForgedEvery = 25, kParts = 8, kVantages = 2000;

lab::Identity must(Result<lab::Identity> identity) {
  if (!identity) {
    fmt::print(stderr, "source_corpus: {}\n", identity.error().message);
    std::exit(1);
  }
  return std::move(*identity);
}

lab::CertificateSpec spec_for(const std::string& name, bool ca) {
  lab::CertificateSpec spec;
  spec.subject = {{"CN", name}};
  if (!ca) spec.dns_names = {name};
  spec.is_ca = ca;
  spec.not_before = parse_utc("2021-01-01").value();
  spec.not_after = parse_utc("2030-01-01").value();
  return spec;
}

struct Pki {
  lab::Identity public_root, public_ca, interception_root, intermediate;
  std::vector<std::string> clean_chains_leaf, forged_leaf;   // base64
  std::string public_ca_b64, intermediate_b64;
};

Pki make_pki() {
  const lab::KeySpec ec{lab::KeySpec::Type::kEcP256};
  auto root = [&](const char* name) { return must(lab::make_identity(spec_for(name, true), ec, nullptr)); };
  Pki pki{root("Source Corpus Public Root"), root("unused"), root("Source Corpus Interception Root"), root("unused")};
  pki.public_ca = must(lab::make_identity(spec_for("Source Corpus Public CA", true), ec, &pki.public_root));
  pki.intermediate = must(lab::make_identity(spec_for("Security Certificate", true), ec, &pki.interception_root));
  pki.public_ca_b64 = base64_encode(pki.public_ca.certificate.der());
  pki.intermediate_b64 = base64_encode(pki.intermediate.certificate.der());
  for (size_t i = 0; i < kClean; ++i) {
    auto leaf = must(lab::make_identity(spec_for(fmt::format("www.site{}.example", i), false), ec, &pki.public_ca));
    pki.clean_chains_leaf.push_back(base64_encode(leaf.certificate.der()));
  }
  for (size_t i = 0; i < kTargeted; ++i) {
    auto leaf = must(lab::make_identity(spec_for(fmt::format("target{}.example", i), false), ec, &pki.intermediate));
    pki.forged_leaf.push_back(base64_encode(leaf.certificate.der()));
  }
  return pki;
}

bool write(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream file(path, std::ios::binary);
  file << bytes;
  return static_cast<bool>(file);
}

std::string gzip(const std::string& text) {
  libdeflate_compressor* compressor = libdeflate_alloc_compressor(6);
  std::string out(libdeflate_gzip_compress_bound(compressor, text.size()), '\0');
  out.resize(libdeflate_gzip_compress(compressor, text.data(), text.size(), out.data(), out.size()));
  libdeflate_free_compressor(compressor);
  return out;
}

SourceRecord record_at(const Pki& pki, size_t i, size_t records) {
  const bool forged = i % kForgedEvery == 0;
  const size_t domain = forged ? (i / kForgedEvery) % kTargeted : i % kClean;
  SourceRecord record;
  const auto from = parse_utc("2022-01-01").value();
  record.time = from + std::chrono::seconds{static_cast<int64_t>(i * (365 * 86400ull) / std::max<size_t>(records, 1))};
  // 2,000 vantage points (probes, servers, hosts) per source, as a real scan's few thousand, each seen many times.
  const size_t vantage = i % kVantages;
  record.vantage_ip = fmt::format("10.{}.{}.{}", 16 + vantage % kNetworks, vantage / kNetworks / 250, 1 + vantage / kNetworks % 250);
  record.server_ip = fmt::format("198.51.100.{}", 1 + domain % 250);
  record.country = "KZ";
  record.sni = forged ? fmt::format("target{}.example", domain) : fmt::format("www.site{}.example", domain);
  record.chain = forged ? std::vector{pki.forged_leaf[domain], pki.intermediate_b64}
                        : std::vector{pki.clean_chains_leaf[domain], pki.public_ca_b64};
  record.matches_template = !forged;
  record.probe = static_cast<int>(10000 + i % kVantages);
  return record;
}

int run(const std::string& out, size_t records) {
  const Pki pki = make_pki();
  const std::filesystem::path directory(out);
  nlohmann::ordered_json registry = {{"format", "mitmscope-known-interceptors/1"},
                                     {"entries", {{{"id", "corpus-root"}, {"file", "root.pem"}, {"name", "Source Corpus Interception Root"},
                                                   {"country", "KZ"}, {"kind", "root"}}}}};
  std::string pfx2as;
  for (size_t network = 0; network < kNetworks; ++network) pfx2as += fmt::format("10.{}.0.0\t16\t{}\n", 16 + network, 64600 + network);
  if (!write(directory / "known-roots" / "root.pem", lab::certificate_pem(pki.interception_root.certificate)) ||
      !write(directory / "known-roots" / "registry.json", registry.dump(1) + "\n") ||
      !write(directory / "trust" / "public-root.pem", lab::certificate_pem(pki.public_root.certificate)) ||
      !write(directory / "pfx2as.txt", pfx2as)) {
    fmt::print(stderr, "source_corpus: cannot write under {}\n", out);
    return 1;
  }
  nlohmann::ordered_json truth = nlohmann::ordered_json::object();
  for (size_t f = 0; f < std::size(lab::kEveryRecordFormat); ++f) {
    const RecordFormat format = lab::kEveryRecordFormat[f];
    std::vector<std::string> parts(kParts);
    size_t intercepted = 0;
    std::set<std::string> domains;
    std::set<size_t> networks;
    for (size_t i = 0; i < records; ++i) {
      const SourceRecord record = record_at(pki, i, records);
      parts[i * kParts / std::max<size_t>(records, 1)] += lab::record_json(format, record).dump() + "\n";
      if (i % kForgedEvery != 0) continue;
      ++intercepted;
      domains.insert(record.sni);
      networks.insert(64600 + i % kNetworks);
    }
    // Hyperquack keeps the leaf alone and validates nothing: read alone, its forged leaves are inconclusive
    // (lone_leaf); read with a chain source of the same campaign they are attributed (the `forged` count).
    const bool leaf_only = format == RecordFormat::kHyperquackV1 || format == RecordFormat::kHyperquackV2;
    truth[std::string(lab::record_format_name(format))] = {{"records", records}, {"intercepted", leaf_only ? 0 : intercepted},
                              {"domains", leaf_only ? 0 : domains.size()}, {"networks", leaf_only ? 0 : networks.size()},
                              {"forged", intercepted}};
    for (size_t part = 0; part < kParts; ++part) {
      if (parts[part].empty()) continue;
      if (!write(directory / lab::record_format_name(format) / fmt::format("part-{:02}.jsonl.gz", part), gzip(parts[part]))) return 1;
    }
  }
  return write(directory / "ground-truth.json", truth.dump(1) + "\n") ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: source_corpus OUT_DIR RECORDS_PER_SOURCE\n");
    return 2;
  }
  return run(argv[1], std::stoul(argv[2]));
}
