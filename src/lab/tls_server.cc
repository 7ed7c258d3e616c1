#include "lab/tls_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include <openssl/err.h>

#include <fmt/format.h>

namespace mitmscope::lab {
namespace {

Result<UniqueFd> listen_on(const std::string& address, uint16_t port, uint16_t& bound_port) {
  sockaddr_in socket_address{};
  socket_address.sin_family = AF_INET;
  socket_address.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &socket_address.sin_addr) != 1) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("bad bind address {}", address));
  }
  UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int fd = socket.get();
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&socket_address), sizeof socket_address) != 0 || ::listen(fd, 64) != 0) {
    return make_error(ErrorCode::kNetworkError, fmt::format("listen on {}:{}: {}", address, port, std::strerror(errno)));
  }
  socklen_t length = sizeof socket_address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&socket_address), &length);
  bound_port = ntohs(socket_address.sin_port);
  return socket;
}

void set_timeouts(int fd, int seconds) {
  timeval timeout{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (written <= 0) return;
    data.remove_prefix(static_cast<size_t>(written));
  }
}

// Reads what the client sent first (its ClientHello); the content does not matter.
void read_once(int fd, char* buffer, size_t size) {
  [[maybe_unused]] const ssize_t ignored = ::recv(fd, buffer, size, 0);
}

}  // namespace

Result<uint16_t> unused_loopback_port() {
  uint16_t port = 0;
  auto fd = listen_on("127.0.0.1", 0, port);
  if (!fd) return std::unexpected(fd.error());
  return port;
}

Result<std::unique_ptr<TlsTestServer>> TlsTestServer::start(TlsServerOptions options) {
  std::signal(SIGPIPE, SIG_IGN);  // clients that vanish mid-write must not kill the process
  std::unique_ptr<TlsTestServer> server(new TlsTestServer(std::move(options)));
  auto& opts = server->options_;
  if (opts.behavior == ServerBehavior::kNormal) {
    if (opts.chain.empty() || !opts.key) return make_error(ErrorCode::kInvalidArgument, "a TLS server needs a chain and a key");
    server->context_.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX* context = server->context_.get();
    SSL_CTX_set_security_level(context, 0);
    SSL_CTX_set_min_proto_version(context, opts.min_version);
    SSL_CTX_set_max_proto_version(context, opts.max_version);
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
    if (SSL_CTX_use_certificate(context, opts.chain.front().get()) != 1 ||
        SSL_CTX_use_PrivateKey(context, opts.key.get()) != 1) {
      return make_error(ErrorCode::kCryptoError, "server certificate/key: " + take_openssl_error());
    }
    for (size_t i = 1; i < opts.chain.size(); ++i) {
      SSL_CTX_add1_chain_cert(context, opts.chain[i].get());
    }
    SSL_CTX_set_tlsext_servername_callback(context, &TlsTestServer::on_server_name);
    SSL_CTX_set_tlsext_servername_arg(context, server.get());
  }
  auto fd = listen_on(opts.bind_address, opts.port, server->port_);
  if (!fd) return std::unexpected(fd.error());
  server->listen_fd_ = std::move(*fd);
  auto wake = make_pipe(O_CLOEXEC);
  if (!wake) return std::unexpected(wake.error());
  server->wake_ = std::move(*wake);
  server->thread_ = std::thread([raw = server.get()] { raw->serve(); });
  return server;
}

TlsTestServer::~TlsTestServer() {
  if (wake_.write) {
    const char byte = 0;
    [[maybe_unused]] ssize_t ignored = ::write(wake_.write.get(), &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
}

std::string TlsTestServer::address() const { return fmt::format("{}:{}", options_.bind_address, port_); }

std::vector<std::string> TlsTestServer::server_names_seen() const {
  std::lock_guard lock(mutex_);
  return server_names_;
}

int TlsTestServer::on_server_name(SSL* ssl, int*, void* self) {
  auto* server = static_cast<TlsTestServer*>(self);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  std::lock_guard lock(server->mutex_);
  server->server_names_.push_back(name ? name : "");
  return SSL_TLSEXT_ERR_OK;
}

void TlsTestServer::serve() {
  for (;;) {
    pollfd descriptors[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_.read.get(), POLLIN, 0}};
    if (::poll(descriptors, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (descriptors[1].revents) return;
    if (!(descriptors[0].revents & POLLIN)) continue;
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    ++connections_;
    handle(std::move(client));
  }
}

void TlsTestServer::handle(UniqueFd socket) {
  const int client = socket.get();
  set_timeouts(client, 3);
  char buffer[16384];
  switch (options_.behavior) {
    case ServerBehavior::kSilent: {
      std::lock_guard lock(mutex_);
      held_.push_back(std::move(socket));
      return;
    }
    case ServerBehavior::kCloseAfterClientHello:
      read_once(client, buffer, sizeof buffer);
      break;
    case ServerBehavior::kGarbage:
      read_once(client, buffer, sizeof buffer);
      write_all(client, "this is not TLS, this is garbage. this is not TLS, this is garbage.\r\n");
      break;
    case ServerBehavior::kHttp:
      read_once(client, buffer, sizeof buffer);
      write_all(client, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      break;
    case ServerBehavior::kNormal: {
      SslPtr ssl(SSL_new(context_.get()));
      SSL_set_fd(ssl.get(), client);
      if (SSL_accept(ssl.get()) == 1) {
        // Wait for the client to close (it sends close_notify or just closes).
        while (SSL_read(ssl.get(), buffer, sizeof buffer) > 0) {
        }
        SSL_shutdown(ssl.get());
      }
      ERR_clear_error();
      break;
    }
  }
}

}  // namespace mitmscope::lab
