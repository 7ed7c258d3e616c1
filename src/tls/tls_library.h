// Which TLS library wrote a ClientHello, from features that stay put across a library's versions
// and its applications' settings (not exact hashes, which change with every release): GREASE,
// extensions only one family sends, the order of the TLS 1.3 suites, the renegotiation signal.
// And which library the client a User-Agent names is built on, so the two can be held against
// each other: Chromium's User-Agent over an OpenSSL ClientHello is a visit some device re-made.
//
// Measured on Debian 12 (2026-12-02) against the sentinel's listener: chromium 156 (BoringSSL),
// firefox-esr 153 (NSS), curl 7.88 and python3-requests (OpenSSL 3.0), wget 1.21 (GnuTLS 3.7),
// OpenJDK 17's HttpClient (JSSE), and squid, sslsplit and mitmproxy upstream (OpenSSL 3.0).
// Families without a measured sample here (Apple's, SChannel, Go) are not claimed: kUnknown.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/client_hello.h"

namespace mitmscope {

enum class TlsLibrary { kBoringSsl, kNss, kOpenSsl, kGnuTls, kJava, kUnknown };
std::string_view tls_library_name(TlsLibrary library);

struct TlsLibraryGuess {
  TlsLibrary library = TlsLibrary::kUnknown;
  std::vector<std::string> evidence;   // the features that decided, in words
};

TlsLibraryGuess tls_library_of(const ClientHello& hello);

// The library of the client a User-Agent names (as Debian builds it: curl with OpenSSL, Wget with
// GnuTLS); nullopt for a client no rule covers.
struct UserAgentLibrary {
  std::string client;      // "Chromium", "Firefox", "curl", ...
  TlsLibrary library;
};
std::optional<UserAgentLibrary> tls_library_of_user_agent(std::string_view user_agent);

}  // namespace mitmscope
