#include "x509/registry.h"

#include <set>

#include <gtest/gtest.h>

#include "support/test_pki.h"
#include "x509/certificate_reader.h"

namespace mitmscope {
namespace {

using testing::must;

const InterceptorRegistry& builtin() {
  static const InterceptorRegistry registry = *InterceptorRegistry::builtin();
  return registry;
}

// The shipped PEM files are verbatim copies of shared/data/kz-certs and mitm-roots;
// their names end with the first 8 hex digits of the certificate's SHA-256.
std::vector<std::filesystem::path> shipped_root_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_path("data/known-roots"))) {
    if (entry.path().extension() == ".pem") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Registry, ShipsTheTenKazakhAndThirteenOtherInterceptionCertificates) {
  ASSERT_TRUE(InterceptorRegistry::builtin());
  EXPECT_EQ(builtin().entries().size(), 23u);
  size_t kazakh = 0;
  for (const auto& entry : builtin().entries()) {
    ASSERT_TRUE(entry->certificate) << entry->id;
    EXPECT_FALSE(entry->name.empty()) << entry->id;
    EXPECT_FALSE(entry->references.empty()) << entry->id;
    kazakh += entry->country == "KZ";
  }
  EXPECT_EQ(kazakh, 10u);
}

TEST(Registry, RecognisesEveryRealRootWithItsExactEntry) {
  const auto files = shipped_root_files();
  ASSERT_EQ(files.size(), 23u);
  for (const auto& file : files) {
    const auto chain = read_certificate_file(file);
    ASSERT_TRUE(chain) << chain.error().message;
    const std::string stem = file.stem().string();
    const std::string expected_id = stem.substr(0, stem.rfind("_sha256-"));
    const std::string sha256_prefix = stem.substr(stem.rfind("_sha256-") + 8);
    EXPECT_EQ(chain->front().sha256_hex().substr(0, 8), sha256_prefix) << file;
    const auto attribution = builtin().attribute(*chain);
    ASSERT_TRUE(attribution) << file;
    EXPECT_EQ(attribution.entry->id, expected_id);
    EXPECT_EQ(attribution.method, AttributionMethod::kIdenticalCertificate);
  }
}

TEST(Registry, SevenKazakhRootsShareOneNameButNotOneKey) {
  const std::string shared_name = "CN=Information Security Certification Authority, O=ISCA, C=KZ";
  std::set<std::string> keys;
  size_t with_name = 0;
  for (const auto& entry : builtin().entries()) {
    if (entry->certificate->subject() == shared_name) {
      ++with_name;
      keys.insert(entry->certificate->spki_sha256_hex());
    }
  }
  EXPECT_EQ(with_name, 7u);
  EXPECT_EQ(keys.size(), 7u);
}

class AttributionTest : public ::testing::Test {
 protected:
  const UtcSeconds now_ = now_utc();
};

TEST_F(AttributionTest, AnImpostorWithAnIscaNameAndAnotherKeyIsNotAttributed) {
  lab::CertificateSpec impostor_spec = testing::ca_spec("x", now_);
  impostor_spec.subject = {{"CN", "Information Security Certification Authority"}, {"O", "ISCA"}, {"C", "KZ"}};
  const auto impostor = must(lab::make_identity(impostor_spec, {}, nullptr));
  auto intermediate_spec = testing::ca_spec("Impostor Intermediate", now_);
  const auto intermediate = must(lab::make_identity(intermediate_spec, {}, &impostor));
  const auto leaf = must(lab::make_identity(testing::leaf_spec("rutracker.org", now_), {}, &intermediate));
  ASSERT_EQ(impostor.certificate.subject(), "CN=Information Security Certification Authority, O=ISCA, C=KZ");

  const Chain chain{leaf.certificate, intermediate.certificate, impostor.certificate};
  const auto attribution = builtin().attribute(chain);
  EXPECT_FALSE(attribution);
  // Both the intermediate (names the ISCA root as issuer) and the impostor root collide
  // with each of the seven real roots of that name.
  std::map<size_t, std::set<std::string>> collisions;
  for (const auto& collision : attribution.collisions) collisions[collision.chain_position].insert(collision.entry_id);
  EXPECT_EQ(collisions[1].size(), 7u);
  EXPECT_EQ(collisions[2].size(), 7u);
  EXPECT_TRUE(collisions[1].contains("isca-root-2020-0539-valid2050-ooni-sha1-ea5d093c"));
  EXPECT_FALSE(collisions.contains(0));
}

TEST_F(AttributionTest, AChainSignedByARegistryRootIsAttributedEvenWithoutAuthorityKeyId) {
  testing::TempDirectory directory;
  const auto root = must(lab::make_identity(testing::ca_spec("Test Interception Root", now_), {}, nullptr));
  testing::write_file(directory.path() / "test-root.pem", lab::certificate_pem(root.certificate));
  auto registry = InterceptorRegistry::load_directory(directory.path());
  ASSERT_TRUE(registry) << registry.error().message;
  registry->merge(builtin());

  auto intermediate_spec = testing::ca_spec("Security Certificate", now_);
  intermediate_spec.authority_key_id = false;
  const auto intermediate = must(lab::make_identity(intermediate_spec, {}, &root));
  ASSERT_FALSE(intermediate.certificate.authority_key_id());
  auto leaf_spec = testing::leaf_spec("facebook.com", now_);
  leaf_spec.authority_key_id = false;
  const auto leaf = must(lab::make_identity(leaf_spec, {}, &intermediate));

  const auto attribution = registry->attribute(Chain{leaf.certificate, intermediate.certificate});
  ASSERT_TRUE(attribution);
  EXPECT_EQ(attribution.entry->id, "test-root");
  EXPECT_EQ(attribution.method, AttributionMethod::kSignature);
  EXPECT_EQ(attribution.chain_position, 1u);
  EXPECT_FALSE(attribution.authority_key_id_matched);

  // A lone intermediate (what OONI keeps) is attributed the same way.
  const auto lone = registry->attribute(Chain{intermediate.certificate});
  ASSERT_TRUE(lone);
  EXPECT_EQ(lone.entry->id, "test-root");
  EXPECT_EQ(lone.chain_position, 0u);
}

TEST_F(AttributionTest, AnAuthorityKeyIdPointingAtARegistryRootIsNotEnough) {
  // The impostor copies the real root's SKI into its own certificate so that the
  // intermediate's AKI names the real root; the signature still decides.
  testing::TempDirectory directory;
  const auto real_root = must(lab::make_identity(testing::ca_spec("Registry Root", now_), {}, nullptr));
  testing::write_file(directory.path() / "registry-root.pem", lab::certificate_pem(real_root.certificate));
  const auto registry = InterceptorRegistry::load_directory(directory.path());
  ASSERT_TRUE(registry);

  auto impostor_spec = testing::ca_spec("Registry Root", now_);
  impostor_spec.subject_key_id = false;
  impostor_spec.extra_extensions.push_back({"2.5.29.14", false, {}});
  const auto ski = *real_root.certificate.subject_key_id();
  impostor_spec.extra_extensions.back().value = {0x04, static_cast<uint8_t>(ski.size())};
  impostor_spec.extra_extensions.back().value.insert(impostor_spec.extra_extensions.back().value.end(), ski.begin(), ski.end());
  const auto impostor = must(lab::make_identity(impostor_spec, {}, nullptr));
  ASSERT_EQ(*impostor.certificate.subject_key_id(), ski);
  const auto leaf = must(lab::make_identity(testing::leaf_spec("vk.com", now_), {}, &impostor));
  ASSERT_EQ(*leaf.certificate.authority_key_id(), ski);

  const auto attribution = registry->attribute(Chain{leaf.certificate});
  EXPECT_FALSE(attribution);
  ASSERT_EQ(attribution.collisions.size(), 1u);
  EXPECT_EQ(attribution.collisions.front().entry_id, "registry-root");
}

TEST_F(AttributionTest, ACertificateCarryingARegistryKeyIsAttributedBySpki) {
  testing::TempDirectory directory;
  const auto root = must(lab::make_identity(testing::ca_spec("Keyed Root", now_), {}, nullptr));
  testing::write_file(directory.path() / "keyed.pem", lab::certificate_pem(root.certificate));
  const auto registry = InterceptorRegistry::load_directory(directory.path());
  ASSERT_TRUE(registry);
  // Re-issued with the same key under another name and serial (a cross-sign, say).
  auto reissue_spec = testing::ca_spec("Renamed Root", now_);
  const auto reissued = lab::issue_certificate(reissue_spec, root.key.get(), nullptr);
  ASSERT_TRUE(reissued);
  const auto attribution = registry->attribute(Chain{*reissued});
  ASSERT_TRUE(attribution);
  EXPECT_EQ(attribution.method, AttributionMethod::kSameKey);
  EXPECT_EQ(attribution.entry->id, "keyed");
}

TEST_F(AttributionTest, SpkiOnlyEntriesFromRegistryJsonMatchByKey) {
  const auto key_holder = must(lab::make_identity(testing::ca_spec("Only Key Known", now_), {}, nullptr));
  const std::string metadata = R"({"entries": [], "spki_only": [{"id": "chromium-known-interception-test",
      "name": "test key", "country": "ZZ", "spki_sha256": [")" + key_holder.certificate.spki_sha256_hex() + R"("]}]})";
  const auto registry = InterceptorRegistry::from_metadata(metadata, "registry.json", {});
  ASSERT_TRUE(registry) << registry.error().message;
  const auto attribution = registry->attribute(Chain{key_holder.certificate});
  ASSERT_TRUE(attribution);
  EXPECT_EQ(attribution.entry->id, "chromium-known-interception-test");
  EXPECT_EQ(attribution.method, AttributionMethod::kSameKey);
}

TEST_F(AttributionTest, BadRegistryMetadataNamesTheEntryAndField) {
  const auto root = must(lab::make_identity(testing::ca_spec("Meta Root", now_), {}, nullptr));
  const std::vector<std::pair<std::string, std::string>> files = {{"root.pem", lab::certificate_pem(root.certificate)}};
  const auto wrong_hash = InterceptorRegistry::from_metadata(
      R"({"entries": [{"id": "x", "file": "root.pem", "sha256": "00"}]})", "my/registry.json", files);
  ASSERT_FALSE(wrong_hash);
  EXPECT_NE(wrong_hash.error().message.find("my/registry.json: entry 1 (x): field 'sha256'"), std::string::npos)
      << wrong_hash.error().message;
  const auto missing_file = InterceptorRegistry::from_metadata(
      R"({"entries": [{"id": "y", "file": "absent.pem"}]})", "my/registry.json", files);
  ASSERT_FALSE(missing_file);
  EXPECT_NE(missing_file.error().message.find("absent.pem"), std::string::npos);
  const auto bad_spki = InterceptorRegistry::from_metadata(
      R"({"spki_only": [{"id": "z", "spki_sha256": ["nothex"]}]})", "my/registry.json", files);
  ASSERT_FALSE(bad_spki);
  EXPECT_NE(bad_spki.error().message.find("spki_sha256"), std::string::npos);
  EXPECT_FALSE(InterceptorRegistry::from_metadata("{not json", "my/registry.json", files));
}

TEST_F(AttributionTest, AnOrdinaryChainIsNotAttributedAndHasNoCollisions) {
  const auto root = must(lab::make_identity(testing::ca_spec("Honest Root", now_), {}, nullptr));
  const auto leaf = must(lab::make_identity(testing::leaf_spec("example.org", now_), {}, &root));
  const auto attribution = builtin().attribute(Chain{leaf.certificate, root.certificate});
  EXPECT_FALSE(attribution);
  EXPECT_TRUE(attribution.collisions.empty());
}

}  // namespace
}  // namespace mitmscope
