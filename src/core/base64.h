// Base64 (RFC 4648), as certificates travel in OONI, ZGrab2, JSON output and PEM bodies.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mitmscope {

// Standard alphabet, padded.
std::string base64_encode(std::span<const uint8_t> bytes);

// Standard or URL-safe alphabet, padding optional, whitespace ignored. nullopt on any other byte or a
// malformed length; empty input is malformed (no certificate is empty).
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace mitmscope
