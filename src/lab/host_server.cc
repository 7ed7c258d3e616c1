#include "lab/host_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include <openssl/err.h>

#include <fmt/format.h>

#include "tls/client_hello.h"

namespace mitmscope::lab {

struct HostServer::Connection {
  UniqueFd fd;
  SslPtr ssl;
  bool handshake_done = false;
  bool client_hello_seen = false;
  bool answered = false;
  std::chrono::steady_clock::time_point started;
};

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);

uint32_t local_address(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohl(address.sin_addr.s_addr);
}

uint32_t peer_address(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohl(address.sin_addr.s_addr);
}

}  // namespace

std::string host_name_for(uint32_t address, uint32_t asn) {
  return fmt::format("h{}-{}-{}-{}.as{}.kz.lab", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff,
                     address & 0xff, asn);
}

HostServer::HostServer(HostServerOptions options) : options_(std::move(options)) {
  std::signal(SIGPIPE, SIG_IGN);
  context_.reset(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_set_security_level(context_.get(), 0);
  SSL_CTX_set_min_proto_version(context_.get(), TLS1_VERSION);
  SSL_CTX_set_cipher_list(context_.get(), "ALL:@SECLEVEL=0");
  SSL_CTX_set_session_cache_mode(context_.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(context_.get(), SSL_OP_NO_TICKET);
}

HostServer::~HostServer() = default;

Result<Identity> HostServer::identity_for(uint32_t address) {
  {
    std::lock_guard lock(identities_mutex_);
    if (auto it = identities_.find(address); it != identities_.end()) return it->second;
  }
  uint32_t asn = 0;
  // In loopback mode the plan's address is the same with the plan's first octet.
  const uint32_t plan_address = options_.loopback ? (address & 0x00ffffffu) | (198u << 24) : address;
  if (options_.plan) {
    for (const auto& prefix : options_.plan->prefixes) {
      const uint32_t mask = prefix.length == 0 ? 0 : ~0u << (32 - prefix.length);
      if ((plan_address & mask) == prefix.network) asn = prefix.asn;
    }
  }
  const auto now = now_utc();
  CertificateSpec spec;
  const std::string name = host_name_for(address, asn);
  spec.subject = {{"C", "KZ"}, {"O", fmt::format("AS{} customer", asn)}, {"CN", name}};
  spec.dns_names = {name};
  spec.not_before = now - std::chrono::days{60};
  spec.not_after = now + std::chrono::days{305};
  const bool untrusted = options_.plan && options_.plan->is_untrusted_host(plan_address);
  auto identity = make_identity(spec, KeySpec{.type = KeySpec::Type::kEcP256}, untrusted ? nullptr : &options_.public_ca);
  if (!identity) return identity;
  std::lock_guard lock(identities_mutex_);
  return identities_.emplace(address, std::move(*identity)).first->second;
}

Result<void> HostServer::listen() {
  listen_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int yes = 1;
  ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  // A sentinel (`sentinel --listen`, SO_REUSEPORT too) may take one address of the hosts in tests: the more
  // specific bind gets that address's connections, this server keeps all the others.
  ::setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options_.port);
  inet_pton(AF_INET, options_.bind_address.c_str(), &address.sin_addr);
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listen_fd_.get(), 4096) != 0) {
    return make_error(ErrorCode::kNetworkError,
                      fmt::format("host server: listen on {}:{}: {}", options_.bind_address, options_.port, std::strerror(errno)));
  }
  socklen_t length = sizeof address;
  ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  wake_fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listen_fd_.get();
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &event);
  event.data.fd = wake_fd_.get();
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &event);
  return {};
}

void HostServer::stop() {
  stopping_ = true;
  const uint64_t one = 1;
  if (wake_fd_) [[maybe_unused]] auto written = ::write(wake_fd_.get(), &one, sizeof one);
}

void HostServer::close(int fd) {
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  connections_.erase(fd);   // the connection owns the descriptor
}

void HostServer::accept_ready() {
  for (;;) {
    UniqueFd accepted(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!accepted) return;
    const int fd = accepted.get();
    const uint32_t local = local_address(fd);
    if (options_.loopback && (local >> 24) != 127) continue;
    count_connection(peer_address(fd), local);
    auto identity = identity_for(local);
    if (!identity) continue;
    auto connection = std::make_unique<Connection>();
    connection->fd = std::move(accepted);
    connection->started = std::chrono::steady_clock::now();
    connection->ssl.reset(SSL_new(context_.get()));
    SSL_use_certificate(connection->ssl.get(), identity->certificate.get());
    SSL_use_PrivateKey(connection->ssl.get(), identity->key.get());
    SSL_set_fd(connection->ssl.get(), fd);
    SSL_set_accept_state(connection->ssl.get());
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event);
    auto& stored = *connections_.emplace(fd, std::move(connection)).first->second;
    advance(stored);
  }
}

void HostServer::advance(Connection& connection) {
  ERR_clear_error();
  SSL* ssl = connection.ssl.get();
  const int fd = connection.fd.get();
  auto wait_for = [&](int result) {
    const int error = SSL_get_error(ssl, result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      epoll_event event{};
      event.events = error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
      event.data.fd = fd;
      ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, fd, &event);
      return true;
    }
    return false;
  };
  if (!connection.client_hello_seen) {
    uint8_t peeked[2048];
    const ssize_t count = ::recv(fd, peeked, sizeof peeked, MSG_PEEK);
    if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // EPOLLIN brings us back
    connection.client_hello_seen = true;
    if (count > 0) {
      if (auto hello = parse_client_hello(std::span<const uint8_t>(peeked, static_cast<size_t>(count)))) {
        std::lock_guard lock(shapes_mutex_);
        ++client_hello_shapes_[fmt::format("record 0x{:04x}, version 0x{:04x}, {} suites", hello->record_version,
                                           hello->legacy_version, hello->cipher_suites.size())];
      }
    }
  }
  if (!connection.handshake_done) {
    const int result = SSL_do_handshake(ssl);
    if (result != 1) {
      if (!wait_for(result)) close(fd);
      ERR_clear_error();
      return;
    }
    connection.handshake_done = true;
    ++handshakes_;
  }
  char buffer[4096];
  for (;;) {
    const int count = SSL_read(ssl, buffer, sizeof buffer);
    if (count > 0) {
      if (!connection.answered) {
        const std::string body = fmt::format("mitmscope lab host {}\n", ipv4_to_string(local_address(fd)));
        const std::string response = fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                                                 body.size(), body);
        SSL_write(ssl, response.data(), static_cast<int>(response.size()));
        connection.answered = true;
      }
      continue;
    }
    if (!wait_for(count)) {
      SSL_shutdown(ssl);
      close(fd);
    }
    ERR_clear_error();
    return;
  }
}

void HostServer::count_connection(uint32_t client, uint32_t address) {
  const auto now = std::chrono::steady_clock::now();
  const auto window_start = now - std::chrono::seconds(1);
  std::lock_guard lock(rates_mutex_);
  ++rates_.connections;
  auto slide = [&](std::deque<std::chrono::steady_clock::time_point>& window) {
    window.push_back(now);
    while (window.front() <= window_start) window.pop_front();
    return window.size();
  };
  const size_t for_address = slide(address_windows_[uint64_t(client) << 32 | address]);
  if (for_address > rates_.max_per_address_per_second) {
    rates_.max_per_address_per_second = for_address;
    rates_.busiest_address = address;
    rates_.busiest_client = client;
  }
  rates_.max_total_per_second = std::max(rates_.max_total_per_second, slide(client_windows_[client]));
  if (address_windows_.size() > 65536) {  // forget pairs idle for a second: memory stays bounded
    std::erase_if(address_windows_, [&](const auto& entry) { return entry.second.back() <= window_start; });
  }
}

HostServer::ConnectionRates HostServer::connection_rates() const {
  std::lock_guard lock(rates_mutex_);
  return rates_;
}

void HostServer::reset_connection_rates() {
  std::lock_guard lock(rates_mutex_);
  rates_ = {};
  address_windows_.clear();
  client_windows_.clear();
}

std::map<std::string, size_t> HostServer::client_hello_shapes() const {
  std::lock_guard lock(shapes_mutex_);
  return client_hello_shapes_;
}

void HostServer::run() {
  epoll_event events[256];
  while (!stopping_) {
    const int ready = ::epoll_wait(epoll_fd_.get(), events, 256, 1000);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_.get()) continue;
      if (fd == listen_fd_.get()) {
        accept_ready();
        continue;
      }
      auto it = connections_.find(fd);
      if (it != connections_.end()) advance(*it->second);
    }
    // Idle connections are closed: a client that stops talking cannot hold memory.
    const auto now = std::chrono::steady_clock::now();
    std::vector<int> idle;
    for (const auto& [fd, connection] : connections_) {
      if (now - connection->started > kIdleTimeout) idle.push_back(fd);
    }
    for (int fd : idle) close(fd);
  }
}

}  // namespace mitmscope::lab
