// The sentinel as the TLS-terminating server itself: it reads each client's ClientHello
// from the socket before OpenSSL sees it (a memory BIO in front of the handshake), completes
// the handshake with the provider's certificate, reads the HTTP request (HTTP/1.x, or HTTP/2 when
// ALPN chose h2) for its User-Agent,
// and answers with the visit's judgement as JSON: a provider can put it behind a path of its
// site, and a visitor sees what the server saw.
//
// Bounded on hostile clients: one thread per connection up to `max_connections` (beyond,
// connections are closed at once and counted), the whole visit within `timeout`, at most
// `max_hello_bytes` of ClientHello and 16 KiB of request headers. A ClientHello that arrives
// whole is a visit even when the handshake then fails (tls_error says why).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "engine/endpoint.h"
#include "sentinel/visit.h"
#include "x509/openssl_ptr.h"

namespace mitmscope {

struct ListenerOptions {
  std::vector<Endpoint> addresses;
  std::filesystem::path certificate;   // PEM chain, leaf first
  std::filesystem::path key;
  std::chrono::milliseconds timeout{10000};
  size_t max_connections = 256;
  size_t max_hello_bytes = 64 * 1024;
};

struct ListenerStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> visits{0};
  std::atomic<uint64_t> refused_busy{0};
  std::atomic<uint64_t> not_client_hello{0};   // the first bytes were not a ClientHello
  std::atomic<uint64_t> timeouts{0};           // no whole ClientHello in time
  std::atomic<uint64_t> handshake_failures{0};
};

// Called once per visit from the connection's thread; returns the HTTP response body.
using VisitHandler = std::function<std::string(const Visit&)>;

class Listener {
 public:
  static Result<std::unique_ptr<Listener>> open(ListenerOptions options);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Accepts until `stop`; then waits for the connections in flight (each ends within `timeout`).
  void run(const VisitHandler& handler, const std::atomic<bool>& stop);
  const ListenerStats& stats() const { return stats_; }
  std::vector<std::string> bound() const;   // "ip:port" of each listening socket

 private:
  explicit Listener(ListenerOptions options) : options_(std::move(options)) {}
  void serve(int fd, const Endpoint& local, const VisitHandler& handler);
  // The handshake's SSL over a memory BIO (the ClientHello read first) and the socket.
  struct TlsSession {
    SSL* ssl;
    BIO* input;
    int fd;
    std::chrono::steady_clock::time_point deadline;
    // Runs an SSL call, reading from the socket while OpenSSL wants more.
    int drive(const std::function<int()>& call) const;
  };
  void answer_http1(const TlsSession& session, Visit& visit, const VisitHandler& handler);
  void answer_http2(const TlsSession& session, Visit& visit, const VisitHandler& handler);

  ListenerOptions options_;
  SslCtxPtr context_;
  std::vector<UniqueFd> sockets_;
  std::vector<Endpoint> bound_;
  ListenerStats stats_;
  std::atomic<size_t> active_{0};
};

// The User-Agent header of an HTTP/1.x request head; nullopt when there is none.
std::optional<std::string> user_agent_of(std::string_view request_head);

}  // namespace mitmscope
