// libFuzzer: certificate ingest (PEM, DER, concatenated DER, base64 DER) and everything the
// verdict reads from a parsed certificate, on bytes from a file or the wire.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "x509/certificate_reader.h"
#include "x509/forging.h"
#include "x509/registry.h"
#include "x509/shape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto registry = mitmscope::InterceptorRegistry::builtin().value();
  auto chain = mitmscope::parse_certificates(std::span(data, size), "fuzz");
  if (chain) {
    (void)registry.attribute(*chain);
    for (const auto& certificate : *chain) {
      (void)certificate.subject();
      (void)certificate.issuer();
      (void)certificate.serial_hex();
      (void)certificate.not_before();
      (void)certificate.not_after();
      (void)certificate.subject_alt_names();
      (void)certificate.extensions();
      (void)certificate.public_key();
      (void)certificate.authority_key_id();
      (void)certificate.self_signed();
      (void)mitmscope::certificate_shape(certificate);
      (void)mitmscope::ja4x(certificate);
    }
    if (chain->size() >= 2) (void)mitmscope::analyze_forging((*chain)[0], (*chain)[1]);
  }
  (void)mitmscope::certificate_from_base64(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
