#include "analyze/local_roots.h"

#include <gtest/gtest.h>

namespace mitmscope {
namespace {

TEST(LocalRoots, CertutilListingGivesNicknamesWithSpacesAndTheirTrust) {
  const std::string listing =
      "\nCertificate Nickname                                         Trust Attributes\n"
      "                                                             SSL,S/MIME,JAR/XPI\n\n"
      "ISCA root (installed for the 2020 campaign)                  C,,  \n"
      "Stored Only                                                  ,,   \n"
      "Corp, Inc. Root                                              CT,C,c\n";
  const auto entries = parse_certutil_listing(listing);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0], (std::pair<std::string, std::string>{"ISCA root (installed for the 2020 campaign)", "C,,"}));
  EXPECT_EQ(entries[1], (std::pair<std::string, std::string>{"Stored Only", ",,"}));
  EXPECT_EQ(entries[2], (std::pair<std::string, std::string>{"Corp, Inc. Root", "CT,C,c"}));
}

TEST(LocalRoots, AMissingTreeIsReportedNotFatal) {
  const auto roots = collect_local_roots({.root = "/nonexistent-mitmscope-tree", .p11kit = true});
  EXPECT_TRUE(roots.certificates.empty());
  ASSERT_FALSE(roots.skipped.empty());
  EXPECT_NE(roots.skipped.front().find("ca-certificates.crt"), std::string::npos);
}

}  // namespace
}  // namespace mitmscope
