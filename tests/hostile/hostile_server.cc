// hostile_server: TLS "servers" that misbehave on purpose, for tests/e2e/hostile_test.sh and
// bench/hostile_memory.sh. One event-driven process on one port of the loopback net: the third
// octet of the address a client connected to picks the behaviour (127.31.B.H), so one scan can
// mix every behaviour with healthy hosts. Connections to any address outside 127.0.0.0/8 are closed.
//
//   B  behaviour
//   0  healthy: a full TLS handshake with a chain valid under the test CA (--ca-out)
//   1  silent: accepts and says nothing
//   2  drip: one byte per second, forever
//   3  endless: an endless stream of handshake records, as fast as the client reads
//   4  huge-chain: a Certificate message of 16 MB (after a valid ServerHello)
//   5  many-certificates: 200 certificates in the chain
//   6  garbage: bytes that are not TLS
//   7  alert: a fatal handshake_failure alert in answer to the ClientHello
//   8  http: an HTTP 301 redirect to 127.31.8.250, which counts whoever follows it
//   9  reset: half a ServerHello, then a TCP reset
//  10  bad-extensions: a ServerHello with a duplicated and an overlong extension
//  11  absurd-certificate: a full handshake with a certificate of negative serial, notAfter 9999,
//      an 8 KB name and an unknown critical extension
//  12  half-close: reads the ClientHello, then shuts its sending side and keeps reading
//  13  alert-after-hello: a valid ServerHello, then a fatal alert
//  14  alert-after-certificate: ServerHello and Certificate, then a fatal alert
//
// Usage: hostile_server [--port P] --ca-out FILE   (prints "ready PORT"; runs until SIGTERM/SIGINT)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lab/pki.h"

namespace {

using namespace mitmscope;
using Clock = std::chrono::steady_clock;

constexpr const char* kBehaviours[] = {"healthy", "silent", "drip", "endless", "huge-chain", "many-certificates", "garbage",
                                       "alert", "http", "reset", "bad-extensions", "absurd-certificate", "half-close",
                                       "alert-after-hello", "alert-after-certificate"};
constexpr int kBehaviourCount = static_cast<int>(std::size(kBehaviours));

volatile std::sig_atomic_t stopping = 0;

std::string u24(size_t value) {
  return {static_cast<char>((value >> 16) & 0xff), static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)};
}
std::string u16(size_t value) { return {static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)}; }

// Handshake messages cut into TLS 1.2 records of at most 16 KB.
std::string records(const std::string& handshake, char type = 0x16) {
  std::string out;
  for (size_t at = 0; at < handshake.size(); at += 16384) {
    const std::string fragment = handshake.substr(at, 16384);
    out += std::string{type, 0x03, 0x03} + u16(fragment.size()) + fragment;
  }
  return out;
}

// A TLS 1.2 ServerHello (ECDHE-ECDSA-AES128-GCM-SHA256, to match the EC certificates sent after it)
// with the given extensions block.
std::string server_hello(const std::string& extensions) {
  std::string body = "\x03\x03";
  for (int i = 0; i < 32; ++i) body += static_cast<char>(0x40 + i);
  body += '\0';                      // session id
  body += std::string("\xc0\x2b", 2);
  body += '\0';                      // compression
  body += u16(extensions.size()) + extensions;
  return "\x02" + u24(body.size()) + body;
}
const std::string kRenegotiationInfo("\xff\x01\x00\x01\x00", 5);

std::string certificate_message(const std::vector<std::vector<uint8_t>>& ders, size_t repeat) {
  std::string list;
  for (size_t i = 0; i < repeat; ++i) {
    for (const auto& der : ders) list += u24(der.size()) + std::string(der.begin(), der.end());
  }
  return "\x0b" + u24(list.size() + 3) + u24(list.size()) + list;
}

struct Connection {
  int fd = -1;
  int behaviour = 0;
  SSL* ssl = nullptr;
  std::string input;
  std::string output;       // queued bytes
  size_t output_sent = 0;
  bool greeted = false;     // the scripted answer was queued
  Clock::time_point next_drip{};
  size_t endless_sent = 0;
  size_t huge_left = 0;
};

class Server {
 public:
  Server(uint16_t port, lab::Identity ca, lab::Identity healthy, lab::Identity absurd)
      : port_(port), ca_(std::move(ca)), healthy_(std::move(healthy)), absurd_(std::move(absurd)) {}

  int run() {
    healthy_context_ = make_context(healthy_);
    absurd_context_ = make_context(absurd_);
    if (!healthy_context_ || !absurd_context_) return 1;
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_ANY);  // every 127.31.B.H; others are closed at accept
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listen_fd_, 4096) != 0) {
      fmt::print(stderr, "hostile_server: listen on port {}: {}\n", port_, std::strerror(errno));
      return 1;
    }
    socklen_t length = sizeof address;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);  // --port 0: the kernel's choice, so parallel tests never collide
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    add(listen_fd_, EPOLLIN);
    timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec tick{{0, 100'000'000}, {0, 100'000'000}};
    ::timerfd_settime(timer_, 0, &tick, nullptr);
    add(timer_, EPOLLIN);
    fmt::print("ready {}\n", port_);
    std::fflush(stdout);
    epoll_event events[256];
    while (!stopping) {
      const int count = ::epoll_wait(epoll_, events, 256, 200);
      for (int i = 0; i < count; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          accept_all();
        } else if (fd == timer_) {
          uint64_t expirations;
          (void)::read(timer_, &expirations, sizeof expirations);
          drip();
        } else if (auto it = connections_.find(fd); it != connections_.end()) {
          if (!serve(*it->second)) close(fd);
        }
      }
    }
    for (auto& [fd, connection] : connections_) {
      if (connection->ssl) SSL_free(connection->ssl);
      ::close(fd);
    }
    fmt::print(stderr, "hostile_server: {} connections served, at most {} to one address within one second, {} to the "
               "redirect target 127.31.8.250\n", accepted_, max_per_second_, redirect_hits_);
    return 0;
  }

 private:
  struct ContextFree {
    void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
  };
  using Context = std::unique_ptr<SSL_CTX, ContextFree>;

  Context make_context(const lab::Identity& identity) {
    Context context(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_security_level(context.get(), 0);
    if (SSL_CTX_use_certificate(context.get(), identity.certificate.get()) != 1 ||
        SSL_CTX_use_PrivateKey(context.get(), identity.key.get()) != 1) {
      fmt::print(stderr, "hostile_server: cannot load a certificate\n");
      return nullptr;
    }
    if (&identity == &healthy_) SSL_CTX_add1_chain_cert(context.get(), ca_.certificate.get());
    return context;
  }

  void add(int fd, uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
  }
  void watch(Connection& connection, bool want_write) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0u);
    event.data.fd = connection.fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, connection.fd, &event);
  }

  void accept_all() {
    while (true) {
      sockaddr_in peer{};
      socklen_t length = sizeof peer;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      sockaddr_in local{};
      socklen_t local_length = sizeof local;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length);
      const uint32_t address = ntohl(local.sin_addr.s_addr);
      if ((address >> 24) != 127) {
        ::close(fd);
        continue;
      }
      ++accepted_;
      if (address == 0x7f1f08fa) ++redirect_hits_;  // 127.31.8.250
      count_rate(address);
      auto connection = std::make_unique<Connection>();
      connection->fd = fd;
      connection->behaviour = static_cast<int>((address >> 8) & 0xff) % kBehaviourCount;
      connection->next_drip = Clock::now();
      if (connection->behaviour == 0 || connection->behaviour == 11) {
        connection->ssl = SSL_new(connection->behaviour == 0 ? healthy_context_.get() : absurd_context_.get());
        SSL_set_fd(connection->ssl, fd);
        SSL_set_accept_state(connection->ssl);
      }
      add(fd, EPOLLIN | EPOLLRDHUP);
      connections_[fd] = std::move(connection);
    }
  }

  void close(int fd) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    if (it->second->ssl) SSL_free(it->second->ssl);
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    connections_.erase(it);
  }

  // Reads what the client sent; false when it closed.
  bool read_input(Connection& connection) {
    char buffer[16384];
    while (true) {
      const ssize_t got = ::read(connection.fd, buffer, sizeof buffer);
      if (got > 0) {
        if (connection.input.size() < 65536) connection.input.append(buffer, static_cast<size_t>(got));
        continue;
      }
      if (got == 0) return false;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
  }

  // A whole ClientHello record has arrived.
  static bool have_client_hello(const Connection& connection) {
    if (connection.input.size() < 5) return false;
    const size_t length = (static_cast<uint8_t>(connection.input[3]) << 8) | static_cast<uint8_t>(connection.input[4]);
    return connection.input.size() >= 5 + length;
  }

  // Writes what is queued; false on a write error.
  bool flush(Connection& connection) {
    while (connection.output_sent < connection.output.size()) {
      const ssize_t wrote = ::send(connection.fd, connection.output.data() + connection.output_sent,
                                   connection.output.size() - connection.output_sent, MSG_NOSIGNAL);
      if (wrote > 0) {
        connection.output_sent += static_cast<size_t>(wrote);
        continue;
      }
      if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return false;
    }
    if (connection.output_sent == connection.output.size()) {
      connection.output.clear();
      connection.output_sent = 0;
    }
    return true;
  }

  bool serve(Connection& connection) {
    if (connection.ssl) return serve_tls(connection);
    const bool open = read_input(connection);
    const int behaviour = connection.behaviour;
    if (!open) return false;
    if (behaviour == 1 || behaviour == 2) return open;  // silent; drip is driven by the timer
    if (!connection.greeted && (behaviour == 6 || behaviour == 8 || have_client_hello(connection))) {
      connection.greeted = true;
      switch (behaviour) {
        case 3: connection.output = records(server_hello(kRenegotiationInfo)); break;
        case 4:  // the first record carries the message header claiming 16 MB; the others carry its body
          connection.output = records(server_hello(kRenegotiationInfo));
          // 16 MB less one byte: the most a handshake message length (24 bits) can say.
          connection.output += records("\x0b" + u24((16u << 20) - 1) + u24((16u << 20) - 4) +
                                       certificate_message({ca_der()}, 1).substr(7) + std::string(16000, '\x30'));
          connection.huge_left = (16u << 20) - 16380;
          break;
        case 5: connection.output = records(server_hello(kRenegotiationInfo) + certificate_message({ca_der()}, 200)); break;
        case 6: connection.output = std::string(4096, '\x9c'); break;
        case 7: connection.output = std::string("\x15\x03\x03\x00\x02\x02\x28", 7); break;
        case 8:  // an HTTP redirect to 127.31.8.250, which counts whoever follows it
          connection.output = fmt::format("HTTP/1.1 301 Moved Permanently\r\nLocation: https://127.31.8.250:{}/\r\n"
                                          "Content-Length: 0\r\nConnection: close\r\n\r\n", port_);
          break;
        case 9: {
          connection.output = records(server_hello(kRenegotiationInfo)).substr(0, 20);
          flush(connection);
          const linger reset{1, 0};
          ::setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
          return false;
        }
        case 10: {
          std::string extensions = kRenegotiationInfo + kRenegotiationInfo + std::string("\x00\x10\x7f\xff\x02h2", 7);
          connection.output = records(server_hello(extensions));
          break;
        }
        case 12: ::shutdown(connection.fd, SHUT_WR); return true;
        case 13: connection.output = records(server_hello(kRenegotiationInfo)) + std::string("\x15\x03\x03\x00\x02\x02\x28", 7); break;
        case 14:
          connection.output = records(server_hello(kRenegotiationInfo) + certificate_message({ca_der()}, 1)) +
                              std::string("\x15\x03\x03\x00\x02\x02\x2a", 7);  // bad_certificate
          break;
        default: break;
      }
    }
    if (behaviour == 3) {  // endless: keep the pipe full of records
      while (connection.output.size() - connection.output_sent < 65536) {
        connection.output += records(std::string(16384, '\0'));
        ++connection.endless_sent;
      }
    }
    while (behaviour == 4 && connection.huge_left > 0 && connection.output.size() - connection.output_sent < 65536) {
      const size_t chunk = std::min<size_t>(connection.huge_left, 16384);
      connection.output += records(std::string(chunk, '\x30'));
      connection.huge_left -= chunk;
    }
    if (!flush(connection)) return false;
    const bool more = behaviour == 3 || (behaviour == 4 && connection.huge_left > 0) || !connection.output.empty();
    watch(connection, more);
    return true;
  }

  bool serve_tls(Connection& connection) {
    if (!SSL_is_init_finished(connection.ssl)) {
      const int result = SSL_do_handshake(connection.ssl);
      if (result == 1) return true;
      const int error = SSL_get_error(connection.ssl, result);
      ERR_clear_error();
      if (error == SSL_ERROR_WANT_READ) {
        watch(connection, false);
        return true;
      }
      if (error == SSL_ERROR_WANT_WRITE) {
        watch(connection, true);
        return true;
      }
      return false;
    }
    char buffer[4096];
    const int got = SSL_read(connection.ssl, buffer, sizeof buffer);
    if (got > 0) return true;
    const int error = SSL_get_error(connection.ssl, got);
    ERR_clear_error();
    return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE;
  }

  // Once per tick: one byte to every dripping connection whose second has come.
  void drip() {
    const auto now = Clock::now();
    std::vector<int> closed;
    for (auto& [fd, connection] : connections_) {
      if (connection->behaviour != 2 || now < connection->next_drip) continue;
      connection->next_drip = now + std::chrono::seconds(1);
      // A record header that promises 16 KB, then its body, a byte a second: only a timeout ends it.
      static const std::string header("\x16\x03\x03\x40\x00", 5);
      const char byte = connection->endless_sent < header.size() ? header[connection->endless_sent] : '\x00';
      ++connection->endless_sent;
      if (::send(fd, &byte, 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN) closed.push_back(fd);
    }
    for (int fd : closed) close(fd);
  }

  std::vector<uint8_t> ca_der() const { return ca_.certificate.der(); }

  // Connections per destination address within any one-second window: how tests check, at the receiving
  // end, that a scanner's per-host rate cap held.
  void count_rate(uint32_t address) {
    auto& window = arrivals_[address];
    const auto now = Clock::now();
    window.push_back(now);
    while (!window.empty() && now - window.front() >= std::chrono::seconds(1)) window.pop_front();
    max_per_second_ = std::max(max_per_second_, window.size());
  }
  std::map<uint32_t, std::deque<Clock::time_point>> arrivals_;
  size_t max_per_second_ = 0;

  uint16_t port_;
  lab::Identity ca_, healthy_, absurd_;
  Context healthy_context_, absurd_context_;
  int listen_fd_ = -1, epoll_ = -1, timer_ = -1;
  std::map<int, std::unique_ptr<Connection>> connections_;
  size_t accepted_ = 0;
  size_t redirect_hits_ = 0;
};

// notAfter 9999, a negative serial, an 8 KB attribute and an unknown critical extension.
Result<lab::Identity> absurd_identity(const lab::Identity& ca) {
  auto key = lab::generate_key({lab::KeySpec::Type::kEcP256});
  if (!key) return std::unexpected(key.error());
  X509* x509 = X509_new();
  X509_set_version(x509, 2);
  BIGNUM* serial = BN_new();
  BN_set_word(serial, 4242);
  BN_set_negative(serial, 1);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x509));
  BN_free(serial);
  ASN1_TIME_set_string_X509(X509_getm_notBefore(x509), "20200101000000Z");
  ASN1_TIME_set_string_X509(X509_getm_notAfter(x509), "99991231235959Z");
  X509_NAME* name = X509_get_subject_name(x509);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("absurd.example"), -1, -1, 0);
  const std::string huge(8192, 'A');
  X509_NAME_add_entry_by_txt(name, "1.3.6.1.4.1.99999.1", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(huge.c_str()), -1, -1, 0);
  X509_set_issuer_name(x509, X509_get_subject_name(ca.certificate.get()));
  X509_set_pubkey(x509, key->get());
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.4.1.99999.2", 1);
  ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(value, reinterpret_cast<const unsigned char*>("\x05\x00"), 2);
  X509_EXTENSION* extension = X509_EXTENSION_create_by_OBJ(nullptr, oid, 1, value);
  X509_add_ext(x509, extension, -1);
  X509_EXTENSION_free(extension);
  ASN1_OCTET_STRING_free(value);
  ASN1_OBJECT_free(oid);
  X509_sign(x509, ca.key.get(), EVP_sha256());
  auto certificate = Certificate::from_x509(x509);
  if (!certificate) return std::unexpected(certificate.error());
  return lab::Identity{*certificate, *key};
}

}  // namespace

int main(int argc, char** argv) {
  uint16_t port = 0;
  std::string ca_out;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--port") port = static_cast<uint16_t>(std::stoi(argv[i + 1]));
    else if (flag == "--ca-out") ca_out = argv[i + 1];
  }
  if (ca_out.empty()) {
    fmt::print(stderr, "usage: hostile_server [--port P (0: any free port)] --ca-out FILE\n");
    return 2;
  }
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });
  std::signal(SIGPIPE, SIG_IGN);
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  lab::CertificateSpec ca_spec;
  ca_spec.subject = {{"O", "mitmscope hostile tests"}, {"CN", "Hostile Test CA"}};
  ca_spec.is_ca = true;
  ca_spec.not_before = now - std::chrono::days(1);
  ca_spec.not_after = now + std::chrono::days(30);
  auto ca = lab::make_identity(ca_spec, {lab::KeySpec::Type::kEcP256}, nullptr);
  lab::CertificateSpec leaf_spec;
  leaf_spec.subject = {{"CN", "healthy.example"}};
  leaf_spec.dns_names = {"healthy.example"};
  leaf_spec.not_before = ca_spec.not_before;
  leaf_spec.not_after = ca_spec.not_after;
  auto healthy = ca ? lab::make_identity(leaf_spec, {lab::KeySpec::Type::kEcP256}, &*ca) : std::unexpected(ca.error());
  auto absurd = ca ? absurd_identity(*ca) : std::unexpected(ca.error());
  if (!ca || !healthy || !absurd) {
    fmt::print(stderr, "hostile_server: cannot mint the certificates\n");
    return 1;
  }
  std::ofstream(ca_out) << lab::certificate_pem(ca->certificate);
  Server server(port, std::move(*ca), std::move(*healthy), std::move(*absurd));
  return server.run();
}
