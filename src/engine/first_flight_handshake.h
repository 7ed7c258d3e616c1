// The measurement's own client (engine/handshake): it sends a profile's ClientHello (tls/client_hello_builder),
// reads the server's first flight with tls/server_flight (the ServerHello, the chain and the rest to the flight's
// end: in the clear for TLS 1.2, decrypted with one key exchange for TLS 1.3), answers a HelloRetryRequest once,
// and stops there. It never
// signs, verifies or finishes: what was presented is all a measurement judges, and the rest of a handshake is
// most of its cost. The connection then closes (FIN, or RST with ConnectionOptions::reset_on_close); a TLS 1.2
// server first gets a close_notify, which it can read in the clear.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "engine/handshake.h"
#include "tls/client_hello_builder.h"
#include "tls/hello_strategy.h"
#include "tls/server_flight.h"

namespace mitmscope {

struct FirstFlightOptions {
  const ClientHelloProfile* profile = nullptr;   // required; outlives the handshake (built-in, or its context's)
  const HelloStrategy* strategy = nullptr;       // how the hello is reshaped (its padding is in `profile` already)
};

class FirstFlightHandshake final : public Handshake {
 public:
  FirstFlightHandshake(const FirstFlightOptions& options, Observation& observation);

  HandshakeStep begin(int fd) override;
  HandshakeStep step() override;
  void conclude() override;
  std::span<const uint8_t> head() const override { return std::span(head_).first(head_size_); }

 private:
  Result<void> build_first();
  HandshakeStep send_pending();
  HandshakeStep read_flight();
  HandshakeStep on_status(FlightStatus status);
  HandshakeStep answer_retry();
  HandshakeStep failed(const Error& error);

  FirstFlightOptions options_;
  Observation& observation_;
  int fd_ = -1;
  std::optional<BuiltClientHello> hello_, retried_;
  std::optional<ServerFlightReader> reader_;
  std::vector<uint8_t> pending_;   // what is still to be sent
  size_t sent_ = 0;
  size_t segment_cut_ = 0;         // split-tcp: the first send ends here (0: one send)
  uint64_t received_ = 0;
  // Unlike OpenSSL, which stops at a record header, a chunk read here takes the whole answer off the socket: an
  // answer that is not TLS is kept from here, as much of it as the evidence holds.
  static constexpr size_t kHeadBytes = PlainAnswer::kMaxBytes;
  std::array<uint8_t, kHeadBytes> head_{};
  size_t head_size_ = 0;
  bool read_ = false;              // the flight was read whole
};

}  // namespace mitmscope
