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

namespace mitmscope {
namespace {

TEST(SqliteStoreInvariants, OneVerdictPerObservationAndOneCertificatePerSha256) {
  const auto path = std::filesystem::temp_directory_path() / ("mitmscope-invariants-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  auto store = SqliteStore::open(path);
  ASSERT_TRUE(store) << store.error().message;
  auto scan = (*store)->begin_scan("{}", false);
  ASSERT_TRUE(scan);
  StoredResult clean{"8.8.8.8", 443, "a.com", "2019-07-22T00:00:00Z", "clean", "{}", {{"aa", {0x30, 0x01, 0x00}}}};
  ASSERT_TRUE((*store)->add_results(scan->id, std::span(&clean, 1)));
  ASSERT_TRUE((*store)->add_results(scan->id, std::span(&clean, 1))) << "the same write again (a resume) is no error";
  StoredResult other = clean;
  other.verdict = "intercepted";
  auto refused = (*store)->add_results(scan->id, std::span(&other, 1));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("one verdict per observation"), std::string::npos) << refused.error().message;
  StoredResult impostor{"1.1.1.1", 443, "b.com", "2019-07-22T00:00:00Z", "clean", "{}", {{"aa", {0x30, 0x01, 0x01}}}};
  auto collision = (*store)->add_results(scan->id, std::span(&impostor, 1));
  ASSERT_FALSE(collision);
  EXPECT_NE(collision.error().message.find("same SHA-256"), std::string::npos) << collision.error().message;
  const auto counts = (*store)->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->at("results"), 1) << "the refused batches left nothing behind";
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mitmscope
