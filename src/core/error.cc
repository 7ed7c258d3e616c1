#include "core/error.h"

#include <fmt/format.h>

namespace mitmscope {

std::string printable(std::string_view text, size_t limit) {
  std::string out;
  size_t i = 0;
  for (; i < text.size() && i < limit; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t sequence = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xe ? 3 : (byte >> 3) == 0x1e ? 4 : 0;
    bool valid = sequence > 0 && i + sequence <= text.size();
    for (size_t k = 1; valid && k < sequence; ++k) valid = (static_cast<unsigned char>(text[i + k]) >> 6) == 0x2;
    if (sequence == 1 && byte >= 0x20 && byte != 0x7f && byte != '\\') {
      out += static_cast<char>(byte);
    } else if (valid && sequence > 1) {
      out.append(text.substr(i, sequence));
      i += sequence - 1;
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
  }
  if (i < text.size()) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kFileNotFound: return "file_not_found";
    case ErrorCode::kFileUnreadable: return "file_unreadable";
    case ErrorCode::kFileUnwritable: return "file_unwritable";
    case ErrorCode::kParseError: return "parse_error";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kAddressRefused: return "address_refused";
    case ErrorCode::kConnectionRefused: return "connection_refused";
    case ErrorCode::kConnectTimeout: return "connect_timeout";
    case ErrorCode::kHostUnreachable: return "host_unreachable";
    case ErrorCode::kTtlExpired: return "ttl_expired";
    case ErrorCode::kConnectionReset: return "connection_reset";
    case ErrorCode::kClosedDuringHandshake: return "closed_during_handshake";
    case ErrorCode::kHandshakeTimeout: return "handshake_timeout";
    case ErrorCode::kTlsAlert: return "tls_alert";
    case ErrorCode::kNotTls: return "not_tls";
    case ErrorCode::kTlsProtocolError: return "tls_protocol_error";
    case ErrorCode::kNetworkError: return "network_error";
    case ErrorCode::kCryptoError: return "crypto_error";
  }
  return "unknown";
}

}  // namespace mitmscope
