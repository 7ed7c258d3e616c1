// Store benchmarks (Google Benchmark): ingest of a synthetic campaign through the Store interface
// (observations per second), then the report's tables over it (seconds), for each store given.
//   MITMSCOPE_BENCH_STORES  ';'-separated --store arguments (SQLite path, clickhouse://...)
//   MITMSCOPE_BENCH_ROWS    observations (default 10,000,000): rounds of 10,000 hosts x 10 domains
// The campaign: 10% of hosts intercepted on 5 of the 10 domains, seven intermediates each used for a
// seventh of the rounds (the last ones also after they expired), rounds 10 minutes apart, JSON results
// shaped like scan's (~700 bytes), certificates shared as in reality (one forged leaf per domain and
// intermediate, one genuine leaf per domain). Run by bench/store_bench.sh, which starts ClickHouse.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "report/campaign_report.h"
#include "store/store.h"

namespace mitmscope {
namespace {

constexpr size_t kHosts = 10000, kDomains = 10, kBatch = 10000, kIntermediates = 7;

std::vector<uint8_t> fake_der(size_t seed) {
  std::mt19937_64 random(seed);
  std::vector<uint8_t> der(1100);
  for (auto& byte : der) byte = static_cast<uint8_t>(random());
  der[0] = 0x30;
  return der;
}

std::string sha(std::string_view kind, size_t a, size_t b = 0) { return fmt::format("{:0>64}", fmt::format("{}{}x{}", kind, a, b)); }

struct Campaign {
  size_t rounds;
  std::vector<std::vector<uint8_t>> ders;   // a small pool: the bytes do not matter, the sizes do
  std::string domain(size_t d) const { return fmt::format("site{}.example.kz", d); }
  std::string time(size_t round, size_t host) const {
    const long seconds = 1563408000L + static_cast<long>(round) * 600 + static_cast<long>(host % 300);
    const time_t t = seconds;
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  StoredResult result(size_t round, size_t host, size_t d) const {
    const bool intercepted = host % 10 == 0 && d < 5;
    const size_t intermediate = round * kIntermediates / rounds;
    StoredResult out;
    out.ip = fmt::format("10.{}.{}.{}", host >> 16 & 255, host >> 8 & 255, host & 255);
    out.port = 443;
    out.sni = domain(d);
    out.time = time(round, host);
    out.verdict = intercepted ? "intercepted" : "clean";
    const std::string leaf = intercepted ? sha("forged", d, intermediate) : sha("genuine", d);
    const std::string issuer = intercepted ? sha("intermediate", intermediate) : sha("publicca", 0);
    out.certificates = {{leaf, ders[(intercepted ? 100 + d * 10 + intermediate : d) % ders.size()]},
                        {issuer, ders[(intercepted ? 200 + intermediate : 300) % ders.size()]}};
    out.result_json = fmt::format(
        R"({{"ip":"{}","port":443,"sni":"{}","timestamp":"{}","handshake_complete":true,"server_hello":{{"version":{{"name":"TLSv1.2"}},"cipher_suite":{{"name":"ECDHE-RSA-AES128-GCM-SHA256"}},"ja3s":"15af977ce25de452b96affa2addb1036"}},"server_certificates":{{"certificate":{{"sha256":"{}","issuer":"{}"}},"length":2}},"verdict":"{}","interception":{{"verdict":"{}","known_interceptor":{}}},"forging":{}}})",
        out.ip, out.sni, out.time, leaf, intercepted ? "C=KZ, CN=Security Certificate" : "C=US, O=Lab CA", out.verdict,
        intercepted ? "intercepted" : "trusted", intercepted ? R"({"id":"qaznet-2019"})" : "null",
        intercepted ? R"({"presented_issuer":"C=KZ, CN=Security Certificate","not_before_shift_hours":-6.0,"not_after_shift_hours":-6.0,"serial_bits":127,"serial_leading_bits_kept":95,"serial_trailing_bits_differing":32,"serial_length_changed":false,"presented_key":{"type":"RSA","bits":2048,"exponent":"3"},"extensions_dropped":["keyUsage","extendedKeyUsage"]})"
                    : "null");
    out.facts.outcome = intercepted ? Outcome::kIntercepted : Outcome::kNotIntercepted;
    out.facts.networks = {"AS9198"};
    out.facts.issuer = intercepted ? "C=KZ, CN=Security Certificate" : "C=US, O=Lab CA";
    out.facts.ja3s = "15af977ce25de452b96affa2addb1036";
    if (intercepted) {
      out.facts.interceptor = "qaznet-2019";
      out.facts.forging = ForgingFacts{-6.0, -6.0, 95, 32, false, "RSA", 2048, "3", {"keyUsage", "extendedKeyUsage"}};
    }
    return out;
  }
  ScanTally tally() const {
    return {ScanSource::kScan, kHosts, kHosts, kHosts * kDomains, kHosts / 10,
            {{TallyKind::kTag, "AS9198", "", kHosts, kHosts, kHosts / 10},
             {TallyKind::kDomain, "site0.example.kz", "", 0, 0, kHosts / 10},
             {TallyKind::kDomain, "site1.example.kz", "", 0, 0, kHosts / 10}}};
  }
  std::string summary() const {
    return fmt::format(R"({{"hosts":{0},"eligible":{0},"intercepted_hosts":{1},"intercepted_share":0.1,"per_tag":{{"AS9198":{{"hosts":{0},"eligible":{0},"intercepted":{1}}}}},"intercepted_hosts_per_domain":{{"site0.example.kz":{1},"site1.example.kz":{1}}}}})",
                       kHosts, kHosts / 10);
  }
};

size_t rows_wanted() {
  const char* text = std::getenv("MITMSCOPE_BENCH_ROWS");
  return text ? std::strtoull(text, nullptr, 10) : 10'000'000;
}

void ingest(benchmark::State& state, const std::string& spec) {
  const size_t rows = rows_wanted();
  Campaign campaign{std::max<size_t>(1, rows / (kHosts * kDomains)), {}};
  for (size_t i = 0; i < 400; ++i) campaign.ders.push_back(fake_der(i));
  for (auto _ : state) {
    auto store = open_store(spec);
    if (!store) {
      state.SkipWithError(store.error().message.c_str());
      return;
    }
    size_t stored = 0;
    std::vector<StoredResult> batch;
    batch.reserve(kBatch);
    for (size_t round = 0; round < campaign.rounds; ++round) {
      auto scan = (*store)->begin_scan(fmt::format(R"({{"bench":{}}})", round), false);
      if (!scan) return state.SkipWithError(scan.error().message.c_str());
      for (size_t host = 0; host < kHosts; ++host) {
        for (size_t d = 0; d < kDomains; ++d) {
          // Making the synthetic result is not the store's work: not timed.
          if (batch.empty()) state.PauseTiming();
          batch.push_back(campaign.result(round, host, d));
          if (batch.size() == kBatch) state.ResumeTiming();
          if (batch.size() == kBatch) {
            if (auto added = (*store)->add_results(scan->id, batch); !added) return state.SkipWithError(added.error().message.c_str());
            stored += batch.size();
            batch.clear();
          }
        }
      }
      if (!batch.empty()) {
        state.ResumeTiming();
        if (auto added = (*store)->add_results(scan->id, batch); !added) return state.SkipWithError(added.error().message.c_str());
        stored += batch.size();
        batch.clear();
      }
      if (auto finished = (*store)->finish_scan(scan->id, campaign.tally(), campaign.summary()); !finished) {
        return state.SkipWithError(finished.error().message.c_str());
      }
    }
    state.counters["observations"] = static_cast<double>(stored);
    state.SetItemsProcessed(static_cast<int64_t>(stored));
  }
}

void report(benchmark::State& state, const std::string& spec) {
  auto store = open_store(spec);
  if (!store) return state.SkipWithError(store.error().message.c_str());
  for (auto _ : state) {
    auto tables = build_report_tables(**store);
    if (!tables) return state.SkipWithError(tables.error().message.c_str());
    size_t issuers = 0;
    for (const auto& table : *tables) {
      if (table.name == "intermediates") issuers = table.rows.size();
    }
    state.counters["intermediates"] = static_cast<double>(issuers);
  }
  auto counts = (*store)->counts();
  if (counts) state.counters["observations"] = static_cast<double>(counts->at("results"));
}

}  // namespace
}  // namespace mitmscope

int main(int argc, char** argv) {
  const char* stores = std::getenv("MITMSCOPE_BENCH_STORES");
  if (!stores) {
    fmt::print(stderr, "store_bench: set MITMSCOPE_BENCH_STORES (see bench/store_bench.sh)\n");
    return 2;
  }
  std::stringstream list(stores);
  std::vector<std::string> specs;
  for (std::string spec; std::getline(list, spec, ';');) {
    if (!spec.empty()) specs.push_back(spec);
  }
  // All ingests first, then every report over what was ingested.
  for (const auto& spec : specs) {
    benchmark::RegisterBenchmark(("ingest/" + spec).c_str(), mitmscope::ingest, spec)
        ->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
  }
  for (const auto& spec : specs) {
    benchmark::RegisterBenchmark(("report/" + spec).c_str(), mitmscope::report, spec)
        ->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
