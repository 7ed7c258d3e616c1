// The server's first flight as a measurement reads it, from the bytes that answer a ClientHello made by
// tls/client_hello_builder: the ServerHello, the certificate chain, and the rest of the flight up to its end (TLS
// 1.3 Finished, TLS 1.2 ServerHelloDone), so an alert a server sends after its chain is seen as OpenSSL sees it.
// TLS 1.2 sends the flight in the clear; TLS 1.3 encrypts it with the handshake keys, which one key exchange and
// the key schedule (tls/tls13_keys) give. Nothing is verified (no CertificateVerify, no Finished): the point is to
// see what was presented and judge it afterwards, as the OpenSSL path does. Bounded: at most `max_bytes` are
// buffered, a handshake message is at most `max_bytes`, a record over 16 KiB + 256 bytes is an error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/error.h"
#include "tls/client_hello_builder.h"
#include "tls/server_hello.h"
#include "tls/tls13_keys.h"

namespace mitmscope {

enum class FlightStatus {
  kNeedMore,     // feed more bytes
  kDone,         // the flight is read to its end (TLS 1.3 Finished, TLS 1.2 ServerHelloDone), the chain with it
  kHelloRetry,   // a HelloRetryRequest: the server wants another key share (flight().server_hello says which)
  kFailed,       // error() says why: an alert, a protocol error, a group whose key we cannot use
};

struct ServerFlight {
  std::vector<uint8_t> server_hello_message;   // as sent (header included): tls/server_hello parses it
  std::optional<ServerHello> server_hello;
  uint16_t key_share_group = 0;                // TLS 1.3: the group the server's share is for
  std::vector<std::vector<uint8_t>> certificates;   // DER, in the order sent
  std::vector<uint8_t> encrypted_extensions;   // TLS 1.3: the message body
  std::optional<uint8_t> alert;                // a fatal alert's description, when one ended the flight
  std::vector<uint8_t> hello_retry_message;    // the HelloRetryRequest, when the server sent one (header included)
};

// What a HelloRetryRequest asks for: a key share for `group`, and the cookie to echo (empty: none).
struct RetryRequest {
  uint16_t group = 0;
  std::vector<uint8_t> cookie;
};
Result<RetryRequest> retry_request(const ServerHello& hello_retry_request);

class ServerFlightReader {
 public:
  static constexpr size_t kDefaultMaxBytes = 256 * 1024;
  ServerFlightReader(const BuiltClientHello& hello, size_t max_bytes = kDefaultMaxBytes);

  FlightStatus feed(std::span<const uint8_t> bytes);
  // After kHelloRetry, once `second` (tls/client_hello_builder's retry_client_hello) is sent: reads on. The
  // transcript becomes message_hash(first ClientHello), the HelloRetryRequest, `second` (RFC 8446, 4.4.1).
  FlightStatus retry(const BuiltClientHello& second);
  const ServerFlight& flight() const { return flight_; }
  const Error& error() const { return error_; }

 private:
  FlightStatus fail(ErrorCode code, std::string message);
  FlightStatus on_record(uint8_t type, std::span<const uint8_t> record);
  FlightStatus on_handshake_bytes(std::span<const uint8_t> bytes);
  FlightStatus on_message(uint8_t type, std::span<const uint8_t> message);
  FlightStatus on_server_hello(std::span<const uint8_t> message);
  FlightStatus start_decryption();
  FlightStatus on_certificate(std::span<const uint8_t> body);

  const BuiltClientHello* hello_;
  std::vector<uint8_t> transcript_prefix_;   // after a HelloRetryRequest: message_hash(CH1) and the HRR
  size_t max_bytes_;
  std::vector<uint8_t> buffer_;           // bytes not yet a whole record
  std::vector<uint8_t> handshake_;        // handshake bytes not yet a whole message
  std::optional<tls13::RecordOpener> opener_;
  ServerFlight flight_;
  Error error_{ErrorCode::kTlsProtocolError, ""};
  bool finished_ = false;
  FlightStatus status_ = FlightStatus::kNeedMore;
};

}  // namespace mitmscope
