// The TLS part of one measurement connection, behind one interface: TlsConnection (engine/tls_connection) owns
// the socket, its TTL, deadlines and close, and once TCP is up hands the socket to a Handshake, which it steps
// whenever the socket is ready for what the handshake asked. Two kinds:
//   OpenSslHandshake (engine/openssl_handshake): OpenSSL's whole handshake, probe's default;
//   FirstFlightHandshake (engine/first_flight_handshake): a profile's ClientHello (tls/client_hello_builder),
//     then the server's first flight read by tls/server_flight, no further: scan's, discover's, monitor's and
//     trace's default.
// Both fill the same Observation, so nothing after the connection knows which ran, but for Observation::client.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/error.h"
#include "core/observation.h"

namespace mitmscope {

struct HandshakeStep {
  enum class Wait { kReadable, kWritable, kDone };
  Wait wait = Wait::kDone;
  std::optional<Error> error;   // with kDone: why it failed (none: the chain was read)

  static HandshakeStep readable() { return {Wait::kReadable, std::nullopt}; }
  static HandshakeStep writable() { return {Wait::kWritable, std::nullopt}; }
  static HandshakeStep done(std::optional<Error> error = std::nullopt) { return {Wait::kDone, std::move(error)}; }
};

// Reads a step bounded: one step reads at most kStepReadBytes (a server that keeps the pipe full cannot hold the
// event loop), a whole handshake at most kHandshakeReadLimit (an endless stream of records ends with an error).
inline constexpr size_t kStepReadBytes = 64 * 1024;
inline constexpr uint64_t kHandshakeReadLimit = 4 * 1024 * 1024;

class Handshake {
 public:
  virtual ~Handshake() = default;
  // TCP is up on `fd` (non-blocking): sends what the client sends first.
  virtual HandshakeStep begin(int fd) = 0;
  // The socket is ready for what the last step asked.
  virtual HandshakeStep step() = 0;
  // Once, at the end: what was learnt goes into the observation (chain, suite name); a polite close when due.
  virtual void conclude() = 0;
  // The first bytes the server sent, kept as evidence of an answer that is not TLS.
  virtual std::span<const uint8_t> head() const = 0;
};

// errno -> the error a measurement reports (connecting: a timeout is the connect's).
Error socket_error(int number, bool connecting);
// A socket error or end of stream during the handshake; an ICMP time-exceeded under a TTL is kTtlExpired.
Error handshake_socket_error(int saved_errno, const Observation& observation);
// The TTL of what a socket sends: IP_TTL, and the hop limit too on an IPv6 socket (`family`). kSystemTtl: the
// system's. A TTL-limited probe's TTL is for its ClientHello: once anything answered, what the client sends next
// (its alert, Finished, close_notify, FIN) travels with the system's TTL and reaches whatever answered, instead of
// expiring on a router past it (a device that closed its side first passes the client's late segments on).
inline constexpr int kSystemTtl = -1;
void set_socket_ttl(int fd, int family, int ttl);

}  // namespace mitmscope
