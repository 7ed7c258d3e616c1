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

  EXPECT_TRUE(truth->sources.empty());
  EXPECT_FALSE(std::filesystem::exists(directory.path() / "sources"));

  // One seed, one campaign, whoever records it: the certificates' keys are new each time, everything else is the
  // seed's, and with --other-sources half the Kazakh HTTPS measurements go to RIPE Atlas, Hyperquack and ZGrab2.
  testing::TempDirectory again;
  OoniCorpusOptions with_others = options;
  with_others.other_sources = 0.5;
  const auto second = write_ooni_corpus(again.path(), with_others);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->domains, truth->domains);
  EXPECT_EQ(second->networks, truth->networks);
  EXPECT_EQ(second->network_measurements, truth->network_measurements);
  for (const char* source : {"atlas-sslcert", "hyperquack-v1", "hyperquack-v2", "zgrab2"}) {
    ASSERT_TRUE(second->sources.contains(source)) << source;
    EXPECT_GT(second->sources.at(source).records, 0u) << source;
    EXPECT_GT(gzip_files(again.path() / "sources" / source), 0u) << source;
  }
  EXPECT_FALSE(second->sources.contains("satellite")) << "Satellite fetches only after a DNS answer disagreed";
  EXPECT_EQ(gzip_files(again.path()), second->files);
  // OONI's categories lose exactly what the other sources took: clean and intercepted handshakes.
  size_t records = 0, intercepted = 0;
  for (const auto& [source, counts] : second->sources) records += counts.records, intercepted += counts.intercepted;
  const auto lost = [&](const char* category) {
    return truth->categories.at(category) - (second->categories.contains(category) ? second->categories.at(category) : 0);
  };
  EXPECT_EQ(lost("intercepted/known_interceptor") + lost("intercepted/forging_ca"), intercepted);
  EXPECT_EQ(lost("clean") + intercepted, records);
  std::ifstream pfx2as(again.path() / "pfx2as.txt");
  std::string first;
  std::getline(pfx2as, first);
  EXPECT_TRUE(first.starts_with("10.32.0.0\t16\t")) << first;
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
