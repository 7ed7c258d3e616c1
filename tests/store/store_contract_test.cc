// One contract, every store: the same tests run against SQLite, one ClickHouse server, and a
// two-shard ClickHouse cluster. The ClickHouse cases need servers; tests/e2e/clickhouse_test.sh
// starts them (scripts/clickhouse-local.sh), sets MITMSCOPE_TEST_CLICKHOUSE and runs these
// cases, and fails when any is skipped.
#include <atomic>
#include <cstdlib>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include "store/clickhouse_store.h"
#include "store/copy.h"
#include "store/sqlite_store.h"
#include "support/earlier_version.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      auto opened = open_store((directory_.path() / "store.db").string());
      ASSERT_TRUE(opened) << opened.error().message;
      store_ = std::move(*opened);
      return;
    }
    const char* servers = std::getenv("MITMSCOPE_TEST_CLICKHOUSE");
    if (!servers || !*servers) GTEST_SKIP() << "MITMSCOPE_TEST_CLICKHOUSE (HOST:PORT,HOST:PORT) not set";
    store_ = open_clickhouse(servers);
  }

  // A database of its own for every test.
  std::unique_ptr<Store> open_clickhouse(const std::string& servers) {
    static std::atomic<int> counter{0};
    const std::string database = "contract_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    const std::string uri = GetParam() == "clickhouse"
                                ? "clickhouse://" + servers.substr(0, servers.find(',')) + "/" + database
                                : "clickhouse://" + servers + "/" + database + "?cluster=mitmscope_local";
    auto opened = open_store(uri);
    EXPECT_TRUE(opened) << opened.error().message;
    return opened ? std::move(*opened) : nullptr;
  }

  testing::TempDirectory directory_;
  std::unique_ptr<Store> store_;
};

StoredResult result(const std::string& ip, const std::string& sni, const std::string& time, const std::string& verdict,
                    std::vector<std::string> chain) {
  StoredResult out{ip, 443, sni, time, verdict, R"({"ip":")" + ip + R"(","sni":")" + sni + R"("})", {}};
  for (const auto& sha : chain) out.certificates.emplace_back(sha, std::vector<uint8_t>{0x30, 0x03, uint8_t(sha[0]), 0x0a, 0x00});
  return out;
}

TEST_P(StoreContract, RefusesASecondVerdictAndOtherBytesUnderAStoredSha256) {
  ASSERT_TRUE(store_);
  auto scan = store_->begin_scan(R"({"hosts":"invariants"})", false);
  ASSERT_TRUE(scan);
  const auto clean = result("8.8.8.8", "a.com", "2019-07-22T00:00:00Z", "clean", {"aa"});
  ASSERT_TRUE(store_->add_results(scan->id, std::span(&clean, 1)));
  ASSERT_TRUE(store_->add_results(scan->id, std::span(&clean, 1))) << "the same write again (a resume) is no error";
  auto other = clean;
  other.verdict = "intercepted";
  auto refused = store_->add_results(scan->id, std::span(&other, 1));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("one verdict per observation"), std::string::npos) << refused.error().message;
  auto impostor = result("1.1.1.1", "b.com", "2019-07-22T00:00:00Z", "clean", {"aa"});
  impostor.certificates[0].second.push_back(0x01);
  auto collision = store_->add_results(scan->id, std::span(&impostor, 1));
  ASSERT_FALSE(collision);
  EXPECT_NE(collision.error().message.find("same SHA-256"), std::string::npos) << collision.error().message;
  const auto counts = store_->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->at("results"), 1) << "the refused batches left nothing behind";
}

TEST_P(StoreContract, ABatchOfTenThousandResultsWithLongNamesIsStoredAndCheckedWhole) {
  // ooni writes 5,000 results a batch and the store bench 10,000: the invariant checks' key lists alone (here
  // about 1.4 MB) are far over ClickHouse's 256 KiB query limit, so they must be split.
  ASSERT_TRUE(store_);
  auto scan = store_->begin_scan(R"({"hosts":"large batch"})", false);
  ASSERT_TRUE(scan);
  std::vector<StoredResult> batch;
  for (int i = 0; i < 10000; ++i) {
    auto row = result(fmt::format("10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256),
                      fmt::format("{}.example.kz", std::string(100, char('a' + i % 26))), "2019-07-22T00:00:00Z", "clean",
                      {fmt::format("{:064x}", i % 3000)});
    row.measurement = fmt::format("20190722T000000Z_webconnectivity_KZ_9198_n1_{:016d}", i);
    batch.push_back(std::move(row));
  }
  auto added = store_->add_results(scan->id, batch);
  ASSERT_TRUE(added) << added.error().message;
  ASSERT_TRUE(store_->add_results(scan->id, batch)) << "checked again whole: every key is found stored, same verdict";
  batch[9999].verdict = "intercepted";
  EXPECT_FALSE(store_->add_results(scan->id, batch)) << "the last key's other verdict is seen, past the first list";
  const auto counts = store_->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->at("results"), 10000);
  EXPECT_EQ(counts->at("certificates"), 3000);
}

TEST_P(StoreContract, StoresResultsOnceAndCertificatesOnce) {
  ASSERT_TRUE(store_);
  auto scan = store_->begin_scan(R"({"hosts":"h"})", false);
  ASSERT_TRUE(scan) << scan.error().message;
  const std::vector<StoredResult> batch = {result("8.8.8.8", "a.com", "2019-07-22T00:00:00Z", "clean", {"aa"}),
                                           result("8.8.8.8", "b.com", "2019-07-22T00:00:01Z", "clean", {"aa"}),
                                           result("1.1.1.1", "a.com", "2019-07-22T00:00:02Z", "clean", {"bb"})};
  ASSERT_TRUE(store_->add_results(scan->id, batch));
  ASSERT_TRUE(store_->add_results(scan->id, batch)) << "a repeated batch (a retried insert) is no error";
  const auto counts = store_->counts();
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(counts->at("results"), 3) << "each (scan, ip, port, sni) once, for every reader";
  EXPECT_EQ(counts->at("certificates"), 2) << "certificates once by SHA-256";
  const auto pairs = store_->stored_pairs(scan->id);
  ASSERT_TRUE(pairs);
  EXPECT_EQ(*pairs, (std::set<std::string>{"1.1.1.1:443 a.com", "8.8.8.8:443 a.com", "8.8.8.8:443 b.com"}));
  std::vector<StoredResult> back;
  ASSERT_TRUE(store_->for_each_result(scan->id, 2, [&](std::span<const StoredResult> page) -> Result<void> {
    EXPECT_LE(page.size(), 2u);
    back.insert(back.end(), page.begin(), page.end());
    return {};
  }));
  ASSERT_EQ(back.size(), 3u) << "pages of 2 cover all three, each once";
  EXPECT_EQ(back[0].ip, "1.1.1.1");
  EXPECT_EQ(back[0].time, "2019-07-22T00:00:02Z");
  EXPECT_EQ(back[2].sni, "b.com");
  EXPECT_EQ(back[2].result_json, batch[1].result_json);
  ASSERT_EQ(back[2].certificates.size(), 1u);
  EXPECT_EQ(back[2].certificates[0].first, "aa");
  EXPECT_EQ(back[2].certificates[0].second, batch[1].certificates[0].second) << "DER bytes round-trip";
}

TEST_P(StoreContract, ResumeFindsTheUnfinishedScanWithTheSameParameters) {
  ASSERT_TRUE(store_);
  const int64_t id = store_->begin_scan("P", false)->id;
  ASSERT_TRUE(store_->add_results(id, std::vector<StoredResult>{result("8.8.8.8", "a.com", "2019-07-22T00:00:00Z", "clean", {})}));
  EXPECT_EQ(store_->begin_scan("P", true)->id, id);
  EXPECT_NE(store_->begin_scan("other parameters", true)->id, id);
  EXPECT_EQ(store_->stored_pairs(id)->size(), 1u);
  ASSERT_TRUE(store_->finish_scan(id, ScanTally{ScanSource::kScan, 1, 1, 1, 0, {{TallyKind::kTag, "AS9198", "", 1, 1, 0}}},
                                  R"({"hosts":1})"));
  EXPECT_NE(store_->begin_scan("P", true)->id, id) << "a finished scan is not resumed";
  const auto scans = store_->scans();
  ASSERT_TRUE(scans);
  ASSERT_GE(scans->size(), 1u);
  EXPECT_EQ(scans->front().id, id);
  ASSERT_TRUE(scans->front().tally);
  EXPECT_EQ(scans->front().tally->hosts, 1u);
  ASSERT_EQ(scans->front().tally->groups.size(), 1u);
  EXPECT_EQ(scans->front().tally->groups[0].key, "AS9198");
  EXPECT_FALSE(scans->front().finished_at.empty());
}

TEST_P(StoreContract, AnInterruptedRoundIsMeasuredAgainWholeUnderItsNumber) {
  ASSERT_TRUE(store_);
  auto monitor = store_->open_monitor("kz", R"({"every_ms":1000})");
  ASSERT_TRUE(monitor) << monitor.error().message;
  EXPECT_EQ(monitor->last_round, 0);
  auto first = store_->begin_round(monitor->id, 1, "{}");
  ASSERT_TRUE(first);
  const std::vector<StoredEvent> events = {{1, "2026-11-21T00:00:00Z", "baseline", "global", "{}"}};
  ASSERT_TRUE(store_->finish_round(monitor->id, first->id, 1, ScanTally{}, "", R"({"memory":1})", events));
  // Round 2 stores a result and an event, then the process dies before the round is committed.
  auto second = store_->begin_round(monitor->id, 2, "{}");
  ASSERT_TRUE(second);
  ASSERT_TRUE(store_->add_results(second->id, std::vector<StoredResult>{
                                                  result("8.8.8.8", "a.com", "2026-11-21T00:00:01Z", "intercepted", {"cc", "dd"})}));
  auto reopened = store_->open_monitor("kz", R"({"every_ms":1000})");
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->last_round, 1);
  EXPECT_EQ(reopened->memory_json, R"({"memory":1})");
  EXPECT_EQ(reopened->last_round_started_at, first->started_at);
  auto again = store_->begin_round(monitor->id, 2, "{}");
  ASSERT_TRUE(again);
  auto counts = store_->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->at("results"), 0) << "the interrupted round's results are gone for readers";
  EXPECT_EQ(counts->at("scans"), 2) << "round 1 and the new round 2";
  auto issuers = store_->intercepting_issuers();
  ASSERT_TRUE(issuers);
  EXPECT_TRUE(issuers->empty()) << "nothing of the interrupted round is counted";
  EXPECT_FALSE(store_->open_monitor("kz", R"({"every_ms":2000})")) << "same name, other inputs: refused";
  const std::vector<StoredEvent> round_two = {{2, "2026-11-21T00:00:02Z", "interception_stopped", "global", R"({"a":1})"},
                                              {2, "2026-11-21T00:00:02Z", "hosts_stopped", "AS9198", R"({"b":2})"}};
  ASSERT_TRUE(store_->finish_round(monitor->id, again->id, 2, ScanTally{}, "{}", R"({"memory":2})", round_two));
  const auto stored = store_->monitor_events(monitor->id);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_EQ((*stored)[0].type, "baseline");
  EXPECT_EQ((*stored)[1].type, "interception_stopped") << "events keep the order they were derived in";
  EXPECT_EQ((*stored)[2].scope, "AS9198");
  EXPECT_EQ((*stored)[2].detail_json, R"({"b":2})");
  const auto all = store_->all_events();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(all->front().first, "kz");
  const auto scans = store_->scans();
  ASSERT_TRUE(scans);
  ASSERT_EQ(scans->size(), 2u);
  EXPECT_EQ(scans->back().monitor, "kz");
  EXPECT_EQ(scans->back().round, 2);
}

TEST_P(StoreContract, InterceptingIssuersWithTheirUseOutsideValidity) {
  ASSERT_TRUE(store_);
  const int64_t id = store_->begin_scan("P", false)->id;
  const std::vector<StoredResult> batch = {
      result("10.0.0.1", "a.com", "2019-07-18T10:00:00Z", "intercepted", {"l1", "ii"}),
      result("10.0.0.2", "a.com", "2019-07-20T10:00:00Z", "intercepted", {"l2", "ii"}),
      result("10.0.0.3", "a.com", "2019-07-25T10:00:00Z", "intercepted", {"l3", "ii"}),
      result("10.0.0.4", "a.com", "2019-07-19T10:00:00Z", "intercepted", {"l4", "jj"}),
      result("10.0.0.5", "a.com", "2019-07-19T10:00:00Z", "clean", {"l5", "ii"})};
  ASSERT_TRUE(store_->add_results(id, batch));
  ASSERT_TRUE(store_->add_results(id, std::span(batch).subspan(0, 1))) << "a repeated result counts once";
  const auto issuers = store_->intercepting_issuers();
  ASSERT_TRUE(issuers) << issuers.error().message;
  ASSERT_EQ(issuers->size(), 2u);
  EXPECT_EQ((*issuers)[0].sha256, "ii") << "by first use";
  EXPECT_EQ((*issuers)[0].results, 3u);
  EXPECT_EQ((*issuers)[0].first_seen, "2019-07-18T10:00:00Z");
  EXPECT_EQ((*issuers)[0].last_seen, "2019-07-25T10:00:00Z");
  EXPECT_EQ((*issuers)[0].der, batch[0].certificates[1].second);
  EXPECT_EQ((*issuers)[1].sha256, "jj");
  const auto outside = store_->uses_outside("ii", "2019-07-19T00:00:00Z", "2019-07-21T00:00:00Z");
  ASSERT_TRUE(outside);
  EXPECT_EQ(*outside, (std::pair<size_t, size_t>{1, 1}));
  const auto intercepted = store_->intercepted_results(id, 100);
  ASSERT_TRUE(intercepted);
  EXPECT_EQ(intercepted->size(), 4u);
  // The forged chain's example: the latest leaf an issuer signed; at the same time, the first address.
  auto tie = result("10.0.0.0", "b.com", "2019-07-25T10:00:00Z", "intercepted", {"l6", "ii"});
  tie.facts.outcome = Outcome::kIntercepted;
  tie.facts.interceptor = "lab-root";
  ASSERT_TRUE(store_->add_results(id, std::span(&tie, 1)));
  const auto example = store_->example_intercepted("ii");
  ASSERT_TRUE(example) << example.error().message;
  ASSERT_TRUE(*example);
  EXPECT_EQ((*example)->ip, "10.0.0.0");
  EXPECT_EQ((*example)->sni, "b.com");
  EXPECT_EQ((*example)->time, "2019-07-25T10:00:00Z");
  EXPECT_EQ((*example)->facts.interceptor, "lab-root") << "with its typed facts";
  ASSERT_EQ((*example)->certificates.size(), 2u);
  EXPECT_EQ((*example)->certificates[0].first, "l6");
  EXPECT_EQ((*example)->certificates[1].second, batch[0].certificates[1].second) << "and its chain's bytes";
  const auto none = store_->example_intercepted("zz");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none) << "an issuer that signed nothing intercepted";
}

TEST_P(StoreContract, TracesRoundTrip) {
  ASSERT_TRUE(store_);
  const std::vector<StoredTrace> traces = {
      {7, "2026-11-21T00:00:00Z", "10.0.0.1", 443, "facebook.com", "in_path_injector", 4, 7, "10.200.2.2", "10.200.3.2", R"({"x":1})"},
      {7, "2026-11-21T00:00:01Z", "10.0.0.2", 443, "facebook.com", "no_interception", 0, 7, "", "", "{}"}};
  ASSERT_TRUE(store_->add_traces(traces));
  ASSERT_TRUE(store_->add_traces(std::span(traces).subspan(0, 1)));
  const auto back = store_->traces();
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].kind, "in_path_injector");
  EXPECT_EQ((*back)[0].router_after, "10.200.3.2");
  EXPECT_EQ((*back)[0].injection_ttl, 4);
  EXPECT_EQ((*back)[1].time, "2026-11-21T00:00:01Z");
  EXPECT_EQ(store_->counts()->at("traces"), 2);
}

TEST_P(StoreContract, CopyToSqliteAndBackKeepsEveryRow) {
  ASSERT_TRUE(store_);
  auto monitor = store_->open_monitor("kz", "{}");
  ASSERT_TRUE(monitor);
  auto round = store_->begin_round(monitor->id, 1, "{}");
  ASSERT_TRUE(round);
  ASSERT_TRUE(store_->add_results(round->id, std::vector<StoredResult>{
                                                 result("10.0.0.1", "a.com", "2019-07-18T10:00:00Z", "intercepted", {"l1", "ii"}),
                                                 result("10.0.0.2", "b.com", "2019-07-18T10:00:01Z", "clean", {"l2"})}));
  const std::vector<StoredEvent> events = {{1, "2019-07-18T10:00:02Z", "baseline", "global", "{}"}};
  const ScanTally copied_tally{ScanSource::kScan, 2, 2, 2, 1,
                               {{TallyKind::kAs, "AS9198", "JSC Kazakhtelecom", 2, 2, 1}, {TallyKind::kDomain, "a.com", "", 0, 0, 1},
                                {TallyKind::kSource, "atlas-sslcert", "", 5, 5, 2}}};
  ASSERT_TRUE(store_->finish_round(monitor->id, round->id, 1, copied_tally, R"({"hosts":2})", R"({"m":1})", events));
  ASSERT_TRUE(store_->add_traces(std::vector<StoredTrace>{
      {1, "2019-07-18T10:00:03Z", "10.0.0.1", 443, "a.com", "in_path_injector", 4, 7, "r1", "r2", "{}"}}));
  auto copy = SqliteStore::open(directory_.path() / "copy.db");
  ASSERT_TRUE(copy);
  auto copied = copy_store(*store_, **copy, 1);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->results_copied, 2);
  EXPECT_EQ(copied->destination.at("results"), 2);
  EXPECT_EQ(copied->destination.at("events"), 1);
  EXPECT_EQ(copied->destination.at("traces"), 1);
  const auto scans = (*copy)->scans();
  ASSERT_TRUE(scans);
  ASSERT_EQ(scans->size(), 1u);
  EXPECT_EQ(scans->front().id, round->id) << "ids kept";
  EXPECT_EQ(scans->front().monitor, "kz");
  EXPECT_EQ(scans->front().tally, copied_tally) << "the tally and its groups are copied";
  const auto reopened = (*copy)->open_monitor("kz", "{}");
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->last_round, 1);
  EXPECT_EQ(reopened->memory_json, R"({"m":1})");
  auto again = copy_store(*store_, **copy, 1);
  ASSERT_TRUE(again) << "an interrupted copy can run again: " << again.error().message;
  EXPECT_EQ(again->destination.at("results"), 2) << "and adds nothing twice";
}

TEST_P(StoreContract, ResultFactsRoundTripTyped) {
  ASSERT_TRUE(store_);
  const int64_t id = store_->begin_scan("facts", false)->id;
  auto forged = result("10.0.0.1", "vk.com", "2019-07-18T10:00:00Z", "intercepted", {"f1", "ii"});
  forged.facts = {Outcome::kIntercepted, {"AS9198", "kz-north"}, "qaznet-2019", "C=KZ, CN=Security Certificate", "ja3s-hash", "t120200_c02f_4e9", "ja4x-hash",
                  ForgingFacts{-6.0, std::nullopt, 95, 32, false, "RSA", 2048, "3", {"keyUsage", "extendedKeyUsage"}}};
  forged.facts.source = "hyperquack-v2";
  auto clean = result("10.0.0.2", "vk.com", "2019-07-18T10:00:01Z", "clean", {"g1"});
  clean.facts.outcome = Outcome::kNotIntercepted;
  clean.facts.networks = {"AS9198"};
  clean.facts.issuer = "C=US, O=Lab CA";
  ASSERT_TRUE(store_->add_results(id, std::vector<StoredResult>{forged, clean}));
  std::vector<StoredResult> back;
  ASSERT_TRUE(store_->for_each_result(id, 10, [&](std::span<const StoredResult> batch) -> Result<void> {
    back.insert(back.end(), batch.begin(), batch.end());
    return {};
  }));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].facts, forged.facts) << "a missing shift stays missing, lists keep their order";
  EXPECT_EQ(back[1].facts, clean.facts);
  EXPECT_FALSE(back[1].facts.forging);
  const auto intercepted = store_->intercepted_results(id, 10);
  ASSERT_TRUE(intercepted);
  ASSERT_EQ(intercepted->size(), 1u);
  EXPECT_EQ((*intercepted)[0].ip, "10.0.0.1");
  EXPECT_EQ((*intercepted)[0].facts, forged.facts);
  EXPECT_TRUE((*intercepted)[0].result_json.empty()) << "the profile reads facts, not JSON";
}

TEST_P(StoreContract, IssuerReachSumsNamesNetworksAndSourcesOfInterceptedResults) {
  ASSERT_TRUE(store_);
  const int64_t id = store_->begin_scan("reach", false)->id;
  auto intercepted = [](const char* ip, const char* sni, const char* issuer, std::vector<std::string> networks,
                        const char* source) {
    auto out = result(ip, sni, "2021-03-01T00:00:00Z", "intercepted", {std::string("f") + ip, issuer});
    out.facts.outcome = Outcome::kIntercepted;
    out.facts.networks = std::move(networks);
    out.facts.source = source;
    return out;
  };
  std::vector<StoredResult> results = {
      intercepted("10.0.0.1", "vk.com", "ii", {"AS9198", "kz-north"}, "atlas-sslcert"),
      intercepted("10.0.0.2", "vk.com", "ii", {"AS9198"}, "atlas-sslcert"),
      intercepted("10.0.0.3", "facebook.com", "ii", {"AS21299"}, "scan"),
      intercepted("10.0.0.4", "google.com", "jj", {"AS9198"}, "hyperquack-v2"),
      result("10.0.0.5", "mail.ru", "2021-03-01T00:00:00Z", "clean", {"g5", "ii"}),
  };
  ASSERT_TRUE(store_->add_results(id, results));
  const auto reach = store_->issuer_reach();
  ASSERT_TRUE(reach) << reach.error().message;
  const std::vector<IssuerReach> expected = {
      {"ii", {"facebook.com", "vk.com"}, {"AS21299", "AS9198", "kz-north"}, {{"atlas-sslcert", 2}, {"scan", 1}}},
      {"jj", {"google.com"}, {"AS9198"}, {{"hyperquack-v2", 1}}},
  };
  EXPECT_EQ(*reach, expected) << "the clean result under ii is not counted";
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreContract, ::testing::Values("sqlite", "clickhouse", "clickhouse_cluster"),
                         [](const auto& test_info) { return test_info.param; });

TEST(ClickHouseUri, ParsesServersDatabaseAndCluster) {
  auto one = parse_clickhouse_uri("clickhouse://127.0.0.1:8123/campaign");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->servers, std::vector<std::string>{"127.0.0.1:8123"});
  EXPECT_EQ(one->database, "campaign");
  EXPECT_TRUE(one->cluster.empty());
  auto two = parse_clickhouse_uri("clickhouse://a:1,b:2/db?cluster=two");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->servers.size(), 2u);
  EXPECT_EQ(two->cluster, "two");
  for (const char* bad : {"clickhouse://127.0.0.1/db", "clickhouse://127.0.0.1:8123", "clickhouse://h:1/db;drop",
                          "clickhouse://a:1,b:2/db", "clickhouse://h:99999/db", "clickhouse://h:1/db?user=x"}) {
    auto parsed = parse_clickhouse_uri(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << "the message names the argument";
    }
  }
}

// A database as the version before typed facts made it (its first tables, JSON only), then migrated.
TEST(ClickHouseStore, ADatabaseOfAnEarlierVersionIsRefusedUntilMigratedAndLosesNothing) {
  const char* servers = std::getenv("MITMSCOPE_TEST_CLICKHOUSE");
  if (!servers || !*servers) GTEST_SKIP() << "MITMSCOPE_TEST_CLICKHOUSE (HOST:PORT,HOST:PORT) not set";
  const std::string server = std::string(servers).substr(0, std::string(servers).find(','));
  const std::string db = "earlier_" + std::to_string(::getpid());
  clickhouse::Http http(ClickHouseAccess{.base_url = "http://" + server}, "", "test");
  for (const std::string& sql : {
           "CREATE DATABASE " + db,
           "CREATE TABLE " + db + ".scans (id Int64, started_at String, finished_at String, parameters String, summary String, "
               "monitor_id Int64, round Int32, deleted UInt8, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY id",
           "CREATE TABLE " + db + ".results (scan_id Int64, ip String, port UInt16, sni String, time DateTime('UTC'), verdict String, "
               "issuer String, chain Array(String), result String, measurement String) ENGINE = ReplacingMergeTree "
               "PARTITION BY toYYYYMM(time) ORDER BY (scan_id, ip, port, sni, measurement)"}) {
    ASSERT_TRUE(http.query(sql)) << sql;
  }
  std::string scan = "1\t2019-07-18T10:00:00Z\t2019-07-18T11:00:00Z\t{}\t";
  clickhouse::append_tsv(scan, testing::kEarlierSummaryJson);
  ASSERT_TRUE(http.insert("INSERT INTO " + db + ".scans FORMAT TabSeparated", scan + "\t0\t0\t0\t1\n"));
  std::string result = "1\t10.0.0.1\t443\tvk.com\t2019-07-18 10:00:00\tintercepted\t\t[]\t";
  clickhouse::append_tsv(result, testing::kEarlierResultJson);
  ASSERT_TRUE(http.insert("INSERT INTO " + db + ".results FORMAT TabSeparated", result + "\t\n"));

  const std::string uri = "clickhouse://" + server + "/" + db;
  auto refused = open_store(uri);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("store migrate"), std::string::npos) << refused.error().message;
  auto migrating = open_store(uri, true);
  ASSERT_TRUE(migrating) << migrating.error().message;
  auto migrated = (*migrating)->migrate();
  ASSERT_TRUE(migrated) << migrated.error().message;
  EXPECT_EQ(migrated->results, 1);
  EXPECT_EQ(migrated->scans, 1);
  auto store = open_store(uri);
  ASSERT_TRUE(store) << store.error().message;
  const auto intercepted = (*store)->intercepted_results(1, 10);
  ASSERT_TRUE(intercepted);
  ASSERT_EQ(intercepted->size(), 1u);
  testing::expect_migrated((*intercepted)[0].facts);
  EXPECT_EQ((*store)->counts()->at("results"), 1) << "the rewritten result is still one result";
  const auto scans = (*store)->scans();
  ASSERT_TRUE(scans);
  ASSERT_EQ(scans->size(), 1u);
  ASSERT_TRUE(scans->front().tally);
  testing::expect_migrated(*scans->front().tally);
  EXPECT_TRUE((*store)->migrate()->already_typed);
  http.query("DROP DATABASE " + db);
}

TEST(ClickHouseStore, AServerThatIsNotThereIsAClearError) {
  // Port 9 (discard) on loopback: nothing listens there.
  auto store = open_store("clickhouse://127.0.0.1:9/campaign");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("clickhouse://127.0.0.1:9/campaign"), std::string::npos) << store.error().message;
}

}  // namespace
}  // namespace mitmscope
