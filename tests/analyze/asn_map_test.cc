#include "analyze/asn_map.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "support/test_pki.h"

namespace mitmscope {
namespace {

TEST(AsnMap, Pfx2asLongestPrefixWinsAndMultiOriginSetsKeepTheirText) {
  testing::TempDirectory directory;
  const auto path = directory.path() / "pfx2as.txt";
  testing::write_file(path,
                      "# CAIDA routeviews pfx2as\n"
                      "2.132.0.0\t14\t9198\n"
                      "2.134.0.0\t16\t9198_48716\n"
                      "2.134.5.0\t24\t206026,35104\n"
                      "95.56.0.0/14 AS9198\n"
                      "2a00:1450::\t32\t15169\n");
  auto map = AsnMap::load(path);
  ASSERT_TRUE(map) << map.error().message;
  EXPECT_FALSE(map->is_mmdb());
  EXPECT_EQ(map->prefixes(), 5u);
  auto wide = map->lookup("2.133.7.9");
  ASSERT_TRUE(wide);
  EXPECT_EQ(wide->asn, 9198u);
  EXPECT_EQ(wide->prefix, "2.132.0.0/14");
  auto moas = map->lookup("2.134.200.1");
  ASSERT_TRUE(moas);
  EXPECT_EQ(moas->asn, 9198u);
  EXPECT_EQ(moas->origins, "9198_48716");
  auto narrow = map->lookup("2.134.5.77");
  ASSERT_TRUE(narrow);
  EXPECT_EQ(narrow->asn, 206026u);
  EXPECT_EQ(narrow->prefix, "2.134.5.0/24");
  auto slash = map->lookup("95.59.255.255");
  ASSERT_TRUE(slash);
  EXPECT_EQ(slash->asn, 9198u);
  auto v6 = map->lookup("2a00:1450:4001::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->asn, 15169u);
  EXPECT_FALSE(map->lookup("95.60.0.1"));
  EXPECT_FALSE(map->lookup("not an address"));
}

TEST(AsnMap, MalformedTablesNameTheFileLineAndField) {
  testing::TempDirectory directory;
  const auto path = directory.path() / "bad.txt";
  testing::write_file(path, "2.132.0.0\t14\t9198\n2.134.0.0\t40\t9198\n");
  auto bad_length = AsnMap::load(path);
  ASSERT_FALSE(bad_length);
  EXPECT_NE(bad_length.error().message.find("bad.txt: line 2: field length"), std::string::npos) << bad_length.error().message;
  testing::write_file(path, "2.132.0.0\t14\tnine\n");
  auto bad_asn = AsnMap::load(path);
  ASSERT_FALSE(bad_asn);
  EXPECT_NE(bad_asn.error().message.find("line 1: field asn"), std::string::npos) << bad_asn.error().message;
  testing::write_file(path, "2.132.0.999\t14\t9198\n");
  auto bad_prefix = AsnMap::load(path);
  ASSERT_FALSE(bad_prefix);
  EXPECT_NE(bad_prefix.error().message.find("line 1: field prefix"), std::string::npos) << bad_prefix.error().message;
  testing::write_file(path, std::string("\x89PNG\r\n\x1a\n\0\0garbage", 18));
  EXPECT_FALSE(AsnMap::load(path));
  EXPECT_FALSE(AsnMap::load(directory.path() / "missing.txt"));
}

// A GeoLite2-ASN-shaped database written by MaxMind's own writer (Debian's libmaxmind-db-writer-perl).
TEST(AsnMap, ReadsMaxMindAsnDatabases) {
  testing::TempDirectory directory;
  const auto database = directory.path() / "asn.mmdb";
  const auto script = directory.path() / "write.pl";
  testing::write_file(script, R"(use strict;
use MaxMind::DB::Writer::Tree;
my %types = (autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(ip_version => 6, record_size => 24, database_type => 'GeoLite2-ASN',
  languages => ['en'], description => {en => 'mitmscope test'}, map_key_type_callback => sub { $types{$_[0]} });
$tree->insert_network('2.132.0.0/14', {autonomous_system_number => 9198, autonomous_system_organization => 'JSC Kazakhtelecom'});
$tree->insert_network('2a00:1450::/32', {autonomous_system_number => 15169, autonomous_system_organization => 'GOOGLE'});
open my $fh, '>:raw', $ARGV[0] or die;
$tree->write_tree($fh);
)");
  const std::string command = "perl " + script.string() + " " + database.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << "needs libmaxmind-db-writer-perl (scripts/install-deps.sh)";
  auto map = AsnMap::load(database);
  ASSERT_TRUE(map) << map.error().message;
  EXPECT_TRUE(map->is_mmdb());
  auto kazakhtelecom = map->lookup("2.134.1.2");
  ASSERT_TRUE(kazakhtelecom);
  EXPECT_EQ(kazakhtelecom->asn, 9198u);
  EXPECT_EQ(kazakhtelecom->name, "JSC Kazakhtelecom");
  EXPECT_EQ(kazakhtelecom->prefix, "2.132.0.0/14");
  auto google = map->lookup("2a00:1450:4001::5");
  ASSERT_TRUE(google);
  EXPECT_EQ(google->asn, 15169u);
  EXPECT_FALSE(map->lookup("8.8.8.8"));
}

}  // namespace
}  // namespace mitmscope
