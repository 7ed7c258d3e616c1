#include "engine/tls_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <openssl/err.h>

#include <fmt/format.h>

#include "core/byte_reader.h"

namespace mitmscope {
namespace {

constexpr uint8_t kCertificateMessage = 11;
constexpr uint8_t kServerHelloMessage = 2;

double milliseconds_between(TlsConnection::Clock::time_point from, TlsConnection::Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// A BIO over the connection's socket that reads no more than the step's budget (see MeteredSocket).
int metered_write(BIO* bio, const char* data, size_t length, size_t* written) {
  auto* socket = static_cast<TlsConnection::MeteredSocket*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const ssize_t sent = ::send(socket->fd, data, length, MSG_NOSIGNAL);
  if (sent >= 0) {
    *written = static_cast<size_t>(sent);
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(bio);
  return 0;
}

int metered_read(BIO* bio, char* data, size_t length, size_t* read_bytes) {
  auto* socket = static_cast<TlsConnection::MeteredSocket*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (socket->step_budget == 0) {  // back to the event loop; the socket is still readable, so it comes back at once
    BIO_set_retry_read(bio);
    return 0;
  }
  const ssize_t got = ::recv(socket->fd, data, std::min(length, socket->step_budget), 0);
  if (got > 0) {
    const size_t keep = std::min(static_cast<size_t>(got), socket->head.size() - socket->head_size);
    std::memcpy(socket->head.data() + socket->head_size, data, keep);
    socket->head_size += keep;
    socket->step_budget -= static_cast<size_t>(got);
    socket->received += static_cast<uint64_t>(got);
    *read_bytes = static_cast<size_t>(got);
    return 1;
  }
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(bio);
  if (got == 0) errno = 0;  // end of stream, not a socket error
  return 0;
}

long metered_control(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

const BIO_METHOD* metered_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* created = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mitmscope metered socket");
    BIO_meth_set_write_ex(created, metered_write);
    BIO_meth_set_read_ex(created, metered_read);
    BIO_meth_set_ctrl(created, metered_control);
    BIO_meth_set_create(created, [](BIO* bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    return created;
  }();
  return method;
}

Error socket_error(int number, bool connecting) {
  switch (number) {
    case ECONNREFUSED: return {ErrorCode::kConnectionRefused, "connection refused"};
    case ETIMEDOUT: return {connecting ? ErrorCode::kConnectTimeout : ErrorCode::kHandshakeTimeout, "timed out"};
    case EHOSTUNREACH: case ENETUNREACH:
      return {ErrorCode::kHostUnreachable, fmt::format("unreachable: {}", std::strerror(number))};
    case ECONNRESET: case EPIPE: return {ErrorCode::kConnectionReset, "connection reset by peer"};
    default: return {ErrorCode::kNetworkError, std::strerror(number)};
  }
}

}  // namespace

Result<uint16_t> parse_tls_version(std::string_view text) {
  if (text.starts_with("TLSv")) text.remove_prefix(4);
  if (text.starts_with("tls")) text.remove_prefix(3);
  if (text == "1.0" || text == "1") return uint16_t{0x0301};
  if (text == "1.1") return uint16_t{0x0302};
  if (text == "1.2") return uint16_t{0x0303};
  if (text == "1.3") return uint16_t{0x0304};
  return make_error(ErrorCode::kInvalidArgument, fmt::format("unknown TLS version '{}': use 1.0, 1.1, 1.2 or 1.3", text));
}

Result<TlsClientContext> TlsClientContext::create(const TlsClientOptions& options) {
  if (options.min_version > options.max_version) {
    return make_error(ErrorCode::kInvalidArgument, "minimum TLS version is above the maximum");
  }
  // OpenSSL writes to sockets with write(2): a peer that already closed would raise
  // SIGPIPE and kill the process. A measurement tool talks to hostile peers, so the
  // signal is ignored process-wide and the error comes back as EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) return make_error(ErrorCode::kCryptoError, "SSL_CTX_new: " + take_openssl_error());
  TlsClientContext context;
  context.context_.reset(raw, SSL_CTX_free);
  context.options_ = options;
  // A measurement client must complete handshakes browsers would refuse (1024-bit keys,
  // SHA-1, old versions) to see what is there; judgement happens afterwards.
  SSL_CTX_set_security_level(raw, 0);
  SSL_CTX_set_cipher_list(raw, "ALL:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(raw, options.min_version);
  SSL_CTX_set_max_proto_version(raw, options.max_version);
  SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_max_cert_list(raw, static_cast<long>(options.max_certificate_list_bytes));
  // Every probe is a full handshake: no resumption, or the certificate would not be sent.
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(raw, SSL_OP_NO_TICKET);
  return context;
}

TlsConnection::TlsConnection(const TlsClientContext& context, const Endpoint& endpoint, std::string sni,
                             ConnectionOptions options)
    : context_(context), endpoint_(endpoint), options_(options) {
  if (!options_.ttl) options_.ttl = context.options().ttl;
  observation_.ip = endpoint.ip;
  observation_.port = endpoint.port;
  observation_.sni = std::move(sni);
  observation_.min_version = context.options().min_version;
  observation_.max_version = context.options().max_version;
}

TlsConnection::~TlsConnection() = default;

TlsConnection::Wait TlsConnection::start() {
  observation_.time = now_utc();
  started_ = Clock::now();
  deadline_ = started_ + context_.options().connect_timeout;
  fd_.reset(::socket(endpoint_.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) return finish(Error{ErrorCode::kNetworkError, fmt::format("socket: {}", std::strerror(errno))});
  if (options_.reset_on_close || options_.source_port != 0) {
    const int enable = 1;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &enable, sizeof enable);
  }
  if (options_.source_port != 0) {
    sockaddr_storage local{};
    socklen_t length = 0;
    if (endpoint_.family == AF_INET6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&local);
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(options_.source_port);
      length = sizeof *v6;
    } else {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&local);
      v4->sin_family = AF_INET;
      v4->sin_port = htons(options_.source_port);
      length = sizeof *v4;
    }
    if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&local), length) != 0) {
      return finish(Error{ErrorCode::kNetworkError,
                          fmt::format("bind to source port {}: {}", options_.source_port, std::strerror(errno))});
    }
  }
  if (options_.ttl && options_.ttl_on_connect) {
    const int enable = 1;
    ::setsockopt(fd_.get(), IPPROTO_IP, IP_RECVERR, &enable, sizeof enable);
    set_ttl(*options_.ttl);
  }
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&endpoint_.address), endpoint_.address_length) == 0) {
    return connect_step();
  }
  if (errno != EINPROGRESS) return finish(socket_error(errno, true));
  if (options_.ttl) record_source_port();
  phase_ = Phase::kConnecting;
  return wait_ = Wait::kWritable;
}

TlsConnection::Wait TlsConnection::advance() {
  switch (phase_) {
    case Phase::kConnecting: return connect_step();
    case Phase::kHandshaking: return handshake_step();
    case Phase::kDone: return Wait::kDone;
  }
  return Wait::kDone;
}

void TlsConnection::expire() {
  if (phase_ == Phase::kDone) return;
  if (phase_ == Phase::kConnecting) {
    finish(Error{ErrorCode::kConnectTimeout,
                 fmt::format("no TCP connection within {} ms", context_.options().connect_timeout.count())});
  } else {
    finish(Error{ErrorCode::kHandshakeTimeout,
                 fmt::format("TLS handshake not finished within {} ms{}", context_.options().handshake_timeout.count(),
                             observation_.server_hello ? " (ServerHello received)" : " (no ServerHello)")});
  }
}

TlsConnection::Wait TlsConnection::connect_step() {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    if (error == EHOSTUNREACH && options_.ttl && options_.ttl_on_connect) {
      return finish(Error{ErrorCode::kTtlExpired,
                          fmt::format("the SYN expired in transit (ICMP time exceeded, TTL {})", *options_.ttl)});
    }
    return finish(socket_error(error, true));
  }
  const auto now = Clock::now();
  observation_.timings.connect_ms = milliseconds_between(started_, now);
  if (observation_.source_port == 0) record_source_port();   // TTL probes already know it from start()
  if (options_.connect_only) return finish(std::nullopt);
  handshake_started_ = now;
  deadline_ = now + context_.options().handshake_timeout;

  if (options_.ttl && !options_.ttl_on_connect) {
    const int enable = 1;
    ::setsockopt(fd_.get(), IPPROTO_IP, IP_RECVERR, &enable, sizeof enable);
    set_ttl(*options_.ttl);
  }
  ssl_.reset(SSL_new(context_.get()));
  BIO* bio = ssl_ ? BIO_new(metered_method()) : nullptr;
  if (!bio) return finish(Error{ErrorCode::kCryptoError, "SSL_new: " + take_openssl_error()});
  socket_.fd = fd_.get();
  BIO_set_data(bio, &socket_);
  SSL_set_bio(ssl_.get(), bio, bio);
  if (!observation_.sni.empty() && SSL_set_tlsext_host_name(ssl_.get(), observation_.sni.c_str()) != 1) {
    return finish(Error{ErrorCode::kInvalidArgument, "SNI rejected: " + take_openssl_error()});
  }
  SSL_set_msg_callback(ssl_.get(), &TlsConnection::on_message);
  SSL_set_msg_callback_arg(ssl_.get(), this);
  SSL_set_connect_state(ssl_.get());
  phase_ = Phase::kHandshaking;
  return handshake_step();
}

void TlsConnection::set_ttl(int ttl) {
  ::setsockopt(fd_.get(), IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  if (endpoint_.family == AF_INET6) ::setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
  observation_.ttl = ttl;
}

void TlsConnection::record_source_port() {
  sockaddr_storage local{};
  socklen_t local_length = sizeof local;
  if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&local), &local_length) == 0) {
    observation_.source_port = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);  // same offset in v6
  }
}

TlsConnection::Wait TlsConnection::handshake_step() {
  ERR_clear_error();
  errno = 0;
  socket_.step_budget = kStepReadBytes;
  const int result = SSL_do_handshake(ssl_.get());
  if (result != 1 && socket_.received > kHandshakeReadLimit) {
    ERR_clear_error();
    return finish(Error{ErrorCode::kTlsProtocolError,
                        fmt::format("the server sent more than {} MiB without completing the handshake",
                                    kHandshakeReadLimit >> 20)});
  }
  if (result == 1) {
    observation_.handshake_complete = true;
    return finish(std::nullopt);
  }
  const int saved_errno = errno;
  const int ssl_error = SSL_get_error(ssl_.get(), result);
  if (ssl_error == SSL_ERROR_WANT_READ) return wait_ = Wait::kReadable;
  if (ssl_error == SSL_ERROR_WANT_WRITE) return wait_ = Wait::kWritable;
  return finish(classify_failure(ssl_error, saved_errno));
}

Error TlsConnection::classify_failure(int ssl_error, int saved_errno) {
  if (observation_.alert_received) {
    ERR_clear_error();
    const uint8_t alert = *observation_.alert_received;
    return {ErrorCode::kTlsAlert, fmt::format("server sent TLS alert {} ({})", tls_alert_name(alert), alert)};
  }
  if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    if (saved_errno == EHOSTUNREACH && observation_.ttl) {
      return {ErrorCode::kTtlExpired,
              fmt::format("the ClientHello expired in transit (ICMP time exceeded, TTL {})", *observation_.ttl)};
    }
    if (saved_errno != 0) return socket_error(saved_errno, false);
    return {ErrorCode::kClosedDuringHandshake, "server closed the connection during the handshake"};
  }
  const unsigned long code = ERR_peek_error();
  const int reason = ERR_GET_REASON(code);
  std::string text = take_openssl_error();
  if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return {ErrorCode::kClosedDuringHandshake, "server closed the connection during the handshake"};
  }
  const bool looks_not_tls = reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
                             reason == SSL_R_UNKNOWN_PROTOCOL || reason == SSL_R_RECORD_LENGTH_MISMATCH ||
                             reason == SSL_R_UNEXPECTED_MESSAGE || reason == SSL_R_LENGTH_MISMATCH;
  if (looks_not_tls && !observation_.server_hello) {
    return {ErrorCode::kNotTls, "the answer is not TLS (" + text + ")"};
  }
  if (reason == SSL_R_EXCESSIVE_MESSAGE_SIZE) {
    return {ErrorCode::kTlsProtocolError,
            fmt::format("handshake message larger than the {} byte limit (certificate chain too large?)",
                        context_.options().max_certificate_list_bytes)};
  }
  return {ErrorCode::kTlsProtocolError, text};
}

void TlsConnection::keep_plain_answer(Error& error) {
  std::vector<uint8_t> bytes(socket_.head.begin(), socket_.head.begin() + socket_.head_size);
  while (bytes.size() < PlainAnswer::kMaxBytes) {
    uint8_t buffer[PlainAnswer::kMaxBytes];
    const ssize_t got = ::recv(fd_.get(), buffer, PlainAnswer::kMaxBytes - bytes.size(), MSG_DONTWAIT);
    if (got <= 0) break;
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
  if (bytes.empty()) return;
  observation_.plain_answer = parse_plain_answer(bytes);
  error.message = "the answer is not TLS: " + observation_.plain_answer->summary();
}

TlsConnection::Wait TlsConnection::finish(std::optional<Error> error) {
  const auto now = Clock::now();
  if (phase_ == Phase::kHandshaking) observation_.timings.handshake_ms = milliseconds_between(handshake_started_, now);
  observation_.timings.total_ms = milliseconds_between(started_, now);
  if (error && error->code == ErrorCode::kNotTls) keep_plain_answer(*error);
  observation_.error = std::move(error);
  if (!certificate_message_.empty()) {
    const bool tls13 = observation_.server_hello && observation_.server_hello->selected_version == 0x0304;
    observation_.chain_der = parse_certificate_message(certificate_message_, tls13);
  } else if (ssl_) {
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_.get())) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        unsigned char* der = nullptr;
        const int length = i2d_X509(sk_X509_value(chain, i), &der);
        if (length > 0) observation_.chain_der.emplace_back(der, der + length);
        OPENSSL_free(der);
      }
    }
  }
  if (ssl_ && observation_.server_hello) {
    const uint8_t id[2] = {static_cast<uint8_t>(observation_.server_hello->cipher_suite >> 8),
                           static_cast<uint8_t>(observation_.server_hello->cipher_suite & 0xff)};
    if (const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl_.get(), id)) {
      observation_.cipher_suite_name = SSL_CIPHER_standard_name(cipher);
    }
  }
  if (ssl_ && observation_.handshake_complete) {
    SSL_shutdown(ssl_.get());  // one non-blocking close_notify; the answer is not awaited
  }
  ERR_clear_error();
  ssl_.reset();
  if (fd_ && observation_.ttl) {
    // The TTL was for the ClientHello only: what follows (FIN, RST) travels normally.
    const int default_ttl = -1;
    ::setsockopt(fd_.get(), IPPROTO_IP, IP_TTL, &default_ttl, sizeof default_ttl);
    if (endpoint_.family == AF_INET6) ::setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &default_ttl, sizeof default_ttl);
  }
  if (fd_ && options_.reset_on_close) {
    const linger reset{1, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  if (fd_) {
    fd_.reset();
  }
  phase_ = Phase::kDone;
  return wait_ = Wait::kDone;
}

void TlsConnection::on_message(int write_p, int, int content_type, const void* buffer, size_t length, SSL*,
                               void* self) {
  auto* connection = static_cast<TlsConnection*>(self);
  const auto* bytes = static_cast<const uint8_t*>(buffer);
  if (content_type == SSL3_RT_ALERT && length >= 2) {
    (write_p ? connection->observation_.alert_sent : connection->observation_.alert_received) = bytes[1];
    return;
  }
  if (content_type != SSL3_RT_HANDSHAKE || write_p || length < 4) return;
  if (bytes[0] == kServerHelloMessage) {
    auto hello = parse_server_hello(std::span(bytes, length));
    if (hello) connection->observation_.server_hello = std::move(*hello);
  } else if (bytes[0] == kCertificateMessage && connection->certificate_message_.empty()) {
    connection->certificate_message_.assign(bytes, bytes + length);
  }
}

Observation TlsConnection::run(const TlsClientContext& context, const Endpoint& endpoint, std::string sni) {
  TlsConnection connection(context, endpoint, std::move(sni));
  Wait wait = connection.start();
  while (wait != Wait::kDone) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(connection.deadline() - Clock::now());
    if (remaining.count() <= 0) {
      connection.expire();
      break;
    }
    pollfd descriptor{connection.fd(), static_cast<short>(wait == Wait::kReadable ? POLLIN : POLLOUT), 0};
    const int ready = ::poll(&descriptor, 1, static_cast<int>(remaining.count()) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      connection.expire();
      break;
    }
    wait = connection.advance();
  }
  return std::move(connection.observation());
}

std::vector<std::vector<uint8_t>> parse_certificate_message(std::span<const uint8_t> message, bool tls13) {
  std::vector<std::vector<uint8_t>> chain;
  ByteReader reader(message);
  ByteReader request_context;
  uint32_t list_length = 0;
  if (!reader.skip(4)) return chain;  // handshake header
  if (tls13 && !reader.prefixed(1, request_context)) return chain;
  if (!reader.u24(list_length)) return chain;
  ByteReader list = reader.take_at_most(list_length);   // a list cut short keeps the certificates that arrived whole
  for (ByteReader certificate, extensions; list.prefixed(3, certificate);) {
    const auto der = certificate.rest();
    chain.emplace_back(der.begin(), der.end());
    if (tls13 && !list.prefixed(2, extensions)) break;  // per-certificate extensions
  }
  return chain;
}

}  // namespace mitmscope
