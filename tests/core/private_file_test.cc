// core/private_file: files that hold measurements or keys are created 0600 whatever the umask; an existing file
// keeps its mode; a file that cannot be written is an error naming it.
#include "core/private_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "support/test_pki.h"

namespace mitmscope {
namespace {

using std::filesystem::perms;

perms mode_of(const std::filesystem::path& path) { return std::filesystem::status(path).permissions() & perms::all; }

std::string text_of(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(PrivateFile, NewFilesAreTheOwnersAloneWhateverTheUmask) {
  testing::TempDirectory directory;
  const mode_t previous = ::umask(0);
  const auto created = create_private_file(directory.path() / "visits.jsonl");
  const auto written = write_private_file(directory.path() / "key.pem", "secret\n");
  ::umask(previous);
  ASSERT_TRUE(created && written);
  EXPECT_EQ(mode_of(directory.path() / "visits.jsonl"), perms::owner_read | perms::owner_write);
  EXPECT_EQ(mode_of(directory.path() / "key.pem"), perms::owner_read | perms::owner_write);
  EXPECT_EQ(text_of(directory.path() / "key.pem"), "secret\n");
}

TEST(PrivateFile, AnExistingFileKeepsItsModeAndIsReplaced) {
  testing::TempDirectory directory;
  const auto path = directory.path() / "shared.txt";
  std::ofstream(path) << "a longer first text\n";
  std::filesystem::permissions(path, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
  ASSERT_TRUE(create_private_file(path));
  EXPECT_EQ(text_of(path), "a longer first text\n") << "creating an existing file leaves it as it is";
  ASSERT_TRUE(write_private_file(path, "second\n"));
  EXPECT_EQ(text_of(path), "second\n");
  EXPECT_EQ(mode_of(path), perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
}

TEST(PrivateFile, AFileThatCannotBeWrittenIsAnErrorNamingIt) {
  const auto written = write_private_file("/nonexistent/directory/key.pem", "x");
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("/nonexistent/directory/key.pem: cannot write"), std::string::npos) << written.error().message;
}

}  // namespace
}  // namespace mitmscope
