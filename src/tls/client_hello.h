// The ClientHello as sent: what an interceptor reads to decide (the SNI) and what a
// server-side observer fingerprints (versions, cipher suites, extensions).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace mitmscope {

struct ClientHello {
  uint16_t record_version = 0;          // the TLS record layer version (0x0301 for most first flights)
  uint16_t legacy_version = 0;          // the handshake's client_version
  std::vector<uint16_t> cipher_suites;
  std::vector<uint16_t> extensions;     // types in order
  std::optional<std::string> server_name;
  std::vector<uint16_t> supported_versions;
};

// Parses a ClientHello from the start of a TCP stream (one or more TLS records).
// kParseError when the bytes are not a ClientHello; an incomplete one (only part of
// it in `stream`) parses as far as it goes only if the SNI was already reached.
Result<ClientHello> parse_client_hello(std::span<const uint8_t> stream);

}  // namespace mitmscope
