// Lower-case hex, the form fingerprints take in JSON output and in the registry.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace mitmscope {

std::string to_hex(std::span<const uint8_t> bytes);
// "AB:CD:..." as openssl prints fingerprints; used in human output only.
std::string to_colon_hex(std::span<const uint8_t> bytes);

}  // namespace mitmscope
