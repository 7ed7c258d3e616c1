#include "ooni/verdict_rules.h"

namespace mitmscope::ooni {

std::string_view ooni_verdict_name(OoniVerdict verdict) {
  switch (verdict) {
    case OoniVerdict::kIntercepted: return "intercepted";
    case OoniVerdict::kNotIntercepted: return "not_intercepted";
    case OoniVerdict::kInconclusive: return "inconclusive";
    case OoniVerdict::kClean: return "clean";
    case OoniVerdict::kFailed: return "failed";
  }
  return "unknown";
}

Outcome ooni_outcome(OoniVerdict verdict) {
  switch (verdict) {
    case OoniVerdict::kIntercepted: return Outcome::kIntercepted;
    case OoniVerdict::kNotIntercepted:
    case OoniVerdict::kClean: return Outcome::kNotIntercepted;
    case OoniVerdict::kInconclusive: return Outcome::kInconclusive;
    case OoniVerdict::kFailed: return Outcome::kError;
  }
  return Outcome::kError;
}

std::string_view category_name(OoniCategory category) {
  switch (category) {
    case OoniCategory::kKnownInterceptor: return "known_interceptor";
    case OoniCategory::kForgingCa: return "forging_ca";
    case OoniCategory::kUnparseableCertificate: return "unparseable_certificate";
    case OoniCategory::kMatchesTemplate: return "matches_template";
    case OoniCategory::kSelfSignedService: return "self_signed_service";
    case OoniCategory::kPinnedByTest: return "pinned_by_test";
    case OoniCategory::kDnsInconsistent: return "dns_inconsistent";
    case OoniCategory::kServerCertificateInvalid: return "server_certificate_invalid";
    case OoniCategory::kServerHostnameMismatch: return "server_hostname_mismatch";
    case OoniCategory::kControlFailedToo: return "control_failed_too";
    case OoniCategory::kIssuerOnFewDomains: return "issuer_on_few_domains";
    case OoniCategory::kLoneLeaf: return "lone_leaf";
    case OoniCategory::kNoControl: return "no_control";
  }
  return "unknown";
}

OoniVerdict category_verdict(OoniCategory category) {
  switch (category) {
    case OoniCategory::kKnownInterceptor:
    case OoniCategory::kForgingCa:
      return OoniVerdict::kIntercepted;
    case OoniCategory::kMatchesTemplate:
    case OoniCategory::kSelfSignedService:
    case OoniCategory::kPinnedByTest:
    case OoniCategory::kDnsInconsistent:
    case OoniCategory::kServerCertificateInvalid:
    case OoniCategory::kServerHostnameMismatch:
    case OoniCategory::kControlFailedToo:
      return OoniVerdict::kNotIntercepted;
    case OoniCategory::kUnparseableCertificate:
    case OoniCategory::kIssuerOnFewDomains:
    case OoniCategory::kLoneLeaf:
    case OoniCategory::kNoControl:
      return OoniVerdict::kInconclusive;
  }
  return OoniVerdict::kInconclusive;
}

namespace {

bool control_agrees(const HandshakeEvidence& evidence) {
  return evidence.dns_consistent == Tri::kYes && evidence.control_tls_ok == Tri::kYes;
}

bool no_control(const HandshakeEvidence& evidence) {
  return evidence.dns_consistent == Tri::kUnknown && evidence.control_tls_ok == Tri::kUnknown;
}

bool validity_failure(const HandshakeEvidence& evidence) {
  return evidence.failure == "ssl_invalid_certificate" || evidence.validation_error == "expired" ||
         evidence.validation_error == "not_yet_valid";
}

}  // namespace

bool counts_for_forging_rule(const HandshakeEvidence& evidence) {
  return evidence.leaf_parsed && !evidence.leaf_self_signed && !evidence.trusted && evidence.untrusted_shown &&
         control_agrees(evidence) && evidence.matches_template != Tri::kYes;
}

OoniCategory decide_category(const HandshakeEvidence& evidence, size_t min_forged_domains) {
  const bool control_succeeded = evidence.control_tls_ok == Tri::kYes;
  if (evidence.known_interceptor) return OoniCategory::kKnownInterceptor;
  if (!evidence.leaf_parsed) return OoniCategory::kUnparseableCertificate;
  if (evidence.matches_template == Tri::kYes) return OoniCategory::kMatchesTemplate;
  if (evidence.leaf_self_signed) return OoniCategory::kSelfSignedService;
  if (evidence.failure.empty() && evidence.test_name == "signal") return OoniCategory::kPinnedByTest;
  if (evidence.dns_consistent == Tri::kNo) return OoniCategory::kDnsInconsistent;
  if (control_agrees(evidence) && evidence.forged_domains >= min_forged_domains) return OoniCategory::kForgingCa;
  // No control at all (RIPE Atlas, ZGrab2, an OONI test without a helper): the issuer key was proven a forging CA
  // by the handshakes that had one.
  if (no_control(evidence) && !evidence.trusted && evidence.forged_domains >= min_forged_domains) return OoniCategory::kForgingCa;
  if (validity_failure(evidence) && !control_succeeded) return OoniCategory::kServerCertificateInvalid;
  if (evidence.failure == "ssl_invalid_hostname" && !control_succeeded) return OoniCategory::kServerHostnameMismatch;
  if (evidence.control_tls_ok == Tri::kNo) return OoniCategory::kControlFailedToo;
  if (!evidence.untrusted_shown && !evidence.trusted) return OoniCategory::kLoneLeaf;
  return control_agrees(evidence) ? OoniCategory::kIssuerOnFewDomains : OoniCategory::kNoControl;
}

}  // namespace mitmscope::ooni
