// The sentinel as the TLS-terminating server itself: it reads each client's ClientHello from the
// socket before OpenSSL sees it, completes the handshake with the provider's certificate, reads the
// HTTP request (HTTP/1.x, or HTTP/2 when ALPN chose h2) for its User-Agent, and answers with the
// visit's judgement as JSON: a provider can put it behind a path of its site, and a visitor sees
// what the server saw.
//
// Event-driven, as the scan engine is: `threads` epoll loops share the listening sockets and drive
// each connection's state machine (sentinel/visit_connection); no thread waits on a client. Built
// to hold under attack, not only under visitors:
//   - at most `max_connections` open at once (the process's descriptor limit is raised to fit),
//     and at most `max_per_address` from one client address: beyond, a connection is closed at once;
//   - the ClientHello, whole, within `hello_timeout` of the connection (a client that sends three
//     bytes and then nothing is cut off there; a real one sends it at once), the whole visit within
//     `timeout`;
//   - at most `max_hello_bytes` of ClientHello and 16 KiB of request head held per connection;
//   - every connection that was not a visit is counted by why (ListenerStats).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "engine/endpoint.h"
#include "sentinel/visit_connection.h"
#include "x509/openssl_ptr.h"

namespace mitmscope {

struct ListenerOptions {
  std::vector<Endpoint> addresses;
  std::filesystem::path certificate;   // PEM chain, leaf first
  std::filesystem::path key;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds hello_timeout{3000};
  size_t max_connections = 10000;
  size_t max_per_address = 256;
  size_t max_hello_bytes = 64 * 1024;
  unsigned threads = 0;                // event loops; 0: one per core
};

class Listener {
 public:
  static Result<std::unique_ptr<Listener>> open(ListenerOptions options);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Serves until `stop`; then finishes the connections in flight (each ends by its deadline).
  void run(const VisitHandler& handler, const std::atomic<bool>& stop);
  const ListenerStats& stats() const { return stats_; }
  std::vector<std::string> bound() const;   // "ip:port" of each listening socket

 private:
  explicit Listener(ListenerOptions options) : options_(std::move(options)) {}
  class Loop;
  // Whether a new connection from `ip` may be served; counts it when it may.
  bool admit(const std::string& ip);
  void release(const std::string& ip);

  ListenerOptions options_;
  SslCtxPtr context_;
  std::vector<UniqueFd> sockets_;
  std::vector<Endpoint> bound_;
  ListenerStats stats_;
  std::mutex admission_mutex_;
  size_t open_ = 0;
  std::map<std::string, size_t, std::less<>> per_address_;
};

}  // namespace mitmscope
