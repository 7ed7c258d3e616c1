#include "report/campaign_report.h"

#include <gtest/gtest.h>

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

TEST(CampaignReport, CsvQuotesLikeRfc4180) {
  ReportTable table{"t", "T", {"a", "b"}, {{nlohmann::json("x,y"), nlohmann::json("say \"hi\"")}, {nlohmann::json(1), nullptr}}};
  EXPECT_EQ(table_csv(table), "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n1,\r\n");
}

}  // namespace
}  // namespace mitmscope
