// What a server knows about the ClientHellos it should not see from a browser.
//
// Two kinds of knowledge, both data (data/fingerprints/client-fingerprints.json, compiled in;
// users add their own file with --fingerprints):
//  - interceptors: ClientHellos of known interception devices, each with its provenance.
//    An entry matches exactly (its JA4 or JA3), by the parts of JA4 a device does not take from
//    the client (cipher and extension hashes, or the extension hash alone), or by a published description ("shape":
//    record version, handshake version, highest offered version, number of cipher suites),
//    which is weaker and reported as such. The lab's emulator is an exact entry; the 2019
//    Kazakh device is known only from its description (Raman et al., IMC 2020).
//  - browsers: what every release of a browser family since some version sends (TLS 1.3,
//    GREASE, ALPN h2), with references. A User-Agent claiming such a browser over a ClientHello
//    without it is inconsistent (mitmengine's idea): something between the browser and the
//    server made its own handshake, or the client lies about itself. The rules are deliberately
//    few and conservative; an interceptor that mimics a modern browser's ClientHello evades them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tls/client_fingerprint.h"
#include "tls/client_hello.h"

namespace mitmscope {

struct ClientHelloShape {
  uint16_t record_version = 0;
  uint16_t legacy_version = 0;
  uint16_t highest_version = 0;
  size_t cipher_suites = 0;   // without GREASE
};

struct InterceptorFingerprint {
  std::string id;
  std::string name;
  std::string ja4;                         // exact match when set
  std::string ja3;                         // exact match when set (MD5 hex)
  // JA4's cipher and extension hashes ("b_c"): the device's TLS configuration whatever ALPN, SNI and
  // counts it mirrors from the client (mitmproxy mirrors ALPN, sslsplit forwards SNI only sometimes).
  std::string ja4_bc;
  // JA4's extension hash alone ("c"): a device that mirrors the client's cipher suites (squid staring
  // at step 2) keeps only its own extension set and signature algorithms.
  std::string ja4_c;
  std::optional<ClientHelloShape> shape;   // match by published description
  std::string provenance;                  // where the value comes from, in words
  std::vector<std::string> references;
  std::string origin;                      // "builtin" or the file it came from
};

struct InterceptorMatch {
  const InterceptorFingerprint* entry = nullptr;
  std::string method;   // "ja4", "ja3", "ja4_bc", "ja4_c" or "shape" (strongest first)
};

enum class BrowserRequirement { kTls13, kGrease, kAlpnH2 };

struct BrowserRule {
  std::string family;                       // "Chrome"
  std::string token;                        // "Chrome/" followed by the major version
  std::vector<std::string> unless;          // tokens that make the UA another family's ("CriOS/")
  std::vector<std::string> also_requires;   // tokens that must be present too ("Safari/")
  int since = 0;                            // major version from which every release complies
  std::vector<BrowserRequirement> requires_features;
  std::string reference;
};

struct UserAgentJudgement {
  std::string browser;                // family claimed, empty: no known browser
  int major = 0;
  bool judged = false;                // a rule applied (known browser at or after its `since`)
  bool consistent = true;
  std::vector<std::string> reasons;   // what the ClientHello lacks, in words
};

class ClientRegistry {
 public:
  static Result<ClientRegistry> builtin();
  // A JSON file in the same format as data/fingerprints/client-fingerprints.json.
  static Result<ClientRegistry> load(const std::filesystem::path& file);
  static Result<ClientRegistry> parse(std::string_view text, std::string_view origin);
  void merge(const ClientRegistry& other);

  // Exact matches first (JA4, then JA3), then published shapes.
  std::optional<InterceptorMatch> match(const ClientHello& hello, const Ja3& ja3, const Ja4& ja4) const;
  UserAgentJudgement judge_user_agent(std::string_view user_agent, const ClientHello& hello) const;

  const std::vector<InterceptorFingerprint>& interceptors() const { return interceptors_; }
  const std::vector<BrowserRule>& browsers() const { return browsers_; }

 private:
  std::vector<InterceptorFingerprint> interceptors_;
  std::vector<BrowserRule> browsers_;
};

ClientHelloShape shape_of(const ClientHello& hello);

}  // namespace mitmscope
