// One visitor's connection to the sentinel's listener, as a state machine an event loop drives: no
// thread waits on a client. The stages, each bounded:
//   hello     the ClientHello, read whole before OpenSSL sees it (at most `max_hello_bytes`, before
//             `hello_deadline`: a client that sends a few bytes and then nothing is cut off here);
//   handshake OpenSSL over memory BIOs, the ClientHello already in; output queued and sent as the
//             socket takes it;
//   request   the HTTP/1.x request head (at most 16 KiB) or the first HTTP/2 request (sentinel/http2),
//             for its User-Agent, before `deadline`;
//   flush     the answer (the visit's judgement as JSON) sent;
//   linger    our side shut (FIN after the answer), what the client still sends read and dropped until
//             it closes or `kLinger` passes, then the connection closed. Closed at once instead, a
//             client's late bytes (an HTTP/2 SETTINGS ack) would make the kernel answer RST, and a
//             client that reads the RST before the answer loses the answer (nginx's lingering_close).
// A ClientHello that arrived whole is a visit even when the handshake or the request then fails or
// times out (tls_error says why); a connection that never sent one is counted, not a visit.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/unique_fd.h"
#include "sentinel/http2.h"
#include "sentinel/visit.h"

namespace mitmscope {

struct ListenerStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> visits{0};
  std::atomic<uint64_t> refused_busy{0};           // the listener's connection cap was reached
  std::atomic<uint64_t> refused_per_address{0};    // the client's address had its cap of connections open
  std::atomic<uint64_t> not_client_hello{0};       // the first bytes were not a ClientHello (or one over the limit)
  std::atomic<uint64_t> hello_timeouts{0};         // no whole ClientHello before the hello deadline
  std::atomic<uint64_t> closed_before_hello{0};    // the client left before a whole ClientHello
  std::atomic<uint64_t> handshake_failures{0};
  std::atomic<uint64_t> request_timeouts{0};       // a visit whose handshake or request did not finish in time
  std::atomic<uint64_t> peak_connections{0};
};

// Called once per visit; returns the HTTP response body.
using VisitHandler = std::function<std::string(const Visit&)>;

class VisitConnection {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    Clock::time_point hello_deadline, deadline;
    size_t max_hello_bytes = 64 * 1024;
  };
  VisitConnection(UniqueFd fd, Visit visit, Limits limits, SSL_CTX* context, const VisitHandler& handler, ListenerStats& stats);
  ~VisitConnection();

  void on_readable();
  void on_writable();
  // Past its deadline: what it got so far is recorded (a visit when the ClientHello was whole) and it ends.
  void expire();

  bool done() const { return stage_ == Stage::kDone; }
  bool wants_read() const { return stage_ != Stage::kDone && stage_ != Stage::kFlush; }
  bool wants_write() const { return stage_ != Stage::kDone && !pending_.empty(); }
  Clock::time_point deadline() const;
  int fd() const { return fd_.get(); }
  const std::string& client_ip() const { return visit_.client_ip; }

 private:
  enum class Stage { kHello, kHandshake, kRequest, kFlush, kLinger, kDone };

  void received(std::span<const uint8_t> bytes);
  void peer_closed();
  void hello_bytes(std::span<const uint8_t> bytes);
  void start_tls();
  void handshake();
  void read_request();
  void request_bytes(std::span<const uint8_t> bytes);
  void answer_http1();
  void answer_http2(const Http2Request& request);
  // Records the visit (tls_error when it failed) and sends `answer` when there is one, then closes.
  void finish(const std::optional<std::string>& error, bool answer);
  // OpenSSL's output into `pending_`, and as much of it onto the socket as it takes.
  void flush();
  // The answer all sent: a TLS connection lingers (see above), any other ends.
  void flushed();

  UniqueFd fd_;
  Visit visit_;
  Limits limits_;
  SSL_CTX* context_;
  const VisitHandler& handler_;
  ListenerStats& stats_;
  Stage stage_ = Stage::kHello;
  Clock::time_point linger_until_{};
  std::vector<uint8_t> hello_;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_{nullptr, &SSL_free};
  BIO* input_ = nullptr;    // owned by ssl_
  BIO* output_ = nullptr;   // owned by ssl_
  std::string pending_;
  std::string head_;
  std::unique_ptr<Http2Exchange> http2_;
};

// The User-Agent header of an HTTP/1.x request head; nullopt when there is none.
std::optional<std::string> user_agent_of(std::string_view request_head);

}  // namespace mitmscope
