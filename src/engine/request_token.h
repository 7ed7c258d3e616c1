// A request's identity, packed into the 64-bit token the engine hands back with each observation. A user of the
// engine declares its fields and their widths once (TokenLayout<32, 2, 30>); pack and unpack are exact inverses,
// widths that do not fit 64 bits do not compile, and a value wider than its field is refused rather than cut,
// so one request's answer can never be taken for another's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace mitmscope {

template <unsigned... Widths>
class TokenLayout {
 public:
  static constexpr size_t kFields = sizeof...(Widths);
  static_assert(kFields > 0 && ((Widths > 0 && Widths < 64) && ...), "every field is 1 to 63 bits wide");
  static_assert((Widths + ...) <= 64, "the fields must fit the engine's 64-bit token");
  using Fields = std::array<uint64_t, kFields>;

  // nullopt when a field's value does not fit its width.
  static constexpr std::optional<uint64_t> pack(const Fields& fields) {
    uint64_t token = 0;
    for (size_t i = 0; i < kFields; ++i) {
      if (fields[i] > max(i)) return std::nullopt;
      token = (token << kWidths[i]) | fields[i];
    }
    return token;
  }

  static constexpr Fields unpack(uint64_t token) {
    Fields fields{};
    for (size_t i = kFields; i-- > 0;) {
      fields[i] = token & max(i);
      token >>= kWidths[i];
    }
    return fields;
  }

  static constexpr uint64_t max(size_t field) { return (uint64_t{1} << kWidths[field]) - 1; }

 private:
  static constexpr std::array<unsigned, kFields> kWidths = {Widths...};
};

}  // namespace mitmscope
