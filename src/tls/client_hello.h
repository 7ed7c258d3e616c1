// The ClientHello as sent: what an interceptor reads to decide (the SNI) and what a
// server-side observer fingerprints (versions, cipher suites, extensions, groups,
// point formats, signature algorithms, ALPN: everything JA3 and JA4 hash).
//
// Values are kept as sent, GREASE (RFC 8701) included; the fingerprints drop GREASE
// themselves, and whether a client sends GREASE at all is a clue of its own (every
// Chromium since version 55 does).
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
  std::vector<uint16_t> supported_versions;     // extension 43
  std::vector<uint16_t> supported_groups;       // extension 10 (JA3's "elliptic curves")
  std::vector<uint8_t> ec_point_formats;        // extension 11
  std::vector<uint16_t> signature_algorithms;   // extension 13
  std::vector<std::string> alpn;                // extension 16, protocol names as bytes
  bool complete = false;                        // the whole message was parsed, not a prefix of it
};

// RFC 8701: 0x0a0a, 0x1a1a, ..., 0xfafa.
constexpr bool is_grease(uint16_t value) {
  return (value & 0x0f0f) == 0x0a0a && (value >> 8) == (value & 0xff);
}

// GREASE among the cipher suites or extensions (every Chromium since 55 sends it).
bool sends_grease(const ClientHello& hello);

// The highest version offered: supported_versions' highest non-GREASE value when the
// extension is there, else the legacy client_version.
uint16_t highest_offered_version(const ClientHello& hello);

// Parses a ClientHello from the start of a TCP stream (one or more TLS records).
// kParseError when the bytes are not a ClientHello; an incomplete one (only part of
// it in `stream`) parses as far as it goes only if the SNI was already reached.
Result<ClientHello> parse_client_hello(std::span<const uint8_t> stream);

// How far the start of a TCP stream is from holding a whole ClientHello: what a
// reassembler needs to know when to stop collecting segments.
enum class ClientHelloProgress {
  kNeedMore,   // a ClientHello so far, not all of it yet
  kComplete,   // the first `bytes` of the stream hold the whole message
  kNotTls,     // not a TLS handshake record carrying a ClientHello
  kTooLarge,   // longer than `limit`: refused rather than buffered
};
struct ClientHelloExtent {
  ClientHelloProgress progress = ClientHelloProgress::kNeedMore;
  size_t bytes = 0;
};
ClientHelloExtent client_hello_extent(std::span<const uint8_t> stream, size_t limit = 64 * 1024);

}  // namespace mitmscope
