// Helpers the tests share: a small PKI minted per test run, and data paths.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "lab/pki.h"

namespace mitmscope::testing {

inline std::filesystem::path test_data(const std::string& relative) {
  return std::filesystem::path(MITMSCOPE_TEST_DATA) / relative;
}

inline std::filesystem::path source_path(const std::string& relative) {
  return std::filesystem::path(MITMSCOPE_SOURCE_DIR) / relative;
}

// A fresh directory under the build's temp area, removed by the caller's TempDirectory.
class TempDirectory {
 public:
  TempDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mitmscope-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDirectory() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

inline lab::CertificateSpec ca_spec(const std::string& common_name, UtcSeconds now) {
  lab::CertificateSpec spec;
  spec.subject = {{"C", "ZZ"}, {"O", "mitmscope tests"}, {"CN", common_name}};
  spec.not_before = now - std::chrono::days{10};
  spec.not_after = now + std::chrono::days{3650};
  spec.is_ca = true;
  return spec;
}

inline lab::CertificateSpec leaf_spec(const std::string& host, UtcSeconds now) {
  lab::CertificateSpec spec;
  spec.subject = {{"CN", host}};
  spec.dns_names = {host};
  spec.not_before = now - std::chrono::days{1};
  spec.not_after = now + std::chrono::days{90};
  return spec;
}

// EC P-256 keys: fast to make, so tests that mint many certificates stay quick.
inline constexpr lab::KeySpec kEcKey{.type = lab::KeySpec::Type::kEcP256};

// Test set-up that cannot go on without its certificate: stop the run loudly.
inline lab::Identity must(Result<lab::Identity> identity) {
  if (!identity) {
    std::fprintf(stderr, "test PKI: %s\n", identity.error().message.c_str());
    std::abort();
  }
  return std::move(*identity);
}

// A CA of the OONI and source tests' small hierarchies: "CN=name", valid 2020 to 2030, EC P-256; self-signed when
// `issuer` is null.
inline lab::Identity corpus_ca(const char* name, const lab::Identity* issuer) {
  lab::CertificateSpec spec;
  spec.subject = {{"CN", name}};
  spec.is_ca = true;
  spec.not_before = parse_utc("2020-01-01").value();
  spec.not_after = parse_utc("2030-01-01").value();
  return must(lab::make_identity(spec, kEcKey, issuer));
}

}  // namespace mitmscope::testing
