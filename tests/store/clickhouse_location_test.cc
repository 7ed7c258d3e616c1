#include "store/clickhouse_location.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <curl/curl.h>
#include <gtest/gtest.h>

#include "store/clickhouse_http.h"

namespace mitmscope {
namespace {

TEST(StoreAddress, ReadsUserTlsCaAndPasswordFileFromTheAddress) {
  auto location = parse_clickhouse_uri("clickhouse://writer@db1:8443,db2:8443/campaign?cluster=kz&secure=1&ca=/etc/ch/ca.pem"
                                       "&password_file=/home/r/.ch-writer");
  ASSERT_TRUE(location) << location.error().message;
  EXPECT_EQ(location->user, "writer");
  EXPECT_EQ(location->servers, (std::vector<std::string>{"db1:8443", "db2:8443"}));
  EXPECT_EQ(location->database, "campaign");
  EXPECT_EQ(location->cluster, "kz");
  EXPECT_TRUE(location->secure);
  EXPECT_EQ(location->ca_file, "/etc/ch/ca.pem");
  EXPECT_EQ(location->password_file, "/home/r/.ch-writer");
  const auto access = clickhouse_access(*location, "db2:8443", "s3cret");
  EXPECT_EQ(access.base_url, "https://db2:8443");
  EXPECT_EQ(access.user, "writer");
  EXPECT_EQ(access.password, "s3cret");
  EXPECT_EQ(clickhouse_access(*parse_clickhouse_uri("clickhouse://h:8123/db"), "h:8123", "").base_url, "http://h:8123");
}

TEST(StoreAddress, RefusesAPasswordInTheAddressAndSaysWhereItGoes) {
  for (const char* bad : {"clickhouse://writer:s3cret@h:8443/db", "clickhouse://h:8443/db?password=s3cret"}) {
    auto parsed = parse_clickhouse_uri(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find("password_file=FILE"), std::string::npos) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find("ps"), std::string::npos) << parsed.error().message;
  }
  for (const char* bad : {"clickhouse://h:1/db?ca=/x.pem", "clickhouse://h:1/db?secure=yes", "clickhouse://h:1/db?cluster=",
                          "clickhouse://a b@h:1/db", "clickhouse://h:1/db?tls=1"}) {
    EXPECT_FALSE(parse_clickhouse_uri(bad)) << bad;
  }
}

class PasswordFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / ("mitmscope-ch-password-" + std::to_string(::getpid()));
    std::ofstream(path_) << "s3cret\nsecond line\n";
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_;
};

TEST_F(PasswordFile, IsReadWhenOnlyItsOwnerMayReadIt) {
  ::chmod(path_.c_str(), 0600);
  auto password = read_password_file(path_);
  ASSERT_TRUE(password) << password.error().message;
  EXPECT_EQ(*password, "s3cret") << "the first line, without its newline";
  ::chmod(path_.c_str(), 0640);
  auto refused = read_password_file(path_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("chmod 600 " + path_.string()), std::string::npos) << refused.error().message;
  auto missing = read_password_file(path_.string() + ".none");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(path_.string() + ".none"), std::string::npos);
}

TEST_F(PasswordFile, TheAddressFileComesFirstThenTheFileVariableThenThePasswordVariable) {
  ::chmod(path_.c_str(), 0600);
  std::map<std::string, std::string> variables;
  const Environment environment = [&](const char* name) -> const char* {
    const auto found = variables.find(name);
    return found == variables.end() ? nullptr : found->second.c_str();
  };
  auto location = *parse_clickhouse_uri("clickhouse://w@h:1/db");
  EXPECT_EQ(clickhouse_password(location, environment).value(), "") << "no password anywhere: none";
  variables[kClickHousePasswordVariable] = "from-variable";
  EXPECT_EQ(clickhouse_password(location, environment).value(), "from-variable");
  variables[kClickHousePasswordFileVariable] = path_.string();
  EXPECT_EQ(clickhouse_password(location, environment).value(), "s3cret");
  variables[kClickHousePasswordFileVariable] = path_.string() + ".none";
  location.password_file = path_.string();
  EXPECT_EQ(clickhouse_password(location, environment).value(), "s3cret") << "password_file= wins";
}

TEST(StoreServerErrors, SayWhatToDoAboutRightsAndCertificates) {
  const auto wrong = clickhouse::server_error_hint("Code: 193, e.displayText() = DB::Exception: Wrong password for user w", "w");
  EXPECT_NE(wrong.find("user w"), std::string::npos);
  EXPECT_NE(wrong.find("password_file=FILE"), std::string::npos);
  EXPECT_NE(clickhouse::server_error_hint("Code: 392, e.displayText() = DB::Exception: Cannot create table. DDL queries are "
                                          "prohibited for the user", "w").find("allow_ddl=0"),
            std::string::npos);
  EXPECT_NE(clickhouse::server_error_hint("Code: 164, Cannot insert into table in readonly mode", "r").find("only read"),
            std::string::npos);
  EXPECT_EQ(clickhouse::server_error_hint("Code: 60, Table db.x doesn't exist", "w"), "") << "the server's own words suffice";
  EXPECT_NE(clickhouse::transport_hint(CURLE_PEER_FAILED_VERIFICATION, true).find("ca=FILE"), std::string::npos);
  EXPECT_NE(clickhouse::transport_hint(CURLE_SSL_CONNECT_ERROR, true).find("https_port"), std::string::npos);
  EXPECT_NE(clickhouse::transport_hint(CURLE_GOT_NOTHING, false).find("secure=1"), std::string::npos);
}

}  // namespace
}  // namespace mitmscope
