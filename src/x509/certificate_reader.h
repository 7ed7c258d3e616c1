// Reading certificates from the forms users have them in.
//
// One function takes bytes and recognises the form by content, not by file name:
// PEM (any number of CERTIFICATE blocks, other blocks skipped), DER (one or several
// concatenated), or base64 DER (one blob, or one per line as OONI and ZGrab2 write
// them). Errors name the source, and the line or byte offset, of the bad record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "core/error.h"
#include "x509/certificate.h"

namespace mitmscope {

enum class CertificateFormat { kPem, kDer, kBase64 };

// Files over this size are refused before reading: no certificate file is that big.
inline constexpr size_t kMaxCertificateFileBytes = 64u << 20;

Result<Chain> parse_certificates(std::span<const uint8_t> data, std::string_view source_name);
Result<Chain> read_certificate_file(const std::filesystem::path& path);
Result<Certificate> certificate_from_base64(std::string_view base64_der);

// Reads a whole file (bounded by max_bytes), naming the file in any error.
Result<std::vector<uint8_t>> read_file_bytes(const std::filesystem::path& path, size_t max_bytes);

}  // namespace mitmscope
