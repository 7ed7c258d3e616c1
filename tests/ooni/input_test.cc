#include "ooni/input.h"

#include <gtest/gtest.h>
#include <libdeflate.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace mitmscope::ooni {
namespace {

class InputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("mitmscope-input-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::filesystem::path write(const std::string& name, const std::string& bytes) {
    const auto path = directory_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  static std::string gzip(const std::string& text) {
    auto* compressor = libdeflate_alloc_compressor(6);
    std::string out(libdeflate_gzip_compress_bound(compressor, text.size()), '\0');
    out.resize(libdeflate_gzip_compress(compressor, text.data(), text.size(), out.data(), out.size()));
    libdeflate_free_compressor(compressor);
    return out;
  }

  // Every line the reader hands out, with its number, and the errors.
  struct ReadBack {
    std::vector<std::pair<uint64_t, std::string>> lines;
    std::vector<std::pair<uint64_t, std::string>> errors;
    std::optional<Error> failure;
  };
  static ReadBack read_all(const std::filesystem::path& path) {
    auto list = find_input_files({path.string()}, {});
    EXPECT_TRUE(list) << (list ? "" : list.error().message);
    ReadBack out;
    auto reader = BlockReader::open(list->files.at(0), 0);
    EXPECT_TRUE(reader);
    while (true) {
      auto block = (*reader)->next();
      if (!block) {
        out.failure = block.error();
        break;
      }
      if (!*block) break;
      for (auto& error : (*block)->errors) out.errors.push_back(error);
      EXPECT_GE((*block)->data.size(), (*block)->size + kBlockPadding);
      std::string_view data((*block)->data.data(), (*block)->size);
      uint64_t line = (*block)->first_line;
      if ((*block)->whole_document) {
        out.lines.emplace_back(line, std::string(data));
        continue;
      }
      while (!data.empty()) {
        const auto newline = data.find('\n');
        out.lines.emplace_back(line++, std::string(data.substr(0, newline)));
        data.remove_prefix(newline == std::string_view::npos ? data.size() : newline + 1);
      }
    }
    return out;
  }

  std::filesystem::path directory_;
};

TEST_F(InputTest, PlainLinesKeepTheirNumbers) {
  const auto read = read_all(write("a.jsonl", "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}"));
  ASSERT_EQ(read.lines.size(), 4u);
  EXPECT_EQ(read.lines[0], (std::pair<uint64_t, std::string>{1, "{\"a\":1}"}));
  EXPECT_EQ(read.lines[1].second, "");
  EXPECT_EQ(read.lines[2].first, 3u);
  EXPECT_EQ(read.lines[3], (std::pair<uint64_t, std::string>{4, "{\"c\":3}"}));  // no final newline
  EXPECT_FALSE(read.failure);
}

TEST_F(InputTest, GzipMembersFollowEachOther) {
  // Two members, the first ending in the middle of a line: one stream of lines, numbered through.
  const auto read = read_all(write("b.jsonl.gz", gzip("one\ntw") + gzip("o\nthree\n")));
  ASSERT_EQ(read.lines.size(), 3u);
  EXPECT_EQ(read.lines[1], (std::pair<uint64_t, std::string>{2, "two"}));
  EXPECT_EQ(read.lines[2], (std::pair<uint64_t, std::string>{3, "three"}));
  EXPECT_FALSE(read.failure);
}

TEST_F(InputTest, TruncatedGzipKeepsWhatPrecedesTheDamage) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "{\"line\": " + std::to_string(i) + ", \"padding\": \"" + std::string(i % 50, 'x') + "\"}\n";
  std::string compressed = gzip(text);
  compressed.resize(compressed.size() / 2);
  const auto read = read_all(write("c.jsonl.gz", compressed));
  ASSERT_TRUE(read.failure);
  EXPECT_NE(read.failure->message.find("c.jsonl.gz"), std::string::npos);
  EXPECT_NE(read.failure->message.find("truncated"), std::string::npos) << read.failure->message;
  ASSERT_GT(read.lines.size(), 1000u);
  for (size_t i = 0; i < read.lines.size(); ++i) {
    EXPECT_EQ(read.lines[i].first, i + 1);
    ASSERT_EQ(read.lines[i].second.back(), '}') << "a partial line was handed out: " << read.lines[i].second;
  }
}

TEST_F(InputTest, CorruptGzipIsReportedWithItsFile) {
  std::string compressed = gzip(std::string(100000, 'a') + "\n");
  for (size_t i = 20; i < 60; ++i) compressed[i] = static_cast<char>(0xff);
  const auto read = read_all(write("d.jsonl.gz", compressed));
  ASSERT_TRUE(read.failure);
  EXPECT_NE(read.failure->message.find("d.jsonl.gz"), std::string::npos) << read.failure->message;
}

TEST_F(InputTest, LongLinesAreSkippedAndCounted) {
  std::string text = "first\n" + std::string(BlockReader::kMaxLine + 10, 'x') + "\nafter\n";
  const auto read = read_all(write("e.jsonl", text));
  ASSERT_EQ(read.errors.size(), 1u);
  EXPECT_EQ(read.errors[0].first, 2u);
  ASSERT_EQ(read.lines.size(), 2u);
  EXPECT_EQ(read.lines[0].second, "first");
  EXPECT_EQ(read.lines[1], (std::pair<uint64_t, std::string>{3, "after"}));
}

TEST_F(InputTest, MembersLargerThanOneCallStreamInBlocksAndReusedBuffersHoldNoOldBytes) {
  std::string text;
  for (int i = 0; text.size() < 3 * BlockReader::kWholeMemberLimit; ++i) {
    text += "{\"line\": " + std::to_string(i) + ", \"padding\": \"" + std::string(i % 97, 'y') + "\"}\n";
  }
  const auto path = write("g.jsonl.gz", gzip(text));
  // Read twice: the second read's buffers come from the pool the first one filled.
  for (int round = 0; round < 2; ++round) {
    const auto read = read_all(path);
    EXPECT_FALSE(read.failure);
    std::string joined;
    for (size_t i = 0; i < read.lines.size(); ++i) {
      ASSERT_EQ(read.lines[i].first, i + 1);
      joined += read.lines[i].second + "\n";
    }
    EXPECT_EQ(joined, text) << "round " << round;
  }
}

TEST(BufferPool, ReusesLargeBuffersAndKeepsFewOfThem) {
  BufferPool pool;
  std::string large;
  large.reserve(3 * kPooledMinimum + 4096);
  const char* address = large.data();
  pool.give(std::move(large));
  EXPECT_EQ(pool.size(), 1u);
  std::string again = pool.take(3 * kPooledMinimum + 4000);
  EXPECT_EQ(again.data(), address);
  EXPECT_EQ(pool.size(), 0u);

  // A request no kept buffer meets lets the largest go and gets a fresh one of whole MiB.
  pool.give(std::move(again));
  const std::string fresh = pool.take(5 * kPooledMinimum + 1);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(fresh.capacity() % kPooledMinimum, 0u);

  for (size_t i = 0; i < 2 * kPooledBuffers; ++i) {
    std::string buffer;
    buffer.reserve(kPooledMinimum + i);
    pool.give(std::move(buffer));
  }
  EXPECT_EQ(pool.size(), kPooledBuffers);

  std::string small;
  small.reserve(kPooledMinimum / 2);
  pool.give(std::move(small));
  EXPECT_EQ(pool.size(), kPooledBuffers);
}

TEST(BufferPool, KeepsNoMoreBytesThanItsBound) {
  BufferPool pool;
  for (size_t i = 0; i < kPooledBuffers; ++i) {
    std::string buffer;
    buffer.reserve(kPooledBytes / 2 + 1);
    pool.give(std::move(buffer));
  }
  EXPECT_EQ(pool.size(), 1u);
}

TEST_F(InputTest, JsonIsOneDocument) {
  const auto read = read_all(write("f.json", "{\n  \"a\": 1\n}\n"));
  ASSERT_EQ(read.lines.size(), 1u);
  EXPECT_EQ(read.lines[0].second, "{\n  \"a\": 1\n}\n");
}

TEST_F(InputTest, RawLayoutFoldersOutsideTheFilterAreNotEntered) {
  write("raw/20210808/01/KZ/webconnectivity/a.jsonl.gz", gzip("x\n"));
  write("raw/20210808/01/IT/webconnectivity/b.jsonl.gz", gzip("x\n"));
  write("raw/20210901/01/KZ/webconnectivity/c.jsonl.gz", gzip("x\n"));
  write("raw/20210808/01/KZ/webconnectivity/notes.txt", "not a measurement file");
  FileFilter filter{"KZ", parse_utc("2021-08-01").value(), parse_utc("2021-08-31").value()};
  auto list = find_input_files({(directory_ / "raw").string()}, filter);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->files.size(), 1u);
  EXPECT_EQ(list->files[0].path.filename(), "a.jsonl.gz");
  EXPECT_EQ(list->files[0].format, FileFormat::kJsonLinesGzip);
  EXPECT_EQ(list->skipped_by_layout, 2u);  // IT and 20210901
  EXPECT_EQ(list->ignored.size(), 1u);
}

TEST_F(InputTest, FilesGivenByNameMustBeMeasurementFiles) {
  auto wrong = find_input_files({write("x.csv", "a,b\n").string()}, {});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("x.csv"), std::string::npos);
  auto missing = find_input_files({(directory_ / "none.jsonl").string()}, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kFileNotFound);
}

}  // namespace
}  // namespace mitmscope::ooni
