// The ServerHello as it came off the wire, and the fingerprints computed from it.
//
// The parser works on one handshake message (4-byte header included) and keeps
// every extension in wire order, duplicates too, because an interceptor's TLS stack
// betrays itself by exactly those details. JA3S (BSD licence) is always computed;
// JA4S (FoxIO License 1.1, non-commercial use) only when asked for.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace mitmscope {

struct TlsExtension {
  uint16_t type = 0;
  std::vector<uint8_t> data;
};

struct ServerHello {
  uint16_t legacy_version = 0;      // the version field (0x0303 for TLS 1.2 and 1.3)
  uint16_t selected_version = 0;    // from supported_versions when present, else legacy_version
  std::array<uint8_t, 32> random{};
  std::vector<uint8_t> session_id;
  uint16_t cipher_suite = 0;
  uint8_t compression_method = 0;
  std::vector<TlsExtension> extensions;
  bool hello_retry_request = false;
  std::vector<uint16_t> duplicate_extensions;
  std::optional<std::string> alpn;
};

Result<ServerHello> parse_server_hello(std::span<const uint8_t> handshake_message);

std::string tls_version_name(uint16_t version);   // "TLSv1.2"
std::string ja3s_string(const ServerHello& hello);
std::string ja3s(const ServerHello& hello);       // MD5 hex of ja3s_string
std::string ja4s(const ServerHello& hello);       // FoxIO License 1.1
std::string extension_name(uint16_t type);

}  // namespace mitmscope
