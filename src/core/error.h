// Errors are named values: a code the caller can test and a message for people.
// Library functions return Result<T> (std::expected); nothing throws across the
// library boundary. The CLI maps codes to exit statuses (docs/CLI.md).
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace mitmscope {

enum class ErrorCode {
  // input
  kFileNotFound,
  kFileUnreadable,
  kFileUnwritable,
  kParseError,          // malformed input; the message names file, line or field
  kInvalidArgument,
  // network (one probe)
  kAddressRefused,      // reserved/private range without --allow-private, or blocklisted
  kConnectionRefused,
  kConnectTimeout,
  kHostUnreachable,
  kTtlExpired,          // a TTL-limited probe expired in transit (ICMP time exceeded)
  kConnectionReset,
  kClosedDuringHandshake,
  kHandshakeTimeout,
  kTlsAlert,            // the peer sent a fatal alert
  kNotTls,              // the answer was not TLS
  kTlsProtocolError,    // TLS, but broken (bad extension, unsupported version...)
  kNetworkError,
  // internal
  kCryptoError,
};

std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

// Input quoted in a message, made safe to print: control bytes and bytes that are not UTF-8 as \xNN,
// cut after `limit` bytes (a binary or huge line must not flood a terminal).
std::string printable(std::string_view text, size_t limit = 120);

inline std::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

}  // namespace mitmscope
