// The pieces JA3/JA3S and JA4/JA4S share: digests in lower-case hex, JA4's two-character
// version code and its ALPN code. One implementation, used by client_fingerprint and server_hello.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mitmscope {

std::string md5_hex(std::string_view text);
std::string sha256_prefix12(std::string_view text);   // JA4's truncated hash
std::string ja4_version_code(uint16_t version);       // "13", "12", ..., "s3", "d2", "00" when unknown
// First and last character of the first ALPN value; the hex rule for non-alphanumeric bytes; "00" when empty.
std::string ja4_alpn_code(std::string_view first_alpn);

}  // namespace mitmscope
