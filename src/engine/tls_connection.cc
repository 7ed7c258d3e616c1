#include "engine/tls_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "engine/first_flight_handshake.h"
#include "engine/openssl_handshake.h"

namespace mitmscope {
namespace {

double milliseconds_between(TlsConnection::Clock::time_point from, TlsConnection::Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

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

void set_socket_ttl(int fd, int family, int ttl) {
  ::setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
}

Error handshake_socket_error(int saved_errno, const Observation& observation) {
  if (saved_errno == EHOSTUNREACH && observation.ttl) {
    return {ErrorCode::kTtlExpired,
            fmt::format("the ClientHello expired in transit (ICMP time exceeded, TTL {})", *observation.ttl)};
  }
  if (saved_errno != 0) return socket_error(saved_errno, false);
  return {ErrorCode::kClosedDuringHandshake, "server closed the connection during the handshake"};
}

Result<const ClientHelloProfile*> parse_client_hello_choice(std::string_view name) {
  if (name == "openssl") return static_cast<const ClientHelloProfile*>(nullptr);
  auto profile = find_client_hello_profile(name);
  if (!profile) return make_error(ErrorCode::kInvalidArgument, "--client-hello: " + profile.error().message + ", or openssl");
  return *profile;
}

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
  if (options.client_hello && options.strategy && options.strategy->pad_to > 0) {
    context.padded_ = std::make_shared<ClientHelloProfile>(padded_profile(*options.client_hello, options.strategy->pad_to));
    context.options_.client_hello = context.padded_.get();
  }
  if (options.strategy && !options.client_hello) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("strategy {} needs a ClientHello profile, not openssl",
                                                               options.strategy->name));
  }
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
  if (const ClientHelloProfile* profile = context.options().client_hello) {
    const HelloStrategy* strategy = context.options().strategy;
    observation_.client = strategy ? profile->name + "+" + strategy->name : profile->name;
    handshake_ = std::make_unique<FirstFlightHandshake>(FirstFlightOptions{.profile = profile, .strategy = strategy},
                                                        observation_);
  } else {
    observation_.client = "openssl";
    handshake_ = std::make_unique<OpenSslHandshake>(context.get(), context.options().max_certificate_list_bytes,
                                                    endpoint.family, observation_);
  }
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
    case Phase::kHandshaking: return handshake_step(handshake_->step());
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
  phase_ = Phase::kHandshaking;
  return handshake_step(handshake_->begin(fd_.get()));
}

void TlsConnection::set_ttl(int ttl) {
  set_socket_ttl(fd_.get(), endpoint_.family, ttl);
  observation_.ttl = ttl;
}

void TlsConnection::record_source_port() {
  sockaddr_storage local{};
  socklen_t local_length = sizeof local;
  if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&local), &local_length) == 0) {
    observation_.source_port = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);  // same offset in v6
  }
}

TlsConnection::Wait TlsConnection::handshake_step(HandshakeStep step) {
  switch (step.wait) {
    case HandshakeStep::Wait::kReadable: return wait_ = Wait::kReadable;
    case HandshakeStep::Wait::kWritable: return wait_ = Wait::kWritable;
    case HandshakeStep::Wait::kDone: return finish(std::move(step.error));
  }
  return finish(std::nullopt);
}

void TlsConnection::keep_plain_answer(Error& error) {
  const auto head = handshake_->head();
  std::vector<uint8_t> bytes(head.begin(), head.end());
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
  // The TTL was for the ClientHello only: what follows (close_notify, FIN, RST) travels normally.
  if (fd_ && observation_.ttl) set_socket_ttl(fd_.get(), endpoint_.family, kSystemTtl);
  if (phase_ == Phase::kHandshaking) handshake_->conclude();
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

}  // namespace mitmscope
