#include "sentinel/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "sentinel/http2.h"

namespace mitmscope {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxRequestHead = 16 * 1024;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

std::string openssl_error() {
  return ERR_peek_error() == 0 ? "the peer closed or reset the connection" : take_openssl_error();
}

// Waits until `fd` is readable or the deadline passes; false on timeout.
bool wait_readable(int fd, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, static_cast<int>(left)) > 0;
}

// Reads from the socket into the memory BIO OpenSSL reads from; false when the peer is gone or time is up.
bool feed(int fd, BIO* input, Clock::time_point deadline) {
  if (!wait_readable(fd, deadline)) return false;
  uint8_t buffer[16384];
  const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
  if (got <= 0) return false;
  BIO_write(input, buffer, static_cast<int>(got));
  return true;
}

std::string peer_ip(const sockaddr_storage& address, uint16_t& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    port = ntohs(v6->sin6_port);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
  } else {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    port = ntohs(v4->sin_port);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
  }
  std::string ip = text;
  if (ip.starts_with("::ffff:") && ip.find('.') != std::string::npos) ip = ip.substr(7);
  return ip;
}

bool send_all(SSL* ssl, std::string_view text) {
  size_t sent = 0;
  while (sent < text.size()) {
    const int wrote = SSL_write(ssl, text.data() + sent, static_cast<int>(text.size() - sent));
    if (wrote <= 0) return false;
    sent += static_cast<size_t>(wrote);
  }
  return true;
}

}  // namespace

std::optional<std::string> user_agent_of(std::string_view head) {
  size_t line_start = head.find('\n');
  while (line_start != std::string_view::npos && line_start + 1 < head.size()) {
    const size_t begin = line_start + 1;
    size_t end = head.find('\n', begin);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the head
    constexpr std::string_view kName = "user-agent:";
    if (line.size() >= kName.size() &&
        std::equal(kName.begin(), kName.end(), line.begin(), [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      return std::string(value);
    }
    line_start = end;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Listener>> Listener::open(ListenerOptions options) {
  if (options.addresses.empty()) return make_error(ErrorCode::kInvalidArgument, "sentinel: no --listen address");
  // OpenSSL's socket BIO writes with write(2): a client that resets mid-handshake must cost one
  // visit, not the process (found in the lab: the first intercepted visit killed the sentinel).
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Listener> listener(new Listener(std::move(options)));
  const ListenerOptions& opts = listener->options_;
  listener->context_.reset(SSL_CTX_new(TLS_server_method()));
  SSL_CTX* context = listener->context_.get();
  SSL_CTX_set_min_proto_version(context, TLS1_VERSION);
  SSL_CTX_set_security_level(context, 0);  // old clients (and old interceptors) are what it is for
  if (SSL_CTX_use_certificate_chain_file(context, opts.certificate.c_str()) != 1) {
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: not a PEM certificate chain: {}", opts.certificate.string(), openssl_error()));
  }
  if (SSL_CTX_use_PrivateKey_file(context, opts.key.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(context) != 1) {
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: not the PEM key of {}: {}", opts.key.string(), opts.certificate.string(), openssl_error()));
  }
  SSL_CTX_set_alpn_select_cb(
      context,
      [](SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in, unsigned int in_length, void*) {
        // h2 first: a visitor (or an interceptor) that offers it is read in HTTP/2 (sentinel/http2).
        static const unsigned char kProtocols[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, out_length, kProtocols, sizeof kProtocols, in, in_length) != OPENSSL_NPN_NEGOTIATED) {
          return SSL_TLSEXT_ERR_NOACK;
        }
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);
  for (const Endpoint& endpoint : opts.addresses) {
    UniqueFd socket(::socket(endpoint.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket) return make_error(ErrorCode::kNetworkError, fmt::format("sentinel: socket: {}", std::strerror(errno)));
    const int fd = socket.get();
    listener->sockets_.push_back(std::move(socket));
    const int yes = 1;
    // SO_REUSEPORT lets a sentinel take one address of a server that listens on all of them
    // (the lab's hosts), and several sentinel processes share an address.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.address_length) != 0 || ::listen(fd, 512) != 0) {
      return make_error(ErrorCode::kNetworkError, fmt::format("sentinel: listen on {}: {}", endpoint.to_string(), std::strerror(errno)));
    }
    Endpoint bound = endpoint;
    sockaddr_storage actual{};
    socklen_t length = sizeof actual;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&actual), &length) == 0) {
      uint16_t port = 0;
      peer_ip(actual, port);
      bound.port = port;
    }
    listener->bound_.push_back(bound);
  }
  return listener;
}

Listener::~Listener() = default;

std::vector<std::string> Listener::bound() const {
  std::vector<std::string> out;
  for (const auto& endpoint : bound_) out.push_back(endpoint.to_string());
  return out;
}

void Listener::run(const VisitHandler& handler, const std::atomic<bool>& stop) {
  std::vector<pollfd> entries;
  for (const auto& socket : sockets_) entries.push_back({socket.get(), POLLIN, 0});
  while (!stop.load()) {
    if (::poll(entries.data(), entries.size(), 200) <= 0) continue;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!(entries[i].revents & POLLIN)) continue;
      UniqueFd client(::accept4(entries[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (!client) continue;
      ++stats_.accepted;
      if (active_.load() >= options_.max_connections) {
        ++stats_.refused_busy;
        continue;
      }
      ++active_;
      std::thread([this, client = std::move(client), local = bound_[i], &handler]() mutable {
        serve(client.get(), local, handler);
        client.reset();
        --active_;
      }).detach();
    }
  }
  while (active_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void Listener::serve(int fd, const Endpoint& local, const VisitHandler& handler) {
  const auto deadline = Clock::now() + options_.timeout;
  const timeval send_timeout{static_cast<time_t>(options_.timeout.count() / 1000), static_cast<suseconds_t>(options_.timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  Visit visit;
  visit.time = std::chrono::system_clock::now();
  visit.source = "listener";
  visit.server_ip = local.ip;
  visit.server_port = local.port;
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0) visit.client_ip = peer_ip(peer, visit.client_port);

  // The ClientHello, whole, before OpenSSL reads it.
  std::vector<uint8_t> first;
  ClientHelloExtent extent;
  while (true) {
    extent = client_hello_extent(first, options_.max_hello_bytes);
    if (extent.progress != ClientHelloProgress::kNeedMore) break;
    if (!wait_readable(fd, deadline)) {
      ++stats_.timeouts;
      return;
    }
    uint8_t buffer[16384];
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) {
      ++stats_.timeouts;
      return;
    }
    first.insert(first.end(), buffer, buffer + got);
  }
  auto hello = extent.progress == ClientHelloProgress::kComplete ? parse_client_hello(std::span<const uint8_t>(first).first(extent.bytes))
                                                                 : make_error(ErrorCode::kNotTls, "not a ClientHello");
  if (!hello) {
    ++stats_.not_client_hello;
    return;
  }
  visit.hello = std::move(*hello);

  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context_.get()), &SSL_free);
  BIO* input = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(input, -1);
  BIO_write(input, first.data(), static_cast<int>(first.size()));
  SSL_set_bio(ssl.get(), input, BIO_new_socket(fd, BIO_NOCLOSE));
  const TlsSession session{ssl.get(), input, fd, deadline};
  if (session.drive([&] { return SSL_accept(ssl.get()); }) != 1) {
    ++stats_.handshake_failures;
    visit.tls_error = fmt::format("handshake: {}", openssl_error());
    ++stats_.visits;
    handler(visit);
    return;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_length);
  visit.http_version = std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) == "h2" ? "h2" : "http/1.1";
  if (visit.http_version == "h2") {
    answer_http2(session, visit, handler);
  } else {
    answer_http1(session, visit, handler);
  }
  SSL_shutdown(ssl.get());
}

int Listener::TlsSession::drive(const std::function<int()>& call) const {
  while (true) {
    const int result = call();
    if (result > 0) return result;
    if (SSL_get_error(ssl, result) != SSL_ERROR_WANT_READ || !feed(fd, input, deadline)) return result;
  }
}

void Listener::answer_http1(const TlsSession& session, Visit& visit, const VisitHandler& handler) {
  std::string head;
  while (head.size() < kMaxRequestHead && head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
    char buffer[4096];
    const int got = session.drive([&] { return SSL_read(session.ssl, buffer, sizeof buffer); });
    if (got <= 0) break;
    head.append(buffer, static_cast<size_t>(got));
  }
  if (head.empty()) visit.tls_error = "no HTTP request after the handshake";
  visit.user_agent = user_agent_of(head);
  ++stats_.visits;
  const std::string body = handler(visit);
  if (!head.empty()) {
    send_all(session.ssl, fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                                      "Connection: close\r\nContent-Length: {}\r\n\r\n{}",
                                      body.size(), body));
  }
}

// HTTP/2 (ALPN h2): the first request's User-Agent, answered on its stream (sentinel/http2).
void Listener::answer_http2(const TlsSession& session, Visit& visit, const VisitHandler& handler) {
  bool judged = false;
  auto served = serve_http2_request(
      [&](std::span<uint8_t> buffer) -> ssize_t {
        return session.drive([&] { return SSL_read(session.ssl, buffer.data(), static_cast<int>(buffer.size())); });
      },
      [&](std::span<const uint8_t> bytes) {
        return send_all(session.ssl, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      },
      [&](const Http2Request& request) {
        visit.user_agent = request.user_agent;
        judged = true;
        ++stats_.visits;
        return handler(visit);
      });
  if (judged) return;
  visit.tls_error = served.error().message;
  ++stats_.visits;
  handler(visit);
}

}  // namespace mitmscope
