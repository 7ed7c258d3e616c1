#include "engine/targets.h"

#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/test_pki.h"

namespace mitmscope {
namespace {

std::filesystem::path write_hosts(const testing::TempDirectory& directory, size_t count, const std::string& extra = {}) {
  std::string text = "# comment line\n\n";
  for (size_t i = 0; i < count; ++i) text += "8.8." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":443 AS" + std::to_string(i % 7) + "\n";
  text += extra;
  const auto path = directory.path() / "hosts.txt";
  testing::write_file(path, text);
  return path;
}

std::vector<std::string> drain(HostList& list) {
  std::vector<std::string> out;
  while (auto host = list.next()) out.push_back(host->endpoint.ip);
  return out;
}

TEST(HostList, VisitsEveryHostExactlyOnceInASeededShuffledOrder) {
  testing::TempDirectory directory;
  const auto path = write_hosts(directory, 1000);
  auto first = HostList::open(path, {.seed = 42});
  auto second = HostList::open(path, {.seed = 42});
  auto other = HostList::open(path, {.seed = 43});
  ASSERT_TRUE(first && second && other);
  const auto a = drain(*first), b = drain(*second), c = drain(*other);
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(std::set<std::string>(a.begin(), a.end()).size(), 1000u);
  EXPECT_EQ(a, b) << "the same seed gives the same order";
  EXPECT_NE(a, c) << "another seed gives another order";
  size_t in_file_order = 0;
  for (size_t i = 1; i < a.size(); ++i) in_file_order += a[i] > a[i - 1];
  EXPECT_LT(in_file_order, 900u) << "not the file order";
}

TEST(HostList, ShardsAreDisjointAndTheirUnionIsTheWholeList) {
  testing::TempDirectory directory;
  const auto path = write_hosts(directory, 777);
  for (uint32_t shards : {1u, 2u, 3u, 8u}) {
    std::multiset<std::string> all;
    for (uint32_t shard = 0; shard < shards; ++shard) {
      auto list = HostList::open(path, {.seed = 5, .shards = shards, .shard = shard});
      ASSERT_TRUE(list);
      for (const auto& ip : drain(*list)) all.insert(ip);
    }
    EXPECT_EQ(all.size(), 777u) << shards;
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 777u) << shards << " shards overlap";
  }
  EXPECT_FALSE(HostList::open(path, {.shards = 2, .shard = 2}));
}

TEST(HostList, ReportsBadLinesRefusedAndBlockedAddressesWithLineNumbers) {
  testing::TempDirectory directory;
  const auto path = write_hosts(directory, 3, "not-an-address\n10.1.2.3\n9.9.9.9:99999\n1.1.1.1 tag\n");
  PrefixSet blocklist;
  ASSERT_TRUE(blocklist.add("1.1.1.0/24"));
  auto list = HostList::open(path, {.blocklist = blocklist});
  ASSERT_TRUE(list);
  const auto hosts = drain(*list);
  EXPECT_EQ(hosts.size(), 3u);
  std::map<size_t, std::string> skipped;
  for (const auto& entry : list->skipped()) skipped[entry.line] = entry.reason;
  ASSERT_EQ(skipped.size(), 4u);
  EXPECT_NE(skipped[6].find("not an IP address"), std::string::npos) << skipped[6];
  EXPECT_NE(skipped[7].find("reserved range 10.0.0.0/8"), std::string::npos) << skipped[7];
  EXPECT_NE(skipped[8].find("port"), std::string::npos) << skipped[8];
  EXPECT_NE(skipped[9].find("blocklist"), std::string::npos) << skipped[9];
}

// The index keeps one offset per 64 lines: every line must still be read whole and as itself, across
// read blocks (lines longer than 4 KiB), in any order, with or without a final newline.
TEST(HostList, EveryLineIsFoundFromTheSparseIndex) {
  testing::TempDirectory directory;
  std::string text;
  const size_t count = 1000;
  for (size_t i = 1; i <= count; ++i) {
    const std::string padding = i % 97 == 0 ? std::string(5000 + i, 'x') : std::string(i % 13 + 1, 'y');
    text += fmt::format("8.8.{}.{}:443 L{} {}{}", i / 250, i % 250 + 1, i, padding, i == count ? "" : "\n");
  }
  const auto path = directory.path() / "hosts.txt";
  testing::write_file(path, text);
  auto list = HostList::open(path, {.seed = 9});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->total_lines(), count);
  size_t seen = 0;
  while (auto host = list->next()) {
    ++seen;
    ASSERT_EQ(host->tags.size(), 2u) << host->line;
    EXPECT_EQ(host->tags[0], fmt::format("L{}", host->line));
    EXPECT_EQ(host->tags[1].size(), host->line % 97 == 0 ? 5000 + host->line : host->line % 13 + 1) << host->line;
    EXPECT_EQ(host->endpoint.ip, fmt::format("8.8.{}.{}", host->line / 250, host->line % 250 + 1));
  }
  EXPECT_EQ(seen, count);
}

TEST(HostList, SkippedLinesAreAllCountedButOnlyTheFirstThousandKept) {
  testing::TempDirectory directory;
  std::string bad;
  for (int i = 0; i < 1500; ++i) bad += "not-an-address\n";
  const auto path = write_hosts(directory, 2, bad);
  auto list = HostList::open(path, {});
  ASSERT_TRUE(list);
  EXPECT_EQ(drain(*list).size(), 2u);
  EXPECT_EQ(list->skipped_count(), 1500u);
  EXPECT_EQ(list->skipped().size(), HostList::kSkippedKept) << "bounded memory on a file of garbage";
}

TEST(HostList, KeepsTagColumns) {
  testing::TempDirectory directory;
  const auto path = write_hosts(directory, 1);
  auto list = HostList::open(path, {});
  ASSERT_TRUE(list);
  const auto host = list->next();
  ASSERT_TRUE(host);
  EXPECT_EQ(host->tags, std::vector<std::string>{"AS0"});
  EXPECT_EQ(host->line, 3u);
}

TEST(Domains, TopListsAndBadNamesAreHandled) {
  testing::TempDirectory directory;
  testing::write_file(directory.path() / "top.csv", "1,google.com\n2,facebook.com\n3,bad name\n# x\n4,vk.com\n");
  std::vector<SkippedTarget> skipped;
  const auto domains = read_domains(directory.path() / "top.csv", skipped);
  ASSERT_TRUE(domains);
  EXPECT_EQ(*domains, (std::vector<std::string>{"google.com", "facebook.com", "vk.com"}));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped.front().line, 3u);
}

}  // namespace
}  // namespace mitmscope
