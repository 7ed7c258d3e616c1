// The verdict rules of the OONI analysis, as pure functions of one handshake's evidence: no corpus, no
// certificates, no strings compared. The corpus-wide facts they need (is the chain attributed to a registry
// entry, on how many unrelated domains did its issuer sign under the forging-CA conditions) are computed by the
// analysis and handed in. Each rule's outcome is a category, an enum with one unit test each; its verdict and
// its name in the output follow from it.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/verdict.h"

namespace mitmscope::ooni {

enum class OoniVerdict { kIntercepted, kNotIntercepted, kInconclusive, kClean, kFailed };
std::string_view ooni_verdict_name(OoniVerdict verdict);
Outcome ooni_outcome(OoniVerdict verdict);

enum class Tri : uint8_t { kUnknown, kYes, kNo };

enum class OoniCategory : uint8_t {
  kKnownInterceptor,          // a chain certificate, or the leaf's issuer, is/shares a key with/was signed by a registry entry
  kForgingCa,                 // untrusted, DNS and control agree (or there is no control at all), and its issuer key
                              // signed for many unrelated domains where they agreed
  kUnparseableCertificate,    // the leaf does not parse
  kMatchesTemplate,           // Censored Planet: the same answer the host gave for the control names (its own certificate)
  kSelfSignedService,         // a self-signed certificate: a service pinning its own, not a forging CA
  kPinnedByTest,              // OONI's signal test checked Signal's own CA and this handshake passed
  kDnsInconsistent,           // the address came from DNS the control did not see
  kServerCertificateInvalid,  // expired or not yet valid, and the control did not succeed either
  kServerHostnameMismatch,    // a certificate for another name, and the control did not succeed either
  kControlFailedToo,          // the control's own handshake to the address failed
  kIssuerOnFewDomains,        // eligible for the forging-CA rule, but below its threshold
  kLoneLeaf,                  // only the leaf, nobody rejected it, its issuer not proven: a public CA's as likely
  kNoControl,                 // untrusted, nothing to compare with
};
inline constexpr OoniCategory kEveryCategory[] = {
    OoniCategory::kKnownInterceptor,       OoniCategory::kForgingCa,           OoniCategory::kUnparseableCertificate,
    OoniCategory::kMatchesTemplate,        OoniCategory::kSelfSignedService,      OoniCategory::kPinnedByTest,        OoniCategory::kDnsInconsistent,
    OoniCategory::kServerCertificateInvalid, OoniCategory::kServerHostnameMismatch, OoniCategory::kControlFailedToo,
    OoniCategory::kIssuerOnFewDomains,     OoniCategory::kLoneLeaf,            OoniCategory::kNoControl};

std::string_view category_name(OoniCategory category);   // "known_interceptor", "forging_ca", ...
OoniVerdict category_verdict(OoniCategory category);

// What the rules look at for one handshake that was not clean.
struct HandshakeEvidence {
  bool known_interceptor = false;  // attributed to a registry entry (chain or issuer found in the corpus)
  bool leaf_parsed = true;
  bool leaf_self_signed = false;
  bool trusted = false;            // browser-trusted for its name at its time
  // The data shows the chain untrusted: more than the leaf was archived, or the prober itself rejected it. A lone
  // leaf that nobody rejected (Censored Planet keeps only the leaf and validates nothing) may be a public CA's.
  bool untrusted_shown = true;
  Tri dns_consistent = Tri::kUnknown;
  Tri control_tls_ok = Tri::kUnknown;
  Tri matches_template = Tri::kUnknown;  // Censored Planet's comparison with the host's answer to control names
  std::string_view failure;        // the probe's failure string (ssl_invalid_certificate, ...)
  std::string_view validation_error;  // our validation's short error (expired, not_yet_valid, ...)
  std::string_view test_name;
  uint32_t forged_domains = 0;     // unrelated domains of the issuer key under the forging-CA conditions
};

// Whether the handshake counts towards its issuer's forging-CA domains: shown untrusted, not self-signed, DNS
// agreed with the control, the control's own handshake succeeded, and (Censored Planet) the answer differs from the
// host's template.
bool counts_for_forging_rule(const HandshakeEvidence& evidence);

// The first rule that applies, in order: known interceptor, unparseable, the host's template, self-signed, pinned,
// DNS, forging CA,
// the server's own invalid certificate or name, failed control, and what stays inconclusive.
OoniCategory decide_category(const HandshakeEvidence& evidence, size_t min_forged_domains);

}  // namespace mitmscope::ooni
