#include "tls/client_fingerprint.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "core/hex.h"
#include "tls/fingerprint_parts.h"

namespace mitmscope {
namespace {

std::string digest_hex(std::string_view text, const EVP_MD* method) {
  std::array<uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, method, nullptr);
  return to_hex(std::span<const uint8_t>(digest.data(), length));
}

template <typename Value>
std::string join_decimal(const std::vector<Value>& values, bool drop_grease) {
  std::string out;
  for (Value value : values) {
    if (drop_grease && is_grease(value)) continue;
    if (!out.empty()) out += '-';
    out += std::to_string(value);
  }
  return out;
}

std::vector<uint16_t> without_grease(const std::vector<uint16_t>& values) {
  std::vector<uint16_t> kept;
  for (uint16_t value : values) {
    if (!is_grease(value)) kept.push_back(value);
  }
  return kept;
}

std::string join_hex(const std::vector<uint16_t>& values) {
  std::string out;
  for (uint16_t value : values) {
    if (!out.empty()) out += ',';
    out += fmt::format("{:04x}", value);
  }
  return out;
}

std::string two_digits(size_t count) { return fmt::format("{:02}", std::min<size_t>(count, 99)); }

}  // namespace

std::string md5_hex(std::string_view text) { return digest_hex(text, EVP_md5()); }
std::string sha256_prefix12(std::string_view text) { return digest_hex(text, EVP_sha256()).substr(0, 12); }

std::string ja4_version_code(uint16_t version) {
  switch (version) {
    case 0x0304: return "13";
    case 0x0303: return "12";
    case 0x0302: return "11";
    case 0x0301: return "10";
    case 0x0300: return "s3";
    case 0x0002: return "s2";
    case 0xfeff: return "d1";
    case 0xfefd: return "d2";
    case 0xfefc: return "d3";
    default: return "00";
  }
}

std::string ja4_alpn_code(std::string_view first) {
  auto alphanumeric = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (first.empty()) return "00";
  if (alphanumeric(first.front()) && alphanumeric(first.back())) return {first.front(), first.back()};
  const std::string head = fmt::format("{:02x}", static_cast<uint8_t>(first.front()));
  const std::string tail = fmt::format("{:02x}", static_cast<uint8_t>(first.back()));
  return {head.front(), tail.back()};
}

Ja3 ja3(const ClientHello& hello) {
  Ja3 result;
  result.text = fmt::format("{},{},{},{},{}", hello.legacy_version, join_decimal(hello.cipher_suites, true),
                            join_decimal(hello.extensions, true), join_decimal(hello.supported_groups, true),
                            join_decimal(hello.ec_point_formats, false));
  result.hash = md5_hex(result.text);
  return result;
}

Ja4 ja4(const ClientHello& hello) {
  const std::vector<uint16_t> ciphers = without_grease(hello.cipher_suites);
  const std::vector<uint16_t> extensions = without_grease(hello.extensions);
  const std::vector<uint16_t> signature_algorithms = without_grease(hello.signature_algorithms);
  const std::string header = fmt::format("t{}{}{}{}{}", ja4_version_code(highest_offered_version(hello)),
                                         hello.server_name || std::ranges::count(extensions, 0) > 0 ? 'd' : 'i',
                                         two_digits(ciphers.size()), two_digits(extensions.size()),
                                         ja4_alpn_code(hello.alpn.empty() ? std::string_view() : std::string_view(hello.alpn.front())));
  std::vector<uint16_t> sorted_ciphers = ciphers;
  std::ranges::sort(sorted_ciphers);
  std::vector<uint16_t> sorted_extensions;
  for (uint16_t type : extensions) {
    if (type != 0x0000 && type != 0x0010) sorted_extensions.push_back(type);
  }
  std::ranges::sort(sorted_extensions);
  auto with_algorithms = [&](std::string list) {
    if (!signature_algorithms.empty()) list += "_" + join_hex(signature_algorithms);
    return list;
  };
  auto cipher_hash = [](const std::vector<uint16_t>& list) {
    return list.empty() ? std::string(12, '0') : sha256_prefix12(join_hex(list));
  };
  auto extension_hash = [&](const std::vector<uint16_t>& list) {
    return list.empty() ? std::string(12, '0') : sha256_prefix12(with_algorithms(join_hex(list)));
  };
  Ja4 result;
  result.fingerprint = fmt::format("{}_{}_{}", header, cipher_hash(sorted_ciphers), extension_hash(sorted_extensions));
  result.raw = fmt::format("{}_{}_{}", header, join_hex(sorted_ciphers), with_algorithms(join_hex(sorted_extensions)));
  result.original = fmt::format("{}_{}_{}", header, cipher_hash(ciphers), extension_hash(extensions));
  result.raw_original = fmt::format("{}_{}_{}", header, join_hex(ciphers), with_algorithms(join_hex(extensions)));
  return result;
}

}  // namespace mitmscope
