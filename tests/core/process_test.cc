#include "core/process.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/base64.h"
#include "core/unique_fd.h"

namespace mitmscope {
namespace {

TEST(RunCommand, GivesInputAndReturnsOutput) {
  auto output = run_command({"tr", "a-z", "A-Z"}, "hello\n");
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(*output, "HELLO\n");
}

TEST(RunCommand, AFailureCarriesTheCommandAndItsErrors) {
  auto output = run_command({"sh", "-c", "echo broken >&2; exit 3"});
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().code, ErrorCode::kNetworkError);
  EXPECT_NE(output.error().message.find("sh -c"), std::string::npos);
  EXPECT_NE(output.error().message.find("broken"), std::string::npos);
}

TEST(RunCommand, AMissingProgramSaysHowToInstallIt) {
  auto output = run_command({"mitmscope-no-such-program"});
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().code, ErrorCode::kFileNotFound);
  EXPECT_NE(output.error().message.find("install-deps"), std::string::npos);
}

TEST(RunCommand, AChildThatDoesNotReadItsInputEndsNothingButItself) {
  auto output = run_command({"true"}, std::string(1 << 20, 'x'));
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(*output, "");
}

TEST(RunCommand, LargeOutputOnBothStreamsDoesNotBlock) {
  // More than a pipe holds (64 KiB) on stderr before anything on stdout.
  auto output = run_command({"sh", "-c", "head -c 300000 /dev/zero >&2; echo done"});
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(*output, "done\n");
}

TEST(Spawn, WritesALogAndReportsTheExitStatus) {
  const auto log = std::filesystem::temp_directory_path() / "mitmscope-process-test.log";
  std::filesystem::remove(log);
  auto child = spawn({.argv = {"sh", "-c", "echo out; echo err >&2; exit 4"}, .log = log, .truncate_log = true});
  ASSERT_TRUE(child) << child.error().message;
  const ExitStatus status = wait_for_exit(child->pid);
  EXPECT_FALSE(status.success());
  EXPECT_EQ(status.code, 4);
  EXPECT_EQ(status.shell_status(), 4);
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_EQ(text.str(), "out\nerr\n");
  std::filesystem::remove(log);
}

TEST(Spawn, ATimeoutKillsTheChild) {
  auto child = spawn({.argv = {"sleep", "30"}});
  ASSERT_TRUE(child);
  const ExitStatus status = wait_for_exit(child->pid, std::chrono::milliseconds(50));
  EXPECT_TRUE(status.timed_out);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.shell_status(), 128 + SIGKILL);
}

TEST(UniqueFile, OpenFileNamesThePathAndTheReason) {
  auto missing = open_file("/nonexistent-dir/mitmscope.json", "r");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kFileNotFound);
  EXPECT_NE(missing.error().message.find("/nonexistent-dir/mitmscope.json"), std::string::npos);
  auto unwritable = open_file("/nonexistent-dir/out.jsonl", "w");
  ASSERT_FALSE(unwritable);
  EXPECT_EQ(unwritable.error().code, ErrorCode::kFileUnwritable);
}

TEST(UniqueFd, ClosesOnceAndHandsOverOnRelease) {
  auto pipe = make_pipe(0);
  ASSERT_TRUE(pipe);
  const int read_end = pipe->read.get();
  UniqueFd moved = std::move(pipe->read);
  EXPECT_FALSE(pipe->read);
  EXPECT_EQ(moved.get(), read_end);
  pipe->write.reset();
  char byte;
  EXPECT_EQ(::read(moved.get(), &byte, 1), 0);   // the write end is closed: end of file
  const int released = moved.release();
  EXPECT_FALSE(moved);
  EXPECT_EQ(::close(released), 0);                // still open after release: closed here exactly once
}

TEST(Base64, RoundTripsAndAcceptsTheUrlAlphabetAndWhitespace) {
  const std::vector<uint8_t> bytes = {0xfb, 0xff, 0x00, 0x10, 0x83};
  const std::string text = base64_encode(bytes);
  EXPECT_EQ(text, "+/8AEIM=");
  EXPECT_EQ(base64_decode(text), bytes);
  EXPECT_EQ(base64_decode("-_8A\nEIM"), bytes);
  EXPECT_EQ(base64_decode("not base64!"), std::nullopt);
  EXPECT_EQ(base64_decode(""), std::nullopt);
  EXPECT_EQ(base64_decode(" \t\r\n"), std::nullopt) << "white space alone is nothing";
  std::vector<uint8_t> grown;
  for (uint8_t length = 1; length <= 7; ++length) {
    grown.push_back(static_cast<uint8_t>(0xf0 + length));
    std::string unpadded = base64_encode(grown);
    while (unpadded.ends_with('=')) unpadded.pop_back();
    EXPECT_EQ(base64_decode(unpadded), grown) << "without its padding: " << unpadded;
    EXPECT_EQ(base64_decode(" " + base64_encode(grown) + "\n"), grown);
  }
}

}  // namespace
}  // namespace mitmscope
