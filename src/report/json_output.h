// JSON forms of the library's records, with the field names documented in
// docs/SCHEMA.md. Names follow ZGrab2 where users already know them
// (server_hello, server_certificates.certificate/.chain, validation.browser_trusted,
// validation.browser_error) and Zeek-style flat names elsewhere.
#pragma once

#include <nlohmann/json.hpp>

#include "core/observation.h"
#include "core/verdict.h"
#include "detect/chain_verdict.h"
#include "x509/forging.h"
#include "x509/registry.h"
#include "x509/shape.h"
#include "x509/trust_store.h"

namespace mitmscope {

struct JsonOptions {
  bool include_raw = true;     // base64 DER of every certificate
};

// `ja4x`: the certificate's JA4X when it was computed (ChainAssessment::fingerprints), else empty.
nlohmann::ordered_json certificate_json(const Certificate& certificate, const JsonOptions& options, std::string_view ja4x = {});
// The parsed chain as a list, each certificate with its JA4X when the assessment has them.
nlohmann::ordered_json chain_json(const ChainAssessment& assessment, const JsonOptions& options);
// The ServerHello with the fingerprints computed when it was judged (JA4S only when they hold one).
nlohmann::ordered_json server_hello_json(const ServerHello& hello, const std::string& cipher_name, const Fingerprints& fingerprints);
nlohmann::ordered_json validation_json(const ValidationResult& validation, const TrustStore& store);
nlohmann::ordered_json interception_json(const Verdict& verdict, const Attribution& attribution);
nlohmann::ordered_json registry_entry_json(const RegistryEntry& entry);
nlohmann::ordered_json forging_json(const ForgingAnalysis& analysis);
nlohmann::ordered_json forging_profile_json(const ForgingProfile& profile);
nlohmann::ordered_json shape_json(const CertificateShape& shape);

// What came back instead of TLS (Observation::plain_answer).
nlohmann::ordered_json plain_answer_json(const PlainAnswer& answer);
// The whole `inspect --json` object of one file; `forging` with --genuine.
nlohmann::ordered_json inspect_json(const std::string& file, const ChainAssessment& assessment,
                                    const std::optional<ForgingAnalysis>& forging, const TrustStore& store,
                                    const JsonOptions& options);
// The whole `probe --json` object.
nlohmann::ordered_json probe_json(const Observation& observation, const ChainAssessment& assessment, const TrustStore& store,
                          const JsonOptions& options);

}  // namespace mitmscope
