#include "core/time.h"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace mitmscope {
namespace {

bool read_number(std::string_view text, size_t position, size_t width, int& out) {
  if (position + width > text.size()) return false;
  const char* begin = text.data() + position;
  auto [end, error] = std::from_chars(begin, begin + width, out);
  return error == std::errc() && end == begin + width;
}

}  // namespace

UtcSeconds now_utc() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

Result<UtcSeconds> parse_utc(std::string_view text) {
  auto fail = [&] {
    return make_error(ErrorCode::kParseError,
                      fmt::format("bad time '{}': expected YYYY-MM-DD[THH:MM:SS[Z|+HH:MM]]", text));
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_number(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || text[7] != '-' ||
      !read_number(text, 5, 2, month) || !read_number(text, 8, 2, day)) {
    return fail();
  }
  size_t position = 10;
  if (text.size() > position) {
    if (text[position] != 'T' && text[position] != ' ') return fail();
    if (!read_number(text, 11, 2, hour) || text.size() < 19 || text[13] != ':' || text[16] != ':' ||
        !read_number(text, 14, 2, minute) || !read_number(text, 17, 2, second)) {
      return fail();
    }
    position = 19;
    if (position < text.size() && text[position] == '.') {  // fractional seconds are dropped
      ++position;
      while (position < text.size() && text[position] >= '0' && text[position] <= '9') ++position;
    }
  }
  int offset_seconds = 0;
  if (position < text.size()) {
    const char sign = text[position];
    if (sign == 'Z' && position + 1 == text.size()) {
      // UTC
    } else if ((sign == '+' || sign == '-') && position + 6 == text.size() && text[position + 3] == ':') {
      int offset_hours = 0, offset_minutes = 0;
      if (!read_number(text, position + 1, 2, offset_hours) ||
          !read_number(text, position + 4, 2, offset_minutes)) {
        return fail();
      }
      offset_seconds = (offset_hours * 3600 + offset_minutes * 60) * (sign == '+' ? 1 : -1);
    } else {
      return fail();
    }
  }
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{unsigned(month)},
                                         std::chrono::day{unsigned(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return fail();
  return UtcSeconds{std::chrono::sys_days{date}} + std::chrono::hours{hour} +
         std::chrono::minutes{minute} + std::chrono::seconds{second} - std::chrono::seconds{offset_seconds};
}

std::string format_utc(UtcSeconds time) {
  const auto days = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date{days};
  const std::chrono::hh_mm_ss clock{time - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", int(date.year()), unsigned(date.month()),
                     unsigned(date.day()), clock.hours().count(), clock.minutes().count(),
                     clock.seconds().count());
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
  const std::string number(text.substr(0, digits));
  const std::string_view unit = text.substr(digits);
  char* end = nullptr;
  const double value = number.empty() ? -1 : std::strtod(number.c_str(), &end);
  double factor = 0;
  if (unit.empty() || unit == "s") factor = 1000;
  else if (unit == "ms") factor = 1;
  else if (unit == "m" || unit == "min") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else if (unit == "d") factor = 86'400'000;
  if (factor == 0 || value <= 0 || end == nullptr || *end != '\0' || value * factor < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a duration (use 90, 90s, 500ms, 10m, 2h or 1d)", text));
  }
  return std::chrono::milliseconds(static_cast<long long>(value * factor));
}

}  // namespace mitmscope
