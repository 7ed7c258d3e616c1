// Time as the project uses it: UTC seconds (std::chrono::sys_seconds).
// Certificates, OONI measurements and `--at` all speak UTC; nothing here
// depends on the local time zone.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mitmscope {

using UtcSeconds = std::chrono::sys_seconds;

UtcSeconds now_utc();

// Accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[Z]", "YYYY-MM-DD HH:MM:SS" (OONI),
// and RFC 3339 with a numeric offset.
Result<UtcSeconds> parse_utc(std::string_view text);

// "YYYY-MM-DDTHH:MM:SSZ"
std::string format_utc(UtcSeconds time);

// "90", "90s", "500ms", "10m", "2h", "1d" -> milliseconds (> 0).
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace mitmscope
