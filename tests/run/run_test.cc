#include "run/run.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/test_pki.h"

namespace mitmscope::run {
namespace {

TEST(StoreBatches, WritesInBatchesAndTheRestAtFlush) {
  std::vector<size_t> writes;
  StoreBatches<int> batches(3, [&](std::span<const int> rows) -> Result<void> {
    writes.push_back(rows.size());
    return {};
  });
  for (int i = 0; i < 7; ++i) batches.add(i);
  EXPECT_EQ(writes, (std::vector<size_t>{3, 3}));
  batches.flush();
  EXPECT_EQ(writes, (std::vector<size_t>{3, 3, 1}));
  batches.flush();
  EXPECT_EQ(writes.size(), 3u) << "nothing pending, nothing written";
  EXPECT_FALSE(batches.error());
}

TEST(StoreBatches, AfterAFailedWriteTheStoreTakesNoMoreAndTheErrorIsKept) {
  int calls = 0;
  StoreBatches<int> batches(2, [&](std::span<const int>) -> Result<void> {
    ++calls;
    return make_error(ErrorCode::kFileUnreadable, "store.db: disk full");
  });
  for (int i = 0; i < 6; ++i) batches.add(i);
  batches.flush();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(batches.error());
  EXPECT_EQ(batches.error()->message, "store.db: disk full");
}

TEST(StoreBatches, WithoutAStoreNothingIsKept) {
  StoreBatches<int> batches(2, nullptr);
  for (int i = 0; i < 5; ++i) batches.add(i);
  batches.flush();
  EXPECT_FALSE(batches.error());
}

TEST(Progress, SaysDoneRateEtaAndIntercepted) {
  const auto start = std::chrono::steady_clock::time_point{};
  Progress progress(100, false, start);
  for (int i = 0; i < 25; ++i) progress.add(i % 5 == 0, start + std::chrono::seconds(5));
  EXPECT_EQ(progress.line(start + std::chrono::seconds(5)), "25/100 results, 5/s, ETA 15 s, intercepted 5");
  EXPECT_EQ(progress.done(), 25u);
}

TEST(LineOutput, WritesLinesToAFileAndNothingWithoutOne) {
  testing::TempDirectory directory;
  const auto path = (directory.path() / "out.jsonl").string();
  {
    auto out = LineOutput::open(path);
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->active());
    EXPECT_FALSE(out->is_stdout());
    out->write(R"({"a":1})");
    out->write(R"({"b":2})");
  }
  std::ifstream file(path);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"a\":1}\n{\"b\":2}\n");
  auto none = LineOutput::open("");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->active());
  none->write("ignored");
  auto bad = LineOutput::open("/nonexistent/dir/out.jsonl");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("/nonexistent/dir/out.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace mitmscope::run
