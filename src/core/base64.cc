#include "core/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace mitmscope {
namespace {

bool is_base64_char(unsigned char c) {
  return std::isalnum(c) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_';
}

}  // namespace

std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(length));
  return out;
}

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!is_base64_char(static_cast<unsigned char>(c))) return std::nullopt;
    clean.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  while (clean.size() % 4 != 0) clean.push_back('=');
  if (clean.empty()) return std::nullopt;
  std::vector<uint8_t> out(clean.size() / 4 * 3);
  const int length = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                                     static_cast<int>(clean.size()));
  if (length < 0) return std::nullopt;
  size_t padding = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) ++padding;
  out.resize(static_cast<size_t>(length) - std::min<size_t>(padding, 2));
  return out;
}

}  // namespace mitmscope
