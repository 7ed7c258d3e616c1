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

TEST(SqliteStore, AnUnwritableStoreIsAClearError) {
  const auto store = SqliteStore::open("/nonexistent/directory/store.db");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("/nonexistent/directory/store.db"), std::string::npos);
}

}  // namespace
}  // namespace mitmscope

