#include "report/campaign_report.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "store/sqlite_store.h"
#include "support/test_pki.h"

namespace mitmscope {
namespace {

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
    ASSERT_TRUE((*store)->finish_round(monitor->id, scan->id, round, summaries[round - 1], "{}", events));
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
    ASSERT_TRUE((*store)->finish_scan(scan, summary));
  };
  const auto full = (*store)->begin_scan(R"({"full":1})", false);
  ASSERT_TRUE(full);
  finish(full->id, "AS9198", 4);
  auto monitor = (*store)->open_monitor("kz", "{}");
  ASSERT_TRUE(monitor);
  auto round = (*store)->begin_round(monitor->id, 1, "{}");
  ASSERT_TRUE(round);
  ASSERT_TRUE((*store)->finish_round(monitor->id, round->id, 1, R"({"hosts":2,"eligible":2,"intercepted_hosts":1,
      "per_tag":{"AS48502":{"hosts":2,"eligible":2,"intercepted":1}},"intercepted_hosts_per_domain":{}})", "{}", {}));
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
  ASSERT_TRUE((*store)->finish_round(monitor->id, scan->id, 2, R"({"hosts":1})", "{}", events));
  auto tables = build_report_tables(**store);
  ASSERT_TRUE(tables);
  EXPECT_EQ(tables_json(*tables)["events"][0]["event"], "interception stopped on 4 hosts in AS9198 (7 -> 3 intercepted)");
  const std::string markdown = tables_markdown(*tables);
  EXPECT_NE(markdown.find("interception stopped on 4 hosts in AS9198"), std::string::npos);
  EXPECT_EQ(markdown.find("intercepted_now"), std::string::npos) << "the raw detail is for JSON and CSV";
  EXPECT_NE(table_csv((*tables)[1]).find("intercepted_now"), std::string::npos);
}

TEST(CampaignReport, CsvQuotesLikeRfc4180) {
  ReportTable table{"t", "T", {"a", "b"}, {{nlohmann::json("x,y"), nlohmann::json("say \"hi\"")}, {nlohmann::json(1), nullptr}}};
  EXPECT_EQ(table_csv(table), "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n1,\r\n");
}

}  // namespace
}  // namespace mitmscope
