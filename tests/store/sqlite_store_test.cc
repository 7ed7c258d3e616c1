#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "support/earlier_version.h"
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

// A store as the version before typed facts left it: results and scans hold JSON only.
void write_store_of_the_earlier_version(const std::filesystem::path& path) {
  sqlite3* database = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &database), SQLITE_OK);
  const char* sql = R"sql(
    CREATE TABLE scans (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, parameters TEXT NOT NULL,
                        summary TEXT, monitor_id INTEGER, round INTEGER);
    CREATE TABLE results (id INTEGER PRIMARY KEY, scan_id INTEGER NOT NULL, ip TEXT NOT NULL, port INTEGER NOT NULL,
                          sni TEXT NOT NULL, time TEXT NOT NULL, verdict TEXT NOT NULL, result TEXT NOT NULL,
                          measurement TEXT NOT NULL DEFAULT '', UNIQUE (scan_id, ip, port, sni, measurement));
  )sql";
  ASSERT_EQ(sqlite3_exec(database, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(database);
  sqlite3_stmt* scan = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(database, "INSERT INTO scans VALUES (1, '2019-07-18T10:00:00Z', '2019-07-18T11:00:00Z', '{}', ?, "
                                         "NULL, NULL)", -1, &scan, nullptr), SQLITE_OK);
  sqlite3_bind_text(scan, 1, testing::kEarlierSummaryJson, -1, SQLITE_STATIC);
  EXPECT_EQ(sqlite3_step(scan), SQLITE_DONE);
  sqlite3_finalize(scan);
  sqlite3_stmt* result = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(database, "INSERT INTO results (scan_id, ip, port, sni, time, verdict, result) VALUES (1, "
                                         "'10.0.0.1', 443, 'vk.com', '2019-07-18T10:00:00Z', 'intercepted', ?)", -1, &result, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(result, 1, testing::kEarlierResultJson, -1, SQLITE_STATIC);
  EXPECT_EQ(sqlite3_step(result), SQLITE_DONE);
  sqlite3_finalize(result);
  sqlite3_close(database);
}

TEST(SqliteStore, AStoreOfAnEarlierVersionIsRefusedUntilMigratedAndLosesNothing) {
  testing::TempDirectory directory;
  const auto path = directory.path() / "old.db";
  write_store_of_the_earlier_version(path);
  auto refused = SqliteStore::open(path);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("store migrate"), std::string::npos) << refused.error().message;
  {
    auto migrating = SqliteStore::open(path, true);
    ASSERT_TRUE(migrating) << migrating.error().message;
    auto migrated = (*migrating)->migrate();
    ASSERT_TRUE(migrated) << migrated.error().message;
    EXPECT_EQ(migrated->results, 1);
    EXPECT_EQ(migrated->scans, 1);
    EXPECT_FALSE(migrated->already_typed);
  }
  auto store = SqliteStore::open(path);
  ASSERT_TRUE(store) << store.error().message;
  const auto intercepted = (*store)->intercepted_results(1, 10);
  ASSERT_TRUE(intercepted);
  ASSERT_EQ(intercepted->size(), 1u);
  testing::expect_migrated((*intercepted)[0].facts);
  const auto scans = (*store)->scans();
  ASSERT_TRUE(scans);
  ASSERT_EQ(scans->size(), 1u);
  ASSERT_TRUE(scans->front().tally);
  testing::expect_migrated(*scans->front().tally);
  auto again = (*store)->migrate();
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->already_typed);
}

// A store holds measurements: a new one is its owner's alone, whatever the umask, and so is its write-ahead log.
TEST(SqliteStore, ANewStoreIsReadableByItsOwnerOnly) {
  testing::TempDirectory directory;
  const mode_t previous = ::umask(022);
  auto store = SqliteStore::open(directory.path() / "campaign.db");
  ::umask(previous);
  ASSERT_TRUE(store) << store.error().message;
  const auto mode = [&](const char* name) {
    return std::filesystem::status(directory.path() / name).permissions() & std::filesystem::perms::all;
  };
  using std::filesystem::perms;
  EXPECT_EQ(mode("campaign.db"), perms::owner_read | perms::owner_write);
  ASSERT_TRUE(std::filesystem::exists(directory.path() / "campaign.db-wal"));
  EXPECT_EQ(mode("campaign.db-wal"), perms::owner_read | perms::owner_write);
}

TEST(SqliteStore, AnUnwritableStoreIsAClearError) {
  const auto store = SqliteStore::open("/nonexistent/directory/store.db");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("/nonexistent/directory/store.db"), std::string::npos);
}

}  // namespace
}  // namespace mitmscope

