#include "run/run.h"

#include <gtest/gtest.h>

#include <csignal>
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

TEST(Runner, EachResultReachesTheOutputTheStoreAndTheProgressOnceAndFinishFlushes) {
  testing::TempDirectory directory;
  const auto path = (directory.path() / "out.jsonl").string();
  std::vector<int> stored;
  auto out = LineOutput::open(path);
  ASSERT_TRUE(out);
  RunEnd end;
  {
    Runner<int> run(std::move(*out), [&](std::span<const int> rows) -> Result<void> {
      stored.insert(stored.end(), rows.begin(), rows.end());
      return {};
    }, {.batch = 2}, ResumeKeys({"1.2.3.4:443 a.example"}));
    EXPECT_TRUE(run.done_before("1.2.3.4:443 a.example"));
    EXPECT_FALSE(run.done_before("1.2.3.4:443 b.example"));
    run.add("one", 1, false);
    run.add("", 2, true);                // stored, no line
    run.add("three", std::nullopt, false);  // a line, not stored
    EXPECT_EQ(stored, (std::vector<int>{1, 2})) << "a full batch is written at once";
    end = run.finish();
  }
  EXPECT_EQ(end.results, 3u);
  EXPECT_FALSE(end.interrupted);
  EXPECT_FALSE(end.store_error);
  std::ifstream file(path);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "one\nthree\n");
}

TEST(Runner, AStopSaysInterruptedAndKeepsWhatWasMeasured) {
  std::vector<int> stored;
  Runner<int> run(LineOutput(), [&](std::span<const int> rows) -> Result<void> {
    stored.insert(stored.end(), rows.begin(), rows.end());
    return {};
  });
  EXPECT_FALSE(run.stopping()) << "a new run starts unstopped";
  run.add("", 7, false);
  stop_requested() = true;   // what SIGINT does (stop_on_signals)
  EXPECT_TRUE(run.stopping());
  EXPECT_TRUE(run.stop_flag().load()) << "the flag the engine polls";
  const RunEnd end = run.finish();
  EXPECT_TRUE(end.interrupted);
  EXPECT_EQ(stored, std::vector<int>{7}) << "the pending row is stored on the way out";
  stop_requested() = false;
}

TEST(StopScope, SignalsSetTheFlagInsideTheOutermostScopeOnlyAndNestedScopesDoNotResetIt) {
  {
    StopScope outer;
    std::raise(SIGINT);
    EXPECT_TRUE(stop_requested().load());
    {
      StopScope inner;   // a monitor's round inside the monitor
      EXPECT_TRUE(stop_requested().load()) << "a signal before the round still stops the monitor";
    }
    EXPECT_TRUE(stop_requested().load());
  }
  stop_requested() = false;
  EXPECT_EQ(std::signal(SIGTERM, SIG_DFL), SIG_DFL) << "the default handler is back after the scope";
}

}  // namespace
}  // namespace mitmscope::run
