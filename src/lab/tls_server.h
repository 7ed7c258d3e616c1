// A TLS server for tests and the demo, on a loopback (or namespace) address, that
// can serve any chain and misbehave on purpose: say nothing, close mid-handshake,
// answer with garbage or HTTP. One thread; connections are handled one at a time
// with socket timeouts, which is all a test needs (the lab's many-host server is a
// separate, event-driven one).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "lab/pki.h"

namespace mitmscope::lab {

enum class ServerBehavior {
  kNormal,                 // complete the handshake, wait for the client to close
  kCloseAfterClientHello,  // read the ClientHello, then close (FIN)
  kSilent,                 // accept and never read or write
  kGarbage,                // answer with bytes that are not TLS
  kHttp,                   // answer with an HTTP response
};

struct TlsServerOptions {
  Chain chain;                             // leaf first; what the server sends
  SharedKey key;                           // the leaf's private key
  uint16_t min_version = 0x0303;
  uint16_t max_version = 0x0304;
  ServerBehavior behavior = ServerBehavior::kNormal;
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;                       // 0: any free port
};

class TlsTestServer {
 public:
  static Result<std::unique_ptr<TlsTestServer>> start(TlsServerOptions options);
  ~TlsTestServer();
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;             // "127.0.0.1:port"
  size_t connections() const { return connections_.load(); }
  std::vector<std::string> server_names_seen() const;

 private:
  explicit TlsTestServer(TlsServerOptions options) : options_(std::move(options)) {}
  void serve();
  void handle(UniqueFd client);
  static int on_server_name(SSL* ssl, int* alert, void* self);

  TlsServerOptions options_;
  SslCtxPtr context_;
  UniqueFd listen_fd_;
  UniquePipe wake_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<size_t> connections_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> server_names_;
  std::vector<UniqueFd> held_;                 // sockets of silent connections, closed at stop
};

// A port on 127.0.0.1 where nothing listens (bound, then released).
Result<uint16_t> unused_loopback_port();

}  // namespace mitmscope::lab
