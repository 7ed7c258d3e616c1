// Lower-case hex, the form fingerprints take in JSON output and in the registry.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mitmscope {

std::string to_hex(std::span<const uint8_t> bytes);
// Hex digits (either case) to bytes, two digits a byte; a digit that is not one reads as 0, an odd last one is dropped.
std::vector<uint8_t> from_hex(std::string_view text);
// "AB:CD:..." as openssl prints fingerprints; used in human output only.
std::string to_colon_hex(std::span<const uint8_t> bytes);

}  // namespace mitmscope
