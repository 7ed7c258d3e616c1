#include "report/browser_export.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "support/test_pki.h"
#include "x509/certificate_reader.h"

namespace mitmscope {
namespace {

using testing::must;

template <typename T>
T ok(Result<T> result) {
  EXPECT_TRUE(result) << (result ? "" : result.error().message);
  return result ? std::move(*result) : T{};
}

std::vector<uint8_t> base64_decode(const std::string& text) {
  std::vector<uint8_t> out(text.size());
  const int length = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (length < 0) return {};
  size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) ++padding;
  out.resize(static_cast<size_t>(length) - padding);
  return out;
}

// The SPKI SHA-256 of every registry certificate that data/known-roots/SOURCES.md lists in Chromium's
// kSPKIBlockList form (values copied from Chromium's blocklist, not computed by us).
TEST(BrowserExport, SpkiHashesAreChromiumsForm) {
  std::ifstream sources(testing::source_path("data/known-roots/SOURCES.md"));
  std::stringstream text;
  text << sources.rdbuf();
  const std::string body = text.str();
  const std::regex section(R"(## ([^\n]+\.pem)\n)");
  const std::regex spki(R"(SPKI SHA-256 \(Chromium kSPKIBlockList form\): `([0-9a-f]{64})`)");
  size_t checked = 0;
  for (auto it = std::sregex_iterator(body.begin(), body.end(), section); it != std::sregex_iterator(); ++it) {
    const size_t start = static_cast<size_t>(it->position()) + it->length();
    const size_t end = body.find("\n## ", start);
    const std::string part = body.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::smatch value;
    if (!std::regex_search(part, value, spki)) continue;
    const auto chain = read_certificate_file(testing::source_path("data/known-roots/" + (*it)[1].str()));
    ASSERT_TRUE(chain) << chain.error().message;
    EXPECT_EQ(chain->front().spki_sha256_hex(), value[1].str()) << (*it)[1].str();
    ++checked;
  }
  EXPECT_GE(checked, 10u);  // the ten Kazakh roots at least
}

class BrowserExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto now = now_utc();
    auto spec = testing::ca_spec("Export Root", now);
    spec.serial = {0x80, 0x01, 0x02};  // high bit set: OneCRL needs the leading zero of the DER INTEGER
    root_ = must(lab::make_identity(spec, {}, nullptr));
    auto intermediate = testing::ca_spec("Export Intermediate", now);
    intermediate.serial = {0x01, 0x02};
    intermediate_ = must(lab::make_identity(intermediate, {}, &*root_));
    entries_ = {{.certificate = root_->certificate, .role = export_role(root_->certificate), .sources = {"root.pem"}},
                {.certificate = intermediate_->certificate, .role = export_role(intermediate_->certificate),
                 .sources = {"store"}, .signed_by = root_->certificate.sha256_hex(), .results = 7,
                 .first_seen = "2019-07-18T00:00:00Z", .last_seen = "2019-08-07T00:00:00Z",
                 .domains = {"facebook.com", "google.com"}, .hosts = {"1.2.3.4:443"}}};
    options_.created = ok(parse_utc("2026-12-01T00:00:00Z"));
    options_.bug = "https://bugs.example/1";
  }
  std::optional<lab::Identity> root_, intermediate_;
  std::vector<ExportEntry> entries_;
  ExportOptions options_;
};

TEST_F(BrowserExportTest, RolesFollowSelfSignature) {
  EXPECT_EQ(entries_[0].role, "root");
  EXPECT_EQ(entries_[1].role, "intermediate");
}

TEST_F(BrowserExportTest, OneCrlRecordsCarryIssuerAndSerialAndSubjectAndKey) {
  const auto records = onecrl_records(entries_, options_)["data"];
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(base64_decode(records[0]["serialNumber"]), (std::vector<uint8_t>{0x00, 0x80, 0x01, 0x02}));
  EXPECT_EQ(base64_decode(records[2]["serialNumber"]), (std::vector<uint8_t>{0x01, 0x02}));
  // The intermediate's issuerName is the root's subject, as DER.
  EXPECT_EQ(base64_decode(records[2]["issuerName"]), root_->certificate.subject_der());
  const auto& key = root_->certificate.spki_sha256();
  EXPECT_EQ(base64_decode(records[1]["pubKeyHash"]), std::vector<uint8_t>(key.begin(), key.end()));
  EXPECT_EQ(base64_decode(records[1]["subject"]), root_->certificate.subject_der());
  EXPECT_EQ(records[0]["details"]["bug"], "https://bugs.example/1");
  EXPECT_EQ(records[0]["details"]["created"], "2026-12-01T00:00:00Z");
  // Ids are UUIDs, stable across exports, different per record.
  EXPECT_TRUE(std::regex_match(records[0]["id"].get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  EXPECT_EQ(records[0]["id"], onecrl_records(entries_, options_)["data"][0]["id"]);
  EXPECT_NE(records[0]["id"], records[1]["id"]);
}

TEST_F(BrowserExportTest, CrlSetIsALengthPrefixedJsonHeader) {
  const auto bytes = ok(crlset_bytes(entries_, options_));
  ASSERT_GT(bytes.size(), 2u);
  const size_t length = static_cast<uint8_t>(bytes[0]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[1])) << 8);
  ASSERT_EQ(length, bytes.size() - 2);
  const auto header = nlohmann::json::parse(bytes.substr(2));
  EXPECT_EQ(header["ContentType"], "CRLSet");
  EXPECT_EQ(header["NumParents"], 0);
  ASSERT_EQ(header["KnownInterceptionSPKIs"].size(), 2u);
  const auto& key = intermediate_->certificate.spki_sha256();
  EXPECT_EQ(base64_decode(header["KnownInterceptionSPKIs"][1]), std::vector<uint8_t>(key.begin(), key.end()));
  EXPECT_EQ(header["BlockedSPKIs"], header["KnownInterceptionSPKIs"]);
  options_.block = false;
  const auto known = nlohmann::json::parse(ok(crlset_bytes(entries_, options_)).substr(2));
  EXPECT_TRUE(known["BlockedSPKIs"].empty());
  EXPECT_TRUE(known["BlockedInterceptionSPKIs"].empty());
  EXPECT_EQ(known["KnownInterceptionSPKIs"].size(), 2u);
}

TEST_F(BrowserExportTest, ACrlSetTooLargeForItsHeaderIsRefused) {
  std::vector<ExportEntry> many(2000, entries_[0]);
  const auto bytes = crlset_bytes(many, options_);
  ASSERT_FALSE(bytes);
  EXPECT_NE(bytes.error().message.find("65,535"), std::string::npos);
}

TEST_F(BrowserExportTest, ChromiumFilesNameTheKeyAndTheCertificate) {
  const std::string inc = chromium_spki_inc(entries_);
  const auto& key = root_->certificate.spki_sha256();
  EXPECT_NE(inc.find(fmt::format("0x{:02x}, 0x{:02x}, 0x{:02x}", key[0], key[1], key[2])), std::string::npos);
  EXPECT_NE(inc.find("kKnownInterceptionList"), std::string::npos);
  EXPECT_NE(inc.find(root_->certificate.sha256_hex()), std::string::npos);
  const std::string pem = chromium_blocklist_pem(entries_[1]);
  EXPECT_NE(pem.find("Measured: 7 intercepted handshakes"), std::string::npos);
  EXPECT_EQ(ok(parse_certificates({reinterpret_cast<const uint8_t*>(pem.data()), pem.size()}, "x.pem")).front(),
            intermediate_->certificate);
}

TEST_F(BrowserExportTest, EvidenceSaysWhatWasMeasuredAndWhichRootSigned) {
  const auto files = ok(browser_export(entries_, options_));
  std::map<std::string, std::string> by_path;
  for (const auto& file : files) by_path[file.path] = file.content;
  ASSERT_TRUE(by_path.contains("chromium/blocklist/" + root_->certificate.sha256_hex() + ".pem"));
  ASSERT_TRUE(by_path.contains("firefox/onecrl.json"));
  ASSERT_TRUE(by_path.contains("certificates.pem"));
  EXPECT_EQ(ok(parse_certificates({reinterpret_cast<const uint8_t*>(by_path["certificates.pem"].data()),
                                     by_path["certificates.pem"].size()}, "bundle")).size(), 2u);
  const auto evidence = nlohmann::json::parse(by_path["evidence.json"]);
  EXPECT_EQ(evidence["certificates"][1]["signed_by"], root_->certificate.sha256_hex());
  EXPECT_EQ(evidence["certificates"][1]["intercepted_results"], 7);
  EXPECT_EQ(evidence["certificates"][1]["domains"].size(), 2u);
  EXPECT_NE(by_path["EVIDENCE.md"].find("signed by the root " + root_->certificate.sha256_hex()), std::string::npos);
  EXPECT_NE(by_path["EVIDENCE.md"].find("facebook.com, google.com"), std::string::npos);
}

}  // namespace
}  // namespace mitmscope
