#include "store/sqlite_store.h"

#include <gtest/gtest.h>

#include "support/test_pki.h"

namespace mitmscope {
namespace {

StoredResult result(const std::string& ip, const std::string& sni, const std::string& certificate) {
  return {ip, 443, sni, "2019-07-22T00:00:00Z", "clean", "{}", {{certificate, {0x30, 0x03, 0x01, 0x02, 0x03}}}};
}

TEST(SqliteStore, StoresResultsOnceAndCertificatesOnce) {
  testing::TempDirectory directory;
  auto store = SqliteStore::open(directory.path() / "store.db");
  ASSERT_TRUE(store) << store.error().message;
  auto scan = (*store)->begin_scan(R"({"hosts":"h"})", false);
  ASSERT_TRUE(scan);
  const std::vector<StoredResult> batch = {result("8.8.8.8", "a.com", "aa"), result("8.8.8.8", "b.com", "aa"),
                                           result("1.1.1.1", "a.com", "bb")};
  EXPECT_EQ(*(*store)->add_results(scan->id, batch), 3u);
  EXPECT_EQ(*(*store)->add_results(scan->id, batch), 0u) << "a second copy adds nothing";
  EXPECT_EQ(*(*store)->count("results"), 3);
  EXPECT_EQ(*(*store)->count("certificates"), 2) << "certificates are stored once by SHA-256";
  EXPECT_EQ(*(*store)->count("result_certificates"), 3);
  const auto pairs = (*store)->stored_pairs(scan->id);
  ASSERT_TRUE(pairs);
  EXPECT_TRUE(pairs->contains("8.8.8.8:443 b.com"));
}

TEST(SqliteStore, ResumeFindsTheUnfinishedScanWithTheSameParametersAcrossReopening) {
  testing::TempDirectory directory;
  int64_t id = 0;
  {
    auto store = SqliteStore::open(directory.path() / "store.db");
    ASSERT_TRUE(store);
    id = (*store)->begin_scan("P", false)->id;
    ASSERT_TRUE((*store)->add_results(id, std::vector<StoredResult>{result("8.8.8.8", "a.com", "aa")}));
  }  // closed without finishing, as after a crash
  auto store = SqliteStore::open(directory.path() / "store.db");
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->begin_scan("P", true)->id, id);
  EXPECT_NE((*store)->begin_scan("other parameters", true)->id, id);
  EXPECT_EQ((*store)->stored_pairs(id)->size(), 1u);
  ASSERT_TRUE((*store)->finish_scan(id, "{}"));
  EXPECT_NE((*store)->begin_scan("P", true)->id, id) << "a finished scan is not resumed";
}

TEST(SqliteStore, AnUnwritableStoreIsAClearError) {
  const auto store = SqliteStore::open("/nonexistent/directory/store.db");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("/nonexistent/directory/store.db"), std::string::npos);
}

}  // namespace
}  // namespace mitmscope

namespace mitmscope {
namespace {

TEST(SqliteStoreMonitor, AnInterruptedRoundIsMeasuredAgainWholeUnderItsNumber) {
  testing::TempDirectory directory;
  auto store = SqliteStore::open(directory.path() / "store.db");
  ASSERT_TRUE(store) << store.error().message;
  auto monitor = (*store)->open_monitor("kz", R"({"every_ms":1000})");
  ASSERT_TRUE(monitor);
  EXPECT_EQ(monitor->last_round, 0);
  auto first = (*store)->begin_round(monitor->id, 1, "{}");
  ASSERT_TRUE(first);
  const std::vector<StoredEvent> events = {{1, "2026-11-21T00:00:00Z", "baseline", "global", "{}"}};
  ASSERT_TRUE((*store)->finish_round(monitor->id, first->id, 1, R"({"intercepted_hosts":4})", R"({"memory":1})", events));
  // Round 2 is interrupted after storing a result; a restart sees round 1 as the last and redoes round 2.
  auto second = (*store)->begin_round(monitor->id, 2, "{}");
  ASSERT_TRUE(second);
  const std::vector<StoredResult> batch = {{"8.8.8.8", 443, "a.com", "2026-11-21T00:00:01Z", "intercepted", "{}", {}}};
  ASSERT_TRUE((*store)->add_results(second->id, batch));
  auto reopened = (*store)->open_monitor("kz", R"({"every_ms":1000})");
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->last_round, 1);
  EXPECT_EQ(reopened->memory_json, R"({"memory":1})");
  auto again = (*store)->begin_round(monitor->id, 2, "{}");
  ASSERT_TRUE(again);
  EXPECT_EQ(*(*store)->count("results"), 0) << "the interrupted round's results are gone";
  EXPECT_EQ(*(*store)->count("scans"), 2);
  EXPECT_FALSE((*store)->open_monitor("kz", R"({"every_ms":2000})")) << "same name, other inputs: refused";
  const auto stored = (*store)->monitor_events(monitor->id);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].type, "baseline");
}

}  // namespace
}  // namespace mitmscope
