#include "engine/openssl_handshake.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <openssl/err.h>

#include <fmt/format.h>

#include "core/byte_reader.h"

namespace mitmscope {
namespace {

constexpr uint8_t kCertificateMessage = 11;
constexpr uint8_t kServerHelloMessage = 2;

using MeteredSocket = OpenSslHandshake::MeteredSocket;

// A BIO over the connection's socket that reads no more than the step's budget (see MeteredSocket).
int metered_write(BIO* bio, const char* data, size_t length, size_t* written) {
  auto* socket = static_cast<MeteredSocket*>(BIO_get_data(bio));
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
  auto* socket = static_cast<MeteredSocket*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (socket->step_budget == 0) {  // back to the event loop; the socket is still readable, so it comes back at once
    BIO_set_retry_read(bio);
    return 0;
  }
  const ssize_t got = ::recv(socket->fd, data, std::min(length, socket->step_budget), 0);
  if (got > 0) {
    // Before OpenSSL answers: what it sends from now on travels with the system's TTL.
    if (std::exchange(socket->restore_ttl_on_answer, false)) set_socket_ttl(socket->fd, socket->family, kSystemTtl);
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

}  // namespace

OpenSslHandshake::OpenSslHandshake(SSL_CTX* context, size_t max_certificate_list_bytes, int family,
                                   Observation& observation)
    : context_(context), max_certificate_list_bytes_(max_certificate_list_bytes), observation_(observation) {
  socket_.family = family;
}

HandshakeStep OpenSslHandshake::begin(int fd) {
  ssl_.reset(SSL_new(context_));
  BIO* bio = ssl_ ? BIO_new(metered_method()) : nullptr;
  if (!bio) return HandshakeStep::done(Error{ErrorCode::kCryptoError, "SSL_new: " + take_openssl_error()});
  socket_.fd = fd;
  socket_.restore_ttl_on_answer = observation_.ttl.has_value();
  BIO_set_data(bio, &socket_);
  SSL_set_bio(ssl_.get(), bio, bio);
  if (!observation_.sni.empty() && SSL_set_tlsext_host_name(ssl_.get(), observation_.sni.c_str()) != 1) {
    return HandshakeStep::done(Error{ErrorCode::kInvalidArgument, "SNI rejected: " + take_openssl_error()});
  }
  SSL_set_msg_callback(ssl_.get(), &OpenSslHandshake::on_message);
  SSL_set_msg_callback_arg(ssl_.get(), this);
  SSL_set_connect_state(ssl_.get());
  return step();
}

HandshakeStep OpenSslHandshake::step() {
  ERR_clear_error();
  errno = 0;
  socket_.step_budget = kStepReadBytes;
  const int result = SSL_do_handshake(ssl_.get());
  if (result != 1 && socket_.received > kHandshakeReadLimit) {
    ERR_clear_error();
    return HandshakeStep::done(Error{ErrorCode::kTlsProtocolError,
                                     fmt::format("the server sent more than {} MiB without completing the handshake",
                                                 kHandshakeReadLimit >> 20)});
  }
  if (result == 1) {
    observation_.handshake_complete = true;
    return HandshakeStep::done();
  }
  const int saved_errno = errno;
  const int ssl_error = SSL_get_error(ssl_.get(), result);
  if (ssl_error == SSL_ERROR_WANT_READ) return HandshakeStep::readable();
  if (ssl_error == SSL_ERROR_WANT_WRITE) return HandshakeStep::writable();
  return HandshakeStep::done(classify_failure(ssl_error, saved_errno));
}

Error OpenSslHandshake::classify_failure(int ssl_error, int saved_errno) {
  if (observation_.alert_received) {
    ERR_clear_error();
    const uint8_t alert = *observation_.alert_received;
    return {ErrorCode::kTlsAlert, fmt::format("server sent TLS alert {} ({})", tls_alert_name(alert), alert)};
  }
  if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return handshake_socket_error(saved_errno, observation_);
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
                        max_certificate_list_bytes_)};
  }
  return {ErrorCode::kTlsProtocolError, text};
}

void OpenSslHandshake::conclude() {
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
  if (observation_.server_hello) {
    observation_.cipher_suite_name = cipher_suite_standard_name(observation_.server_hello->cipher_suite);
  }
  if (ssl_ && observation_.handshake_complete) {
    SSL_shutdown(ssl_.get());  // one non-blocking close_notify; the answer is not awaited
  }
  ERR_clear_error();
  ssl_.reset();
}

void OpenSslHandshake::on_message(int write_p, int, int content_type, const void* buffer, size_t length, SSL*,
                                  void* self) {
  auto* handshake = static_cast<OpenSslHandshake*>(self);
  Observation& observation = handshake->observation_;
  const auto* bytes = static_cast<const uint8_t*>(buffer);
  if (content_type == SSL3_RT_ALERT && length >= 2) {
    (write_p ? observation.alert_sent : observation.alert_received) = bytes[1];
    return;
  }
  if (content_type != SSL3_RT_HANDSHAKE || write_p || length < 4) return;
  if (bytes[0] == kServerHelloMessage) {
    auto hello = parse_server_hello(std::span(bytes, length));
    if (hello) observation.server_hello = std::move(*hello);
  } else if (bytes[0] == kCertificateMessage && handshake->certificate_message_.empty()) {
    handshake->certificate_message_.assign(bytes, bytes + length);
  }
}

std::string cipher_suite_standard_name(uint16_t id) {
  // SSL_CIPHER_find needs an SSL; one, made once and only read, serves every lookup.
  static const SslPtr lookup = [] {
    SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
    return SslPtr(context ? SSL_new(context.get()) : nullptr);
  }();
  const uint8_t bytes[2] = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id & 0xff)};
  const SSL_CIPHER* cipher = lookup ? SSL_CIPHER_find(lookup.get(), bytes) : nullptr;
  return cipher ? SSL_CIPHER_standard_name(cipher) : "";
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
