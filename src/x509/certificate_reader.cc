#include "x509/certificate_reader.h"

#include <algorithm>
#include <cctype>
#include <fstream>

#include <openssl/evp.h>

#include <fmt/format.h>

#include "core/base64.h"

namespace mitmscope {
namespace {

constexpr std::string_view kPemBegin = "-----BEGIN ";
constexpr std::string_view kPemDashes = "-----";

size_t line_of(std::string_view text, size_t offset) {
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

// Length of the DER TLV at the front of `data`, or 0 when it is not one.
size_t der_length(std::span<const uint8_t> data) {
  if (data.size() < 2 || data[0] != 0x30) return 0;
  const uint8_t first = data[1];
  if (first < 0x80) return 2 + first;
  const size_t octets = first & 0x7f;
  if (octets == 0 || octets > 4 || data.size() < 2 + octets) return 0;
  size_t length = 0;
  for (size_t i = 0; i < octets; ++i) length = (length << 8) | data[2 + i];
  return 2 + octets + length;
}

Result<Chain> parse_der_sequence(std::span<const uint8_t> data, std::string_view source) {
  Chain chain;
  size_t offset = 0;
  while (offset < data.size()) {
    const size_t length = der_length(data.subspan(offset));
    if (length == 0 || offset + length > data.size()) {
      return make_error(ErrorCode::kParseError,
                        fmt::format("{}: byte offset {}: certificate {}: not a complete DER certificate",
                                    source, offset, chain.size() + 1));
    }
    auto certificate = Certificate::from_der(data.subspan(offset, length));
    if (!certificate) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: byte offset {}: certificate {}: {}", source,
                                                            offset, chain.size() + 1, certificate.error().message));
    }
    chain.push_back(std::move(*certificate));
    offset += length;
  }
  return chain;
}

Result<Chain> parse_pem(std::string_view text, std::string_view source) {
  Chain chain;
  size_t position = 0;
  size_t block = 0;
  while ((position = text.find(kPemBegin, position)) != std::string_view::npos) {
    ++block;
    const size_t label_start = position + kPemBegin.size();
    const size_t label_end = text.find(kPemDashes, label_start);
    if (label_end == std::string_view::npos) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: line {}: PEM block {}: unterminated BEGIN line",
                                                            source, line_of(text, position), block));
    }
    const std::string_view label = text.substr(label_start, label_end - label_start);
    const std::string end_marker = fmt::format("-----END {}-----", label);
    const size_t body_start = label_end + kPemDashes.size();
    const size_t end = text.find(end_marker, body_start);
    if (end == std::string_view::npos) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: line {}: PEM block {} ({}): no END line",
                                                            source, line_of(text, position), block, label));
    }
    const bool is_certificate = label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE";
    if (is_certificate) {
      auto der = base64_decode(text.substr(body_start, end - body_start));
      if (!der) {
        return make_error(ErrorCode::kParseError, fmt::format("{}: line {}: PEM block {}: bad base64",
                                                              source, line_of(text, position), block));
      }
      // TRUSTED CERTIFICATE appends OpenSSL trust settings after the certificate.
      const size_t length = der_length(*der);
      if (label == "TRUSTED CERTIFICATE" && length > 0 && length < der->size()) der->resize(length);
      auto certificate = Certificate::from_der(*der);
      if (!certificate) {
        return make_error(ErrorCode::kParseError, fmt::format("{}: line {}: PEM block {}: {}", source,
                                                              line_of(text, position), block, certificate.error().message));
      }
      chain.push_back(std::move(*certificate));
    }
    position = end + end_marker.size();
  }
  return chain;
}

Result<Chain> parse_base64_lines(std::string_view text, std::string_view source) {
  // First as one blob (a wrapped base64 of one or several concatenated DER certificates)...
  if (auto der = base64_decode(text)) {
    if (auto chain = parse_der_sequence(*der, source); chain && !chain->empty()) return chain;
  }
  // ...then as one certificate per line.
  Chain chain;
  size_t line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line_number;
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    if (!line.empty() && line.front() != '#') {
      auto der = base64_decode(line);
      if (!der) {
        return make_error(ErrorCode::kParseError,
                          fmt::format("{}: line {}: neither PEM, DER nor base64 DER", source, line_number));
      }
      auto certificate = Certificate::from_der(*der);
      if (!certificate) {
        return make_error(ErrorCode::kParseError,
                          fmt::format("{}: line {}: base64 decodes but {}", source, line_number, certificate.error().message));
      }
      chain.push_back(std::move(*certificate));
    }
    start = end + 1;
  }
  return chain;
}

}  // namespace

Result<Chain> parse_certificates(std::span<const uint8_t> data, std::string_view source_name) {
  if (data.empty()) return make_error(ErrorCode::kParseError, fmt::format("{}: empty input", source_name));
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  Result<Chain> chain;
  if (text.find(kPemBegin) != std::string_view::npos) {
    chain = parse_pem(text, source_name);
  } else if (data[0] == 0x30) {
    chain = parse_der_sequence(data, source_name);
  } else {
    chain = parse_base64_lines(text, source_name);
  }
  if (chain && chain->empty()) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: no certificate found", source_name));
  }
  return chain;
}

Result<Certificate> certificate_from_base64(std::string_view base64_der) {
  auto der = base64_decode(base64_der);
  if (!der) return make_error(ErrorCode::kParseError, "bad base64");
  return Certificate::from_der(*der);
}

Result<std::vector<uint8_t>> read_file_bytes(const std::filesystem::path& path, size_t max_bytes) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    return make_error(ErrorCode::kFileNotFound, fmt::format("{}: no such file", path.string()));
  }
  if (std::filesystem::is_directory(status)) {
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: is a directory", path.string()));
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot open", path.string()));
  std::vector<uint8_t> bytes;
  char buffer[1 << 16];
  while (stream.read(buffer, sizeof buffer) || stream.gcount() > 0) {
    bytes.insert(bytes.end(), buffer, buffer + stream.gcount());
    if (bytes.size() > max_bytes) {
      return make_error(ErrorCode::kFileUnreadable,
                        fmt::format("{}: larger than the {} MiB limit", path.string(), max_bytes >> 20));
    }
  }
  if (stream.bad()) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: read error", path.string()));
  return bytes;
}

Result<Chain> read_certificate_file(const std::filesystem::path& path) {
  auto bytes = read_file_bytes(path, kMaxCertificateFileBytes);
  if (!bytes) return std::unexpected(bytes.error());
  return parse_certificates(*bytes, path.string());
}

}  // namespace mitmscope
