// The kz-2021 scenario as OONI measurements (lab/ooni_corpus.h): the files and the ground truth agree, one seed
// gives one corpus, and a bad date range is refused. (That `ooni` recovers the ground truth exactly is ooni_e2e's.)
#include "lab/ooni_corpus.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/test_pki.h"

namespace mitmscope::lab {
namespace {

size_t gzip_files(const std::filesystem::path& directory) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory)) {
    files += entry.is_regular_file() && entry.path().string().ends_with(".jsonl.gz");
  }
  return files;
}

TEST(OoniCorpus, TheFilesAndTheGroundTruthAgreeAndOneSeedGivesOneCorpus) {
  testing::TempDirectory directory;
  const OoniCorpusOptions options{.measurements = 2000, .seed = 11, .malformed = 2};
  const auto truth = write_ooni_corpus(directory.path(), options);
  ASSERT_TRUE(truth) << truth.error().message;
  EXPECT_EQ(truth->measurements, 2000u);
  EXPECT_EQ(truth->malformed, 2u);
  EXPECT_EQ(gzip_files(directory.path() / "raw"), truth->files);
  ASSERT_FALSE(truth->issuers.empty());
  EXPECT_LE(truth->issuers.size(), 7u);
  size_t forged = 0;
  for (const auto& issuer : truth->issuers) {
    EXPECT_EQ(issuer.sha256.size(), 64u);
    EXPECT_LE(issuer.first_seen, issuer.last_seen);
    EXPECT_TRUE(issuer.root == "unknown" || std::filesystem::exists(directory.path() / "known-roots" / (issuer.root + ".pem")))
        << issuer.root;
    forged += issuer.handshakes;
  }
  size_t counted = 0;
  for (const auto& [domain, count] : truth->domains) counted += count;
  EXPECT_EQ(counted, forged) << "every forged handshake is counted under its domain";
  std::ifstream file(directory.path() / "ground-truth.json");
  EXPECT_EQ(nlohmann::ordered_json::parse(file), ooni_corpus_truth_json(*truth));
  EXPECT_TRUE(std::filesystem::exists(directory.path() / "trust" / "public-root.pem"));

  // One seed, one corpus: the certificates' keys are new each time, everything else is the seed's.
  testing::TempDirectory again;
  const auto second = write_ooni_corpus(again.path(), options);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->domains, truth->domains);
  EXPECT_EQ(second->network_measurements, truth->network_measurements);
  EXPECT_EQ(second->categories, truth->categories);
  EXPECT_EQ(second->files, truth->files);
}

TEST(OoniCorpus, ABadDateRangeIsRefusedBeforeAnythingIsWritten) {
  testing::TempDirectory directory;
  const auto backwards = write_ooni_corpus(directory.path() / "out", {.measurements = 10, .from = "2024-01-02", .to = "2024-01-01"});
  ASSERT_FALSE(backwards);
  EXPECT_NE(backwards.error().message.find("--from 2024-01-02 is not before --to 2024-01-01"), std::string::npos);
  const auto garbage = write_ooni_corpus(directory.path() / "out", {.measurements = 10, .from = "2024-13-01"});
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("--from 2024-13-01: not a date"), std::string::npos) << garbage.error().message;
  EXPECT_FALSE(std::filesystem::exists(directory.path() / "out"));
}

}  // namespace
}  // namespace mitmscope::lab
