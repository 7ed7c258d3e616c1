#include "tls/tls_library.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace mitmscope {
namespace {

// Extension and suite numbers (IANA).
constexpr uint16_t kStatusRequestV2 = 17;          // RFC 6961: JSSE sends it, browsers do not
constexpr uint16_t kCompressCertificate = 27;      // RFC 8879
constexpr uint16_t kRecordSizeLimit = 28;          // RFC 8449
constexpr uint16_t kDelegatedCredentials = 34;     // RFC 9345: NSS
constexpr uint16_t kSignatureAlgorithmsCert = 50;  // RFC 8446
constexpr uint16_t kAlpsOld = 17513;               // Chromium's ALPS (application_settings)
constexpr uint16_t kAlpsNew = 17613;
constexpr uint16_t kRenegotiationScsv = 0x00ff;    // RFC 5746's signalling suite
constexpr uint16_t kAes128Gcm = 0x1301, kAes256Gcm = 0x1302, kChaCha20 = 0x1303, kAes128Ccm = 0x1304;

bool has_extension(const ClientHello& hello, uint16_t type) {
  return std::ranges::find(hello.extensions, type) != hello.extensions.end();
}

bool has_suite(const ClientHello& hello, uint16_t suite) {
  return std::ranges::find(hello.cipher_suites, suite) != hello.cipher_suites.end();
}

// The TLS 1.3 suites in the order sent (GREASE left out).
std::vector<uint16_t> tls13_suites(const ClientHello& hello) {
  std::vector<uint16_t> out;
  for (uint16_t suite : hello.cipher_suites) {
    if (suite >= kAes128Gcm && suite <= 0x1305) out.push_back(suite);
  }
  return out;
}

bool starts_with(const std::vector<uint16_t>& list, std::initializer_list<uint16_t> prefix) {
  return list.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), list.begin());
}

}  // namespace

std::string_view tls_library_name(TlsLibrary library) {
  switch (library) {
    case TlsLibrary::kBoringSsl: return "BoringSSL";
    case TlsLibrary::kNss: return "NSS";
    case TlsLibrary::kOpenSsl: return "OpenSSL";
    case TlsLibrary::kGnuTls: return "GnuTLS";
    case TlsLibrary::kJava: return "Java (JSSE)";
    case TlsLibrary::kUnknown: return "unknown";
  }
  return "unknown";
}

TlsLibraryGuess tls_library_of(const ClientHello& hello) {
  const auto suites = tls13_suites(hello);
  const bool grease = sends_grease(hello);
  if (grease && (has_extension(hello, kAlpsOld) || has_extension(hello, kAlpsNew))) {
    return {TlsLibrary::kBoringSsl, {"GREASE", "application_settings (ALPS), which only BoringSSL sends"}};
  }
  if (grease) return {TlsLibrary::kUnknown, {"GREASE without ALPS: BoringSSL-derived, but not Chromium's"}};
  if (has_extension(hello, kDelegatedCredentials) && has_extension(hello, kRecordSizeLimit) &&
      starts_with(suites, {kAes128Gcm, kChaCha20, kAes256Gcm})) {
    return {TlsLibrary::kNss,
            {"delegated_credentials and record_size_limit", "TLS 1.3 suites AES-128, ChaCha20, AES-256 (NSS's order)"}};
  }
  if (has_extension(hello, kStatusRequestV2) && has_extension(hello, kSignatureAlgorithmsCert)) {
    return {TlsLibrary::kJava, {"status_request_v2 and signature_algorithms_cert (JSSE)"}};
  }
  if (has_suite(hello, kAes128Ccm) && starts_with(suites, {kAes256Gcm, kChaCha20, kAes128Gcm, kAes128Ccm})) {
    return {TlsLibrary::kGnuTls, {"TLS 1.3 suites AES-256, ChaCha20, AES-128, AES-128-CCM (GnuTLS's default)"}};
  }
  if (has_suite(hello, kRenegotiationScsv) && starts_with(suites, {kAes256Gcm, kChaCha20, kAes128Gcm})) {
    return {TlsLibrary::kOpenSsl,
            {"TLS 1.3 suites AES-256, ChaCha20, AES-128 (OpenSSL's default order)", "the renegotiation SCSV"}};
  }
  return {TlsLibrary::kUnknown, {"no family's stable features"}};
}

std::optional<UserAgentLibrary> tls_library_of_user_agent(std::string_view user_agent) {
  struct Rule {
    std::string_view token;
    std::string_view unless;
    std::string_view client;
    TlsLibrary library;
  };
  // First match wins: Chromium-based browsers name "Chrome/" and often "Safari/" too.
  static constexpr std::array kRules = {
      Rule{"Firefox/", "Seamonkey/", "Firefox", TlsLibrary::kNss},
      Rule{"Chrome/", "", "Chromium", TlsLibrary::kBoringSsl},
      Rule{"curl/", "", "curl", TlsLibrary::kOpenSsl},
      Rule{"Wget/", "", "Wget", TlsLibrary::kGnuTls},
      Rule{"python-requests/", "", "python-requests", TlsLibrary::kOpenSsl},
      Rule{"Java-http-client/", "", "Java HttpClient", TlsLibrary::kJava},
  };
  for (const auto& rule : kRules) {
    if (user_agent.find(rule.token) == std::string_view::npos) continue;
    if (!rule.unless.empty() && user_agent.find(rule.unless) != std::string_view::npos) continue;
    return UserAgentLibrary{std::string(rule.client), rule.library};
  }
  return std::nullopt;
}

}  // namespace mitmscope
