#include "tls/server_hello.h"

#include <algorithm>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <fmt/format.h>

#include "core/byte_reader.h"
#include "core/hex.h"
#include "tls/client_hello.h"
#include "tls/fingerprint_parts.h"

namespace mitmscope {
namespace {

constexpr uint8_t kServerHelloType = 2;
constexpr uint16_t kSupportedVersions = 43;
constexpr uint16_t kAlpn = 16;
// RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest.
constexpr std::array<uint8_t, 32> kHelloRetryRandom = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

}  // namespace

Result<ServerHello> parse_server_hello(std::span<const uint8_t> message) {
  auto fail = [](size_t offset, std::string_view what) {
    return make_error(ErrorCode::kTlsProtocolError, fmt::format("ServerHello byte {}: {}", offset, what));
  };
  ByteReader reader(message);
  uint8_t type = 0;
  uint32_t length = 0;
  if (!reader.u8(type) || !reader.u24(length)) return fail(0, "truncated handshake header");
  if (type != kServerHelloType) return fail(0, fmt::format("handshake type {} is not ServerHello", type));
  if (length != reader.remaining()) return fail(1, fmt::format("length {} but {} bytes follow", length, reader.remaining()));

  ServerHello hello;
  std::span<const uint8_t> random, session_id;
  uint8_t session_id_length = 0;
  if (!reader.u16(hello.legacy_version)) return fail(reader.offset(), "truncated version");
  if (!reader.bytes(32, random)) return fail(reader.offset(), "truncated random");
  std::copy(random.begin(), random.end(), hello.random.begin());
  if (!reader.u8(session_id_length) || session_id_length > 32 || !reader.bytes(session_id_length, session_id)) {
    return fail(reader.offset(), "bad session id");
  }
  hello.session_id.assign(session_id.begin(), session_id.end());
  if (!reader.u16(hello.cipher_suite)) return fail(reader.offset(), "truncated cipher suite");
  if (!reader.u8(hello.compression_method)) return fail(reader.offset(), "truncated compression method");
  hello.selected_version = hello.legacy_version;
  hello.hello_retry_request = hello.random == kHelloRetryRandom;
  if (reader.remaining() == 0) return hello;  // no extensions (TLS 1.0-1.2 servers may omit them)

  uint16_t extensions_length = 0;
  if (!reader.u16(extensions_length) || extensions_length != reader.remaining()) {
    return fail(reader.offset(), "extensions length does not match the message");
  }
  while (reader.remaining() > 0) {
    TlsExtension extension;
    uint16_t data_length = 0;
    std::span<const uint8_t> data;
    if (!reader.u16(extension.type) || !reader.u16(data_length) || !reader.bytes(data_length, data)) {
      return fail(reader.offset(), "truncated extension");
    }
    extension.data.assign(data.begin(), data.end());
    const bool duplicate = std::any_of(hello.extensions.begin(), hello.extensions.end(),
                                       [&](const TlsExtension& seen) { return seen.type == extension.type; });
    if (duplicate) hello.duplicate_extensions.push_back(extension.type);
    if (extension.type == kSupportedVersions && extension.data.size() == 2) {
      hello.selected_version = static_cast<uint16_t>(extension.data[0] << 8 | extension.data[1]);
    }
    // ALPN: protocol_name_list length (2), then one name: length (1) + bytes.
    if (extension.type == kAlpn && extension.data.size() >= 3 && extension.data[2] + 3u <= extension.data.size()) {
      hello.alpn = std::string(extension.data.begin() + 3, extension.data.begin() + 3 + extension.data[2]);
    }
    hello.extensions.push_back(std::move(extension));
  }
  return hello;
}

std::string tls_version_name(uint16_t version) {
  switch (version) {
    case 0x0300: return "SSLv3";
    case 0x0301: return "TLSv1.0";
    case 0x0302: return "TLSv1.1";
    case 0x0303: return "TLSv1.2";
    case 0x0304: return "TLSv1.3";
    default: return fmt::format("0x{:04x}", version);
  }
}

std::string ja3s_string(const ServerHello& hello) {
  std::string extensions;
  for (const auto& extension : hello.extensions) {
    if (is_grease(extension.type)) continue;
    if (!extensions.empty()) extensions += '-';
    extensions += std::to_string(extension.type);
  }
  return fmt::format("{},{},{}", hello.legacy_version, hello.cipher_suite, extensions);
}

std::string ja3s(const ServerHello& hello) { return md5_hex(ja3s_string(hello)); }

std::string ja4s(const ServerHello& hello) {
  const std::string version_code = ja4_version_code(hello.selected_version);
  const std::string alpn = ja4_alpn_code(hello.alpn.value_or(""));
  std::string extensions;
  for (const auto& extension : hello.extensions) {
    if (!extensions.empty()) extensions += ',';
    extensions += fmt::format("{:04x}", extension.type);
  }
  return fmt::format("t{}{:02}{}_{:04x}_{}", version_code, std::min<size_t>(hello.extensions.size(), 99), alpn,
                     hello.cipher_suite, sha256_prefix12(extensions));
}

std::string extension_name(uint16_t type) {
  switch (type) {
    case 0: return "server_name";
    case 5: return "status_request";
    case 10: return "supported_groups";
    case 11: return "ec_point_formats";
    case 13: return "signature_algorithms";
    case 16: return "application_layer_protocol_negotiation";
    case 18: return "signed_certificate_timestamp";
    case 21: return "padding";
    case 22: return "encrypt_then_mac";
    case 23: return "extended_master_secret";
    case 35: return "session_ticket";
    case 41: return "pre_shared_key";
    case 42: return "early_data";
    case 43: return "supported_versions";
    case 44: return "cookie";
    case 45: return "psk_key_exchange_modes";
    case 51: return "key_share";
    case 65281: return "renegotiation_info";
    default: return fmt::format("unknown_{}", type);
  }
}

}  // namespace mitmscope
