// One measurement connection as a non-blocking state machine: the socket, its TTL and source port, the
// deadlines and the close are here; the TLS part is a Handshake (engine/handshake): OpenSSL's whole handshake, or
// the measurement's own first-flight client sending a ClientHello profile (TlsClientOptions::client_hello).
//
// The connection never blocks: the caller (probe's poll loop, the scan engine's epoll loop) waits for what
// `wait()` asks and calls `advance()`. Nothing is verified during the handshake: the point is to see whatever the
// server presents, and judge it afterwards against a trust store chosen by the user.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/observation.h"
#include "core/unique_fd.h"
#include "engine/endpoint.h"
#include "engine/handshake.h"
#include "tls/client_hello_profile.h"
#include "tls/hello_strategy.h"
#include "x509/openssl_ptr.h"

namespace mitmscope {

struct TlsClientOptions {
  uint16_t min_version = 0x0303;   // TLS 1.2
  uint16_t max_version = 0x0304;   // TLS 1.3
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds handshake_timeout{10000};
  // Bounds what a hostile server can make us hold: the Certificate message size.
  size_t max_certificate_list_bytes = 256 * 1024;
  // When set, the ClientHello (not the TCP handshake) is sent with this IP TTL, and an
  // ICMP time-exceeded fails the probe at once (IP_RECVERR) with kTtlExpired.
  std::optional<int> ttl;
  // The ClientHello sent: a profile (tls/client_hello_profile) sent by the first-flight client, which stops once
  // it has the chain; null: OpenSSL's own hello and whole handshake (min_version and max_version apply to it only).
  const ClientHelloProfile* client_hello = nullptr;
  // How the profile's hello is reshaped (tls/hello_strategy; discover --strategies); null: not at all.
  const HelloStrategy* strategy = nullptr;
};

// "openssl" or a profile's name (find_client_hello_profile): what `--client-hello` takes; null for "openssl".
Result<const ClientHelloProfile*> parse_client_hello_choice(std::string_view name);

// What one connection does differently from its context (trace's TTL-limited probes).
struct ConnectionOptions {
  std::optional<int> ttl;        // overrides TlsClientOptions::ttl for this connection
  bool ttl_on_connect = false;   // the SYN itself carries the TTL (trace's path series)
  bool connect_only = false;     // done once the TCP handshake is answered: no TLS
  uint16_t source_port = 0;      // bind this local port (trace --paris); 0: the kernel's choice
  bool reset_on_close = false;   // close with RST (SO_LINGER 0), so the port is free again at once
};

// "1.2" / "1.3" / "TLSv1.2" -> 0x0303 / 0x0304.
Result<uint16_t> parse_tls_version(std::string_view text);

// An SSL_CTX configured for measurement; shared by every connection of a run.
class TlsClientContext {
 public:
  static Result<TlsClientContext> create(const TlsClientOptions& options);
  SSL_CTX* get() const { return context_.get(); }
  const TlsClientOptions& options() const { return options_; }

 private:
  std::shared_ptr<SSL_CTX> context_;
  TlsClientOptions options_;
  // A strategy that pads: the profile with a padding extension to the strategy's size, made once per context.
  std::shared_ptr<const ClientHelloProfile> padded_;
};

class TlsConnection {
 public:
  enum class Wait { kReadable, kWritable, kDone };
  using Clock = std::chrono::steady_clock;

  // sni empty: no SNI extension.
  TlsConnection(const TlsClientContext& context, const Endpoint& endpoint, std::string sni,
                ConnectionOptions options = {});
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  Wait start();                  // creates the socket and starts connecting
  Wait advance();                // call when the socket is ready for what wait() asked
  void expire();                 // the deadline passed: records the timeout, closes
  Wait wait() const { return wait_; }
  int fd() const { return fd_.get(); }
  Clock::time_point deadline() const { return deadline_; }
  Observation& observation() { return observation_; }

  // Blocking convenience: runs the whole handshake with poll().
  static Observation run(const TlsClientContext& context, const Endpoint& endpoint, std::string sni);

 private:
  enum class Phase { kConnecting, kHandshaking, kDone };
  Wait connect_step();
  Wait handshake_step(HandshakeStep step);
  Wait finish(std::optional<Error> error);
  void set_ttl(int ttl);
  void record_source_port();
  // Not TLS: reads what else has arrived (without waiting) and keeps it as the answer's evidence.
  void keep_plain_answer(Error& error);

  const TlsClientContext& context_;
  Endpoint endpoint_;
  ConnectionOptions options_;
  Phase phase_ = Phase::kConnecting;
  Wait wait_ = Wait::kWritable;
  UniqueFd fd_;
  Observation observation_;
  std::unique_ptr<Handshake> handshake_;
  Clock::time_point started_{};
  Clock::time_point handshake_started_{};
  Clock::time_point deadline_{};
};

}  // namespace mitmscope
