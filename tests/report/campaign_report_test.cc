#include "report/campaign_report.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "lab/pki.h"
#include "report/html_report.h"
#include "store/legacy_json.h"
#include "store/sqlite_store.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

// The tallies below are written as the summaries a scan prints, for reading.
ScanTally tally(std::string_view summary) {
  auto read = tally_from_summary_json(summary);
  EXPECT_TRUE(read) << summary;
  return read.value_or(ScanTally{});
}

TEST(CampaignReport, RoundsEventsAndLatestScanTables) {
  testing::TempDirectory directory;
  auto store = SqliteStore::open(directory.path() / "store.db");
  ASSERT_TRUE(store);
  auto monitor = (*store)->open_monitor("kz", "{}");
  ASSERT_TRUE(monitor);
  const char* summaries[] = {
      R"({"hosts":6,"eligible":6,"intercepted_hosts":4,"intercepted_share":0.6667,
          "per_tag":{"AS9198":{"hosts":6,"eligible":6,"intercepted":4}},"intercepted_hosts_per_domain":{"vk.com":4,"a.kz":2}})",
      R"({"hosts":6,"eligible":6,"intercepted_hosts":0,"intercepted_share":0,"per_tag":{"AS9198":{"hosts":6,"eligible":6,"intercepted":0}},
          "intercepted_hosts_per_domain":{}})"};
  for (int round = 1; round <= 2; ++round) {
    auto scan = (*store)->begin_round(monitor->id, round, "{}");
    ASSERT_TRUE(scan);
    std::vector<StoredEvent> events;
    if (round == 2) events.push_back({2, "t", "interception_stopped", "global", R"({"hosts_before":4})"});
    ASSERT_TRUE((*store)->finish_round(monitor->id, scan->id, round, tally(summaries[round - 1]), "", "{}", events));
  }
  auto tables = build_report_tables(**store);
  ASSERT_TRUE(tables) << tables.error().message;
  const auto json = tables_json(*tables);
  ASSERT_EQ(json["rounds"].size(), 2u);
  EXPECT_EQ(json["rounds"][0]["intercepted_hosts"], 4);
  EXPECT_EQ(json["rounds"][1]["round"], 2);
  EXPECT_EQ(json["events"][0]["type"], "interception_stopped");
  EXPECT_EQ(json["events"][0]["detail"]["hosts_before"], 4) << "event detail is JSON, not a string";
  EXPECT_EQ(json["per_as"][0]["intercepted"], 0) << "per AS comes from the latest finished scan";
  EXPECT_TRUE(json["per_domain"].empty());
  const std::string markdown = tables_markdown(*tables);
  EXPECT_NE(markdown.find("| scan | monitor | round |"), std::string::npos);
}

TEST(CampaignReport, PerAsComesFromTheLatestPlainScanOrTheChosenOne) {
  testing::TempDirectory directory;
  auto store = SqliteStore::open(directory.path() / "store.db");
  ASSERT_TRUE(store);
  auto finish = [&](int64_t scan, const char* tag, int intercepted) {
    const auto summary = fmt::format(R"({{"hosts":6,"eligible":6,"intercepted_hosts":{0},"per_tag":{{"{1}":{{"hosts":6,"eligible":6,"intercepted":{0}}}}},
                                        "intercepted_hosts_per_domain":{{}}}})", intercepted, tag);
    ASSERT_TRUE((*store)->finish_scan(scan, tally(summary), summary));
  };
  const auto full = (*store)->begin_scan(R"({"full":1})", false);
  ASSERT_TRUE(full);
  finish(full->id, "AS9198", 4);
  auto monitor = (*store)->open_monitor("kz", "{}");
  ASSERT_TRUE(monitor);
  auto round = (*store)->begin_round(monitor->id, 1, "{}");
  ASSERT_TRUE(round);
  ASSERT_TRUE((*store)->finish_round(monitor->id, round->id, 1, tally(R"({"hosts":2,"eligible":2,"intercepted_hosts":1,
      "per_tag":{"AS48502":{"hosts":2,"eligible":2,"intercepted":1}},"intercepted_hosts_per_domain":{}})"), "", "{}", {}));
  auto latest = build_report_tables(**store);
  ASSERT_TRUE(latest);
  EXPECT_EQ(tables_json(*latest)["per_as"][0]["as"], "AS9198") << "the full scan, not the later round of two hosts";
  auto chosen = build_report_tables(**store, {.scan = round->id});
  ASSERT_TRUE(chosen);
  EXPECT_EQ(tables_json(*chosen)["per_as"][0]["as"], "AS48502");
  auto missing = build_report_tables(**store, {.scan = 99});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no finished scan 99"), std::string::npos);
}

TEST(CampaignReport, TheFormatFollowsTheOutputsExtension) {
  EXPECT_EQ(report_format("", "report.html").value(), "html");
  EXPECT_EQ(report_format("", "tables.json").value(), "json");
  EXPECT_EQ(report_format("", "-").value(), "md");
  EXPECT_EQ(report_format("", "report.md").value(), "md");
  EXPECT_EQ(report_format("", "out-dir/").value(), "csv");
  EXPECT_EQ(report_format("json", "report.html").value(), "json") << "an explicit format wins";
  EXPECT_FALSE(report_format("pdf", "-"));
  EXPECT_FALSE(report_format("", "report.txt"));
}

TEST(CampaignReport, EventsAreGivenInWordsAndTheirDetailOnlyToPrograms) {
  testing::TempDirectory directory;
  auto store = SqliteStore::open(directory.path() / "store.db");
  ASSERT_TRUE(store);
  auto monitor = (*store)->open_monitor("kz", "{}");
  auto scan = (*store)->begin_round(monitor->id, 2, "{}");
  ASSERT_TRUE(monitor && scan);
  const std::vector<StoredEvent> events = {
      {2, "t", "hosts_stopped", "AS9198", R"({"hosts":["a","b","c","d"],"before":7,"intercepted_now":3})"}};
  ASSERT_TRUE((*store)->finish_round(monitor->id, scan->id, 2, tally(R"({"hosts":1})"), "", "{}", events));
  auto tables = build_report_tables(**store);
  ASSERT_TRUE(tables);
  EXPECT_EQ(tables_json(*tables)["events"][0]["event"], "interception stopped on 4 hosts in AS9198 (7 -> 3 intercepted)");
  const std::string markdown = tables_markdown(*tables);
  EXPECT_NE(markdown.find("interception stopped on 4 hosts in AS9198"), std::string::npos);
  EXPECT_EQ(markdown.find("intercepted_now"), std::string::npos) << "the raw detail is for JSON and CSV";
  EXPECT_NE(table_csv((*tables)[1]).find("intercepted_now"), std::string::npos);
}

TEST(CampaignReport, TheProfileAndTheForgedChainComeFromTheStoredFacts) {
  testing::TempDirectory directory;
  auto store = SqliteStore::open(directory.path() / "store.db");
  ASSERT_TRUE(store);
  const UtcSeconds now = now_utc();
  const auto root = testing::must(lab::make_identity(testing::ca_spec("Qaznet Trust Network", now), testing::kEcKey, nullptr));
  const auto intermediate = testing::must(lab::make_identity(testing::ca_spec("Security Certificate", now), testing::kEcKey, &root));
  const auto leaf = testing::must(lab::make_identity(testing::leaf_spec("vk.com", now), testing::kEcKey, &intermediate));
  auto scan = (*store)->begin_scan("{}", false);
  ASSERT_TRUE(scan);
  StoredResult result{"10.0.0.1", 443, "vk.com", "2019-07-18T10:00:00Z", "intercepted", "{}",
                      {{leaf.certificate.sha256_hex(), leaf.certificate.der()},
                       {intermediate.certificate.sha256_hex(), intermediate.certificate.der()}}};
  result.facts = {Outcome::kIntercepted, {"AS9198"}, "qaznet-2019", "C=KZ, CN=Security Certificate", "ja3s-hash", "", "",
                  ForgingFacts{-6.0, -6.0, 95, 33, false, "RSA", 2048, "3", {"keyUsage", "extendedKeyUsage"}}};
  ASSERT_TRUE((*store)->add_results(scan->id, std::vector<StoredResult>{result}));
  ASSERT_TRUE((*store)->finish_scan(scan->id, tally(R"({"hosts":1,"eligible":1,"intercepted_hosts":1})"), "{}"));
  testing::write_file(directory.path() / "qaznet.pem", lab::certificate_pem(root.certificate));
  const auto registry = InterceptorRegistry::load_directory(directory.path());
  ASSERT_TRUE(registry);
  auto tables = build_report_tables(**store, {.registry = &*registry});
  ASSERT_TRUE(tables) << tables.error().message;
  const auto json = tables_json(*tables);
  ASSERT_EQ(json["profile"].size(), 1u);
  const auto& profile = json["profile"][0];
  EXPECT_EQ(profile["interceptor"], "qaznet-2019");
  EXPECT_EQ(profile["key"], "RSA 2048 e=3");
  EXPECT_EQ(profile["serial"], "leading bits kept, trailing bits replaced");
  EXPECT_EQ(profile["serial_bits_replaced"], "33");
  EXPECT_EQ(profile["extensions_dropped"], "keyUsage extendedKeyUsage") << "names, as a reader writes them";
  EXPECT_EQ(profile["not_before_shift_hours"], -6.0);
  ASSERT_EQ(json["forged_chain"].size(), 3u);
  EXPECT_EQ(json["forged_chain"][0]["role"], "root");
  EXPECT_EQ(json["forged_chain"][0]["source"], "registry: qaznet");
  EXPECT_EQ(json["forged_chain"][1]["subject"], intermediate.certificate.subject());
  EXPECT_EQ(json["forged_chain"][2]["sha256"], leaf.certificate.sha256_hex());
  EXPECT_EQ(json["forged_chain"][2]["validity_days"], 91);
  const std::string html = render_html_report(*tables, "t");
  EXPECT_NE(html.find("<div class=\"link root\">"), std::string::npos) << "the chain is drawn";
}

TEST(CampaignReport, CsvQuotesLikeRfc4180) {
  ReportTable table{"t", "T", {"a", "b"}, {{nlohmann::json("x,y"), nlohmann::json("say \"hi\"")}, {nlohmann::json(1), nullptr}}};
  EXPECT_EQ(table_csv(table), "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n1,\r\n");
}

}  // namespace
}  // namespace mitmscope
