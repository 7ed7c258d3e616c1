#include "core/error.h"

namespace mitmscope {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kFileNotFound: return "file_not_found";
    case ErrorCode::kFileUnreadable: return "file_unreadable";
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
