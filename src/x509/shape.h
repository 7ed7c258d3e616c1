// Certificate shape: which attribute types make up the issuer and subject names, and
// which extensions appear, in order. Two certificates minted by the same software
// share a shape even when every value differs, which is how an interceptor's forged
// leaves are recognised across sites.
//
// The lists are facts about the certificate. `shape_id` is mitmscope's own compact
// digest of them. JA4X (FoxIO, licensed for non-commercial use only under the FoxIO
// License 1.1) hashes the same lists its own way; it is computed only on request
// (--ja4), so users decide whether its licence fits their use.
#pragma once

#include <string>
#include <vector>

#include "x509/certificate.h"

namespace mitmscope {

struct CertificateShape {
  std::vector<std::string> issuer_attributes;   // dotted OIDs, in order
  std::vector<std::string> subject_attributes;
  std::vector<std::string> extensions;
  std::string shape_id;                         // 16 hex digits of SHA-256 over the three lists
};

CertificateShape certificate_shape(const Certificate& certificate);

// JA4X per FoxIO's specification: truncated SHA-256 of the hex-encoded OID bytes of
// issuer RDNs, subject RDNs and extensions. FoxIO License 1.1 (non-commercial).
std::string ja4x(const Certificate& certificate);
std::string ja4x_raw(const Certificate& certificate);

}  // namespace mitmscope
