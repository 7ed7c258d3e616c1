#include "core/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace mitmscope {
namespace {

// What each byte is to a decoder that accepts both alphabets and skips white space.
enum class Base64Char : uint8_t { kInvalid, kSpace, kDigit };

constexpr std::array<Base64Char, 256> kBase64Chars = [] {
  std::array<Base64Char, 256> chars{};
  for (int c = 0; c < 256; ++c) {
    const bool digit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                       c == '/' || c == '=' || c == '-' || c == '_';
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
    chars[c] = digit ? Base64Char::kDigit : space ? Base64Char::kSpace : Base64Char::kInvalid;
  }
  return chars;
}();

}  // namespace

std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
  // The standard alphabet without white space, padded to whole quads: what EVP_DecodeBlock reads. Written by
  // index into a buffer sized once (a certificate's base64 is kilobytes, an OONI file holds millions of them).
  std::string clean(text.size() + 3, '=');
  size_t length = 0;
  for (const char c : text) {
    const auto kind = kBase64Chars[static_cast<unsigned char>(c)];
    if (kind == Base64Char::kSpace) continue;
    if (kind == Base64Char::kInvalid) return std::nullopt;
    clean[length++] = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  if (length == 0) return std::nullopt;
  clean.resize((length + 3) / 4 * 4);
  std::vector<uint8_t> out(clean.size() / 4 * 3);
  const int decoded = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                                      static_cast<int>(clean.size()));
  if (decoded < 0) return std::nullopt;
  size_t padding = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) ++padding;
  out.resize(static_cast<size_t>(decoded) - std::min<size_t>(padding, 2));
  return out;
}

}  // namespace mitmscope
