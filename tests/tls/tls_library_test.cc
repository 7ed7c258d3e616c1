#include "tls/tls_library.h"

#include <gtest/gtest.h>

#include <sstream>

namespace mitmscope {
namespace {

// A ClientHello from JA3's text (version,suites,extensions,groups,formats) as the sentinel recorded it
// for each Debian 12 client visiting its listener on 2026-12-02. JA3 leaves GREASE out; `grease` puts one
// GREASE value back at the front of the suites and the extensions, where Chromium sends them.
ClientHello from_ja3(const std::string& text, bool grease = false) {
  ClientHello hello;
  std::vector<std::vector<uint16_t>> fields(5);
  std::stringstream stream(text);
  std::string field;
  for (size_t i = 0; i < 5 && std::getline(stream, field, ','); ++i) {
    std::stringstream values(field);
    for (std::string value; std::getline(values, value, '-');) {
      if (!value.empty()) fields[i].push_back(static_cast<uint16_t>(std::stoi(value)));
    }
  }
  hello.legacy_version = fields[0].empty() ? 0 : fields[0][0];
  hello.cipher_suites = fields[1];
  hello.extensions = fields[2];
  hello.supported_groups = fields[3];
  if (grease) {
    hello.cipher_suites.insert(hello.cipher_suites.begin(), 0x2a2a);
    hello.extensions.insert(hello.extensions.begin(), 0x3a3a);
  }
  return hello;
}

constexpr const char* kCurl =
    "771,4866-4867-4865-49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-"
    "49161-49171-51-157-156-61-60-53-47-255,11-10-16-22-23-49-13-43-45-51-21,29-23-30-25-24-256-257-258-259-260,0-1-2";
constexpr const char* kWget =
    "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-"
    "49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-35-51-43-49-65281-45-28-21,23-24-25-29-30-256-257-258-259-260,0";
constexpr const char* kChromium =
    "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,45-27-10-65281-23-43-11-16-5-65037-"
    "35-51-17613-13-51764-18,4588-29-23-24,0";
constexpr const char* kFirefox =
    "771,4865-4867-4866-49195-49199-52393-52392-49196-49200-49162-49171-49172-156-157-47-53,23-65281-10-11-35-16-5-34-18-"
    "51-43-13-45-28-27-65037,4588-29-23-24-25-256-257,0";
constexpr const char* kJava =
    "771,4866-4865-4867-49196-49195-52393-49200-52392-49199-159-52394-163-158-162-49188-49192-49187-49191-107-106-103-64-"
    "49162-49172-49161-49171-57-56-51-50-157-156-61-60-53-47-255,5-10-11-16-17-23-35-13-43-45-50-51,"
    "29-23-24-25-30-256-257-258-259-260,0";

TEST(TlsLibrary, EachDebianClientIsItsLibrary) {
  EXPECT_EQ(tls_library_of(from_ja3(kCurl)).library, TlsLibrary::kOpenSsl);
  EXPECT_EQ(tls_library_of(from_ja3(kWget)).library, TlsLibrary::kGnuTls);
  EXPECT_EQ(tls_library_of(from_ja3(kChromium, true)).library, TlsLibrary::kBoringSsl);
  EXPECT_EQ(tls_library_of(from_ja3(kFirefox)).library, TlsLibrary::kNss);
  EXPECT_EQ(tls_library_of(from_ja3(kJava)).library, TlsLibrary::kJava);
}

TEST(TlsLibrary, ChromiumsListsWithoutGreaseAreNotClaimed) {
  // The same suites and extensions without GREASE: no longer BoringSSL's stable mark, and nothing else's.
  const auto guess = tls_library_of(from_ja3(kChromium, false));
  EXPECT_EQ(guess.library, TlsLibrary::kUnknown);
  EXPECT_FALSE(guess.evidence.empty());
  EXPECT_EQ(tls_library_of(ClientHello{}).library, TlsLibrary::kUnknown);
}

TEST(TlsLibrary, UserAgentsNameTheirLibrary) {
  const auto chromium = tls_library_of_user_agent(
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36");
  ASSERT_TRUE(chromium);
  EXPECT_EQ(chromium->library, TlsLibrary::kBoringSsl);
  EXPECT_EQ(tls_library_of_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0")->library,
            TlsLibrary::kNss);
  EXPECT_EQ(tls_library_of_user_agent("curl/7.88.1")->library, TlsLibrary::kOpenSsl);
  EXPECT_EQ(tls_library_of_user_agent("Wget/1.21.3")->library, TlsLibrary::kGnuTls);
  EXPECT_EQ(tls_library_of_user_agent("python-requests/2.28.1")->library, TlsLibrary::kOpenSsl);
  EXPECT_FALSE(tls_library_of_user_agent("Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15"));
}

}  // namespace
}  // namespace mitmscope
