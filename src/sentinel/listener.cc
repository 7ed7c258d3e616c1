#include "sentinel/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

namespace mitmscope {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kListeningTag = uint64_t{1} << 63;   // epoll data of a listening socket: the tag | its index
constexpr int kMaxEvents = 256;
constexpr auto kTick = std::chrono::milliseconds(100);   // how often deadlines are checked
// Descriptors beyond the connections: listening sockets, epoll, the output files, the capture.
constexpr size_t kSpareDescriptors = 64;

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

// Raises the soft descriptor limit towards what `connections` need (up to the hard limit); the
// connection cap is lowered to what the limit allows.
size_t fit_descriptor_limit(size_t connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return connections;
  const rlim_t wanted = std::min<rlim_t>(limit.rlim_max, connections + kSpareDescriptors);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = wanted;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return std::min<size_t>(connections, limit.rlim_cur > kSpareDescriptors ? limit.rlim_cur - kSpareDescriptors : 1);
}

}  // namespace

Result<std::unique_ptr<Listener>> Listener::open(ListenerOptions options) {
  if (options.addresses.empty()) return make_error(ErrorCode::kInvalidArgument, "sentinel: no --listen address");
  // OpenSSL's socket BIO writes with write(2): a client that resets mid-handshake must cost one
  // visit, not the process (found in the lab: the first intercepted visit killed the sentinel).
  std::signal(SIGPIPE, SIG_IGN);
  options.max_connections = fit_descriptor_limit(options.max_connections);
  std::unique_ptr<Listener> listener(new Listener(std::move(options)));
  const ListenerOptions& opts = listener->options_;
  listener->context_.reset(SSL_CTX_new(TLS_server_method()));
  SSL_CTX* context = listener->context_.get();
  SSL_CTX_set_min_proto_version(context, TLS1_VERSION);
  SSL_CTX_set_security_level(context, 0);  // old clients (and old interceptors) are what it is for
  if (SSL_CTX_use_certificate_chain_file(context, opts.certificate.c_str()) != 1) {
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: not a PEM certificate chain: {}", opts.certificate.string(), take_openssl_error()));
  }
  if (SSL_CTX_use_PrivateKey_file(context, opts.key.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(context) != 1) {
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: not the PEM key of {}: {}", opts.key.string(), opts.certificate.string(), take_openssl_error()));
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
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);   // the loops accept until EAGAIN
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.address_length) != 0 || ::listen(fd, 4096) != 0) {
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

// One event loop: its epoll set holds every listening socket (EPOLLEXCLUSIVE: one loop wakes per
// connection) and the connections it accepted.
class Listener::Loop {
 public:
  Loop(Listener& listener, const VisitHandler& handler) : listener_(listener), handler_(handler) {}

  void run(const std::atomic<bool>& stop) {
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    for (size_t i = 0; i < listener_.sockets_.size(); ++i) {
      epoll_event event{.events = EPOLLIN | EPOLLEXCLUSIVE, .data = {.u64 = kListeningTag | i}};
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.sockets_[i].get(), &event);
    }
    auto next_tick = Clock::now() + kTick;
    bool accepting = true;
    while (accepting || !connections_.empty()) {
      if (accepting && stop.load()) accepting = stop_accepting();
      epoll_event events[kMaxEvents];
      const int ready = ::epoll_wait(epoll_.get(), events, kMaxEvents, static_cast<int>(kTick.count()));
      for (int i = 0; i < ready; ++i) dispatch(events[i], accepting);
      if (Clock::now() >= next_tick) {
        expire(Clock::now());
        next_tick = Clock::now() + kTick;
      }
    }
  }

 private:
  bool stop_accepting() {
    for (const auto& socket : listener_.sockets_) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, socket.get(), nullptr);
    return false;
  }

  void dispatch(const epoll_event& event, bool accepting) {
    if (event.data.u64 & kListeningTag) {
      if (accepting) accept_all(event.data.u64 & ~kListeningTag);
      return;
    }
    const auto found = connections_.find(static_cast<int>(event.data.u64));
    if (found == connections_.end()) return;
    VisitConnection& connection = *found->second;
    if (event.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) connection.on_readable();
    if (event.events & EPOLLOUT) connection.on_writable();
    settle(found);
  }

  void accept_all(size_t index) {
    const int socket = listener_.sockets_[index].get();
    for (;;) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      UniqueFd client(::accept4(socket, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!client) return;
      ++listener_.stats_.accepted;
      Visit visit;
      visit.time = std::chrono::system_clock::now();
      visit.source = "listener";
      visit.server_ip = listener_.bound_[index].ip;
      visit.server_port = listener_.bound_[index].port;
      visit.client_ip = peer_ip(peer, visit.client_port);
      if (!listener_.admit(visit.client_ip)) continue;   // closed at once; counted by admit
      add(std::move(client), std::move(visit));
    }
  }

  void add(UniqueFd client, Visit visit) {
    const auto now = Clock::now();
    const ListenerOptions& options = listener_.options_;
    const VisitConnection::Limits limits{.hello_deadline = now + std::min(options.hello_timeout, options.timeout),
                                         .deadline = now + options.timeout,
                                         .max_hello_bytes = options.max_hello_bytes};
    const int fd = client.get();
    auto connection = std::make_unique<VisitConnection>(std::move(client), std::move(visit), limits, listener_.context_.get(),
                                                        handler_, listener_.stats_);
    epoll_event event{.events = EPOLLIN, .data = {.u64 = static_cast<uint64_t>(fd)}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event);
    connections_.emplace(fd, std::move(connection));
  }

  // After an event: the connection closed when done, else waiting for what it wants next.
  void settle(std::unordered_map<int, std::unique_ptr<VisitConnection>>::iterator found) {
    VisitConnection& connection = *found->second;
    if (connection.done()) return close(found);
    const uint32_t wanted = (connection.wants_read() ? EPOLLIN : 0u) | (connection.wants_write() ? EPOLLOUT : 0u);
    epoll_event event{.events = wanted, .data = {.u64 = static_cast<uint64_t>(connection.fd())}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, connection.fd(), &event);
  }

  void close(std::unordered_map<int, std::unique_ptr<VisitConnection>>::iterator found) {
    listener_.release(found->second->client_ip());
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, found->first, nullptr);
    connections_.erase(found);
  }

  void expire(Clock::time_point now) {
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto current = it++;
      if (current->second->deadline() > now) continue;
      current->second->expire();
      if (current->second->done()) {
        close(current);
      } else {
        settle(current);   // the answer of a late visit is still being sent, until the visit's deadline
      }
    }
  }

  Listener& listener_;
  const VisitHandler& handler_;
  UniqueFd epoll_;
  std::unordered_map<int, std::unique_ptr<VisitConnection>> connections_;
};

void Listener::run(const VisitHandler& handler, const std::atomic<bool>& stop) {
  const unsigned threads = options_.threads != 0 ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> others;
  for (unsigned i = 1; i < threads; ++i) others.emplace_back([&] { Loop(*this, handler).run(stop); });
  Loop(*this, handler).run(stop);
  for (auto& thread : others) thread.join();
}

bool Listener::admit(const std::string& ip) {
  std::lock_guard lock(admission_mutex_);
  if (open_ >= options_.max_connections) {
    ++stats_.refused_busy;
    return false;
  }
  auto& from_address = per_address_[ip];
  if (from_address >= options_.max_per_address) {
    ++stats_.refused_per_address;
    if (from_address == 0) per_address_.erase(ip);
    return false;
  }
  ++from_address;
  ++open_;
  if (open_ > stats_.peak_connections.load()) stats_.peak_connections = open_;
  return true;
}

void Listener::release(const std::string& ip) {
  std::lock_guard lock(admission_mutex_);
  --open_;
  const auto found = per_address_.find(ip);
  if (found != per_address_.end() && --found->second == 0) per_address_.erase(found);
}

Listener::~Listener() = default;

std::vector<std::string> Listener::bound() const {
  std::vector<std::string> out;
  for (const auto& endpoint : bound_) out.push_back(endpoint.to_string());
  return out;
}

}  // namespace mitmscope
