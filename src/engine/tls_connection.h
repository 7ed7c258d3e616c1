// One TLS client handshake as a non-blocking state machine.
//
// The connection owns its socket and SSL object and never blocks: the caller
// (probe's poll loop now, the scan engine's epoll loop later) waits for what
// `wait()` asks and calls `advance()`. OpenSSL does not verify anything here
// (SSL_VERIFY_NONE): the point is to see whatever the server presents, and judge it
// afterwards against a trust store chosen by the user. The raw ServerHello and
// Certificate messages are captured through the message callback, so the chain
// is kept exactly as sent even when a certificate in it is malformed.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/observation.h"
#include "core/unique_fd.h"
#include "engine/endpoint.h"
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
};

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
  Wait handshake_step();
  Wait finish(std::optional<Error> error);
  void set_ttl(int ttl);
  void record_source_port();
  Error classify_failure(int ssl_error, int saved_errno);
  // Not TLS: reads what else has arrived (without waiting) and keeps it as the answer's evidence.
  void keep_plain_answer(Error& error);
  static void on_message(int write_p, int version, int content_type, const void* buffer, size_t length,
                         SSL* ssl, void* self);

  // The socket as OpenSSL sees it: reads are metered, so one step of the handshake reads at most
  // kStepReadBytes (a server that keeps the pipe full cannot hold the event loop inside OpenSSL) and the
  // whole handshake at most kHandshakeReadLimit (an endless stream of records ends with an error).
 public:
  struct MeteredSocket {
    int fd = -1;
    size_t step_budget = 0;
    uint64_t received = 0;
    // The first bytes OpenSSL read (a record header it may refuse as not TLS), kept without allocating: every
    // connection of a scan passes here, and only an answer that is not TLS needs them (keep_plain_answer). OpenSSL
    // refuses such an answer at its first 5-byte header, so 16 bytes and what is still unread make the evidence.
    static constexpr size_t kHeadBytes = 16;
    std::array<uint8_t, kHeadBytes> head{};
    size_t head_size = 0;
  };
  static constexpr size_t kStepReadBytes = 64 * 1024;
  static constexpr uint64_t kHandshakeReadLimit = 4 * 1024 * 1024;

 private:
  const TlsClientContext& context_;
  Endpoint endpoint_;
  ConnectionOptions options_;
  Phase phase_ = Phase::kConnecting;
  Wait wait_ = Wait::kWritable;
  UniqueFd fd_;
  SslPtr ssl_;
  MeteredSocket socket_;
  Observation observation_;
  std::vector<uint8_t> certificate_message_;
  Clock::time_point started_{};
  Clock::time_point handshake_started_{};
  Clock::time_point deadline_{};
};

// Extracts the DER certificates from a raw Certificate handshake message.
std::vector<std::vector<uint8_t>> parse_certificate_message(std::span<const uint8_t> message, bool tls13);

}  // namespace mitmscope
