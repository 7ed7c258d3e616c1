#include "lab/interceptor.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netlink.h>
#include <openssl/err.h>

#include <fmt/format.h>

#include "engine/tls_connection.h"
#include "tls/client_hello.h"

namespace mitmscope::lab {

namespace {

constexpr uint32_t kPassMark = 2;
// Flows held or taken over at once; beyond this the device lets flows pass, as an overloaded box
// would (counted as passed_busy).
constexpr int kMaxWorkers = 4096;
constexpr auto kSessionIdle = std::chrono::seconds(30);
// The longest ClientHello the terminating proxy reads before deciding.
constexpr size_t kMaxHelloBytes = 64 * 1024;

// BRIEF: the 2019 device's own ClientHello offered 13 cipher suites, record version TLS 1.0,
// handshake version TLS 1.2. OpenSSL adds the renegotiation SCSV as the 13th.
constexpr const char* kUpstreamCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
    "ECDHE-RSA-AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA";

sockaddr_in socket_address(uint32_t ip, uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(ip);
  address.sin_port = htons(port);
  return address;
}

struct RepairSpec {
  uint32_t local_ip;
  uint16_t local_port;
  uint32_t remote_ip;
  uint16_t remote_port;
  uint32_t send_sequence;             // our next sequence number
  uint32_t receive_sequence;          // the next byte we expect
  TcpOptions local;      // what the side we impersonate announced in its SYN
  TcpOptions remote;     // what the peer announced
  uint32_t peer_window;               // the peer's receive window, in bytes
  uint32_t timestamp;                 // our next TSval (continues the impersonated side's clock)
  std::span<const uint8_t> received;  // bytes to place in the receive queue
};

int set(int fd, int level, int option, const void* value, socklen_t length) {
  return ::setsockopt(fd, level, option, value, length);
}

// A connected socket for a flow that exists on the wire, built without a handshake.
Result<UniqueFd> repaired_socket(const RepairSpec& spec) {
  UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int fd = socket.get();
  auto fail = [](const char* step) {
    return make_error(ErrorCode::kNetworkError, fmt::format("TCP_REPAIR {}: {}", step, std::strerror(errno)));
  };
  if (!socket) return fail("socket");
  const int one = 1;
  if (set(fd, SOL_TCP, TCP_REPAIR, &one, sizeof one) != 0) return fail("enable");
  if (set(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) != 0) return fail("IP_TRANSPARENT");
  // Many taken-over flows share the server's address and port as their local end.
  set(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  set(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  const auto local = socket_address(spec.local_ip, spec.local_port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) return fail("bind");
  int queue = TCP_SEND_QUEUE;
  set(fd, SOL_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue);
  if (set(fd, SOL_TCP, TCP_QUEUE_SEQ, &spec.send_sequence, sizeof spec.send_sequence) != 0) return fail("send sequence");
  queue = TCP_RECV_QUEUE;
  set(fd, SOL_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue);
  if (set(fd, SOL_TCP, TCP_QUEUE_SEQ, &spec.receive_sequence, sizeof spec.receive_sequence) != 0) return fail("receive sequence");
  const auto remote = socket_address(spec.remote_ip, spec.remote_port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&remote), sizeof remote) != 0) return fail("connect");

  std::vector<tcp_repair_opt> options;
  options.push_back({TCPOPT_MAXSEG, spec.remote.mss});
  if (spec.local.window_scale >= 0 && spec.remote.window_scale >= 0) {
    options.push_back({TCPOPT_WINDOW, static_cast<uint32_t>(spec.remote.window_scale) |
                                          static_cast<uint32_t>(spec.local.window_scale) << 16});
  }
  if (spec.local.sack && spec.remote.sack) options.push_back({TCPOPT_SACK_PERMITTED, 0});
  const bool timestamps = spec.local.timestamps && spec.remote.timestamps;
  if (timestamps) options.push_back({TCPOPT_TIMESTAMP, 0});
  if (set(fd, SOL_TCP, TCP_REPAIR_OPTIONS, options.data(), static_cast<socklen_t>(options.size() * sizeof(tcp_repair_opt))) != 0) {
    return fail("options");
  }
  if (timestamps && set(fd, SOL_TCP, TCP_TIMESTAMP, &spec.timestamp, sizeof spec.timestamp) != 0) return fail("timestamp");
  if (!spec.received.empty()) {
    queue = TCP_RECV_QUEUE;
    set(fd, SOL_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue);
    if (::send(fd, spec.received.data(), spec.received.size(), 0) != static_cast<ssize_t>(spec.received.size())) {
      return fail("receive queue");
    }
  }
  tcp_repair_window window{};
  socklen_t length = sizeof window;
  if (::getsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &window, &length) == 0) {
    window.snd_wnd = spec.peer_window;
    window.max_window = std::max(window.max_window, spec.peer_window);
    set(fd, SOL_TCP, TCP_REPAIR_WINDOW, &window, sizeof window);
  }
  const int off = 0;
  if (set(fd, SOL_TCP, TCP_REPAIR, &off, sizeof off) != 0) return fail("disable");
  const timeval timeout{10, 0};
  set(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  set(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return socket;
}

// Copies decrypted bytes both ways until one side closes or both go quiet.
void relay(SSL* client, SSL* server, int client_fd, int server_fd) {
  char buffer[16384];
  for (;;) {
    pollfd descriptors[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
    const bool pending = SSL_pending(client) > 0 || SSL_pending(server) > 0;
    if (!pending && ::poll(descriptors, 2, static_cast<int>(std::chrono::milliseconds(kSessionIdle).count())) <= 0) return;
    for (auto [from, to, fd_index] : {std::tuple{client, server, 0}, std::tuple{server, client, 1}}) {
      if (!(descriptors[fd_index].revents & (POLLIN | POLLHUP | POLLERR)) && SSL_pending(from) == 0) continue;
      const int count = SSL_read(from, buffer, sizeof buffer);
      if (count <= 0) return;
      if (SSL_write(to, buffer, count) <= 0) return;
    }
  }
}


// The device's own handshake with the real server (BRIEF's fingerprint: record version
// TLS 1.0, handshake TLS 1.2, 13 suites) and a certificate forged from the server's answer.
}  // namespace

SslCtxPtr upstream_client_context() {
  SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_security_level(context.get(), 0);
  SSL_CTX_set_max_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_min_proto_version(context.get(), TLS1_VERSION);
  SSL_CTX_set_cipher_list(context.get(), kUpstreamCiphers);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  return context;
}

namespace {

struct Upstream {
  SslCtxPtr context;
  SslPtr ssl;
  std::optional<Forger::Forged> forged;
};

Upstream connect_upstream(int fd, const std::string& server_name, Forger& forger) {
  Upstream upstream;
  upstream.context = upstream_client_context();
  upstream.ssl.reset(SSL_new(upstream.context.get()));
  SSL_set_fd(upstream.ssl.get(), fd);
  SSL_set_tlsext_host_name(upstream.ssl.get(), server_name.c_str());
  if (SSL_connect(upstream.ssl.get()) != 1) return upstream;
  if (X509* genuine = SSL_get0_peer_certificate(upstream.ssl.get())) {
    X509_up_ref(genuine);
    if (auto certificate = Certificate::from_x509(genuine)) {
      if (auto minted = forger.forge_chain(*certificate)) upstream.forged = std::move(*minted);
    }
  }
  return upstream;
}

// A TLS server context presenting the forged leaf and the intermediate that signed it.
SslCtxPtr forged_server_context(const Forger::Forged& forged) {
  SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_set_security_level(context.get(), 0);
  SSL_CTX_set_session_cache_mode(context.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_TICKET);
  SSL_CTX_use_certificate(context.get(), forged.leaf.certificate.get());
  SSL_CTX_use_PrivateKey(context.get(), forged.leaf.key.get());
  SSL_CTX_add1_chain_cert(context.get(), forged.issuer.get());
  return context;
}

// The client's first bytes, up to the end of its ClientHello when they hold one (a ClientHello may
// come in several segments); bounded by kMaxHelloBytes and the socket's receive timeout.
std::vector<uint8_t> read_client_hello(int fd) {
  std::vector<uint8_t> stream;
  char buffer[16384];
  for (;;) {
    const ssize_t received = ::recv(fd, buffer, sizeof buffer, 0);
    if (received <= 0) return stream;
    stream.insert(stream.end(), buffer, buffer + received);
    if (client_hello_extent(stream, kMaxHelloBytes).progress != ClientHelloProgress::kNeedMore) return stream;
  }
}

}  // namespace

Interceptor::Interceptor(const Scenario& scenario, Identity intermediate, TrustStore public_roots)
    : scenario_(scenario),
      targeted_(scenario.targeted_domains.begin(), scenario.targeted_domains.end()),
      forger_(std::move(intermediate), scenario.forging),
      public_roots_(std::move(public_roots)) {}

Interceptor::~Interceptor() {
  stop();
  while (workers_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (queue_) nfq_destroy_queue(queue_);
  if (queue_handle_) nfq_close(queue_handle_);
}

void Interceptor::stop() { stopping_ = true; }

std::string Interceptor::last_takeover_error() const {
  std::lock_guard lock(error_mutex_);
  return last_takeover_error_;
}

bool Interceptor::targeted(const std::string& server_name) const {
  std::string lower = server_name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  return targeted_.contains(lower);
}

void Interceptor::use_loopback(uint16_t relay_port, uint16_t upstream_port, std::function<bool(uint32_t)> on_path) {
  loopback_ = true;
  relay_port_ = relay_port;
  upstream_port_ = upstream_port;
  on_path_ = std::move(on_path);
}

Result<void> Interceptor::start() {
  if (scenario_.mode == InterceptorMode::kTerminatingProxy || loopback_) {
    proxy_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    set(proxy_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!loopback_) set(proxy_fd_.get(), SOL_IP, IP_TRANSPARENT, &one, sizeof one);
    // Loopback: every 127.x address on the relay port (connections to any other address are closed at once).
    const auto address = loopback_ ? socket_address(INADDR_ANY, relay_port_) : socket_address(INADDR_LOOPBACK, 4443);
    if (::bind(proxy_fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 || ::listen(proxy_fd_.get(), 1024) != 0) {
      return make_error(ErrorCode::kNetworkError, fmt::format("interceptor proxy: {}", std::strerror(errno)));
    }
    return {};
  }
  queue_handle_ = nfq_open();
  if (!queue_handle_) return make_error(ErrorCode::kNetworkError, "nfq_open failed (is this root, in a namespace?)");
  queue_ = nfq_create_queue(
      queue_handle_, 0,
      [](nfq_q_handle* queue, nfgenmsg*, nfq_data* data, void* self) {
        const auto* header = nfq_get_msg_packet_hdr(data);
        unsigned char* payload = nullptr;
        const int length = nfq_get_payload(data, &payload);
        return static_cast<Interceptor*>(self)->on_packet(
            queue, ntohl(header->packet_id), std::span<const uint8_t>(payload, length > 0 ? size_t(length) : 0));
      },
      this);
  if (!queue_) return make_error(ErrorCode::kNetworkError, "nfq_create_queue 0 failed (another interceptor running?)");
  nfq_set_mode(queue_, NFQNL_COPY_PACKET, 0xffff);
  nfq_set_queue_maxlen(queue_, 65536);
  // No fail-open: a packet the device has no room for is dropped (the client retransmits it),
  // never let through uninspected, which would make a busy device leak targeted flows.
  queue_fd_ = nfq_fd(queue_handle_);
  nfnl_rcvbufsiz(nfq_nfnlh(queue_handle_), 16u << 20);
  const int one = 1;
  ::setsockopt(queue_fd_, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  return {};
}

void Interceptor::run() {
  if (proxy_fd_) return run_proxy();
  std::vector<char> buffer(1 << 17);
  while (!stopping_) {
    pollfd descriptor{queue_fd_, POLLIN, 0};
    const int ready = ::poll(&descriptor, 1, reassembly_.empty() ? 300 : 50);
    if (ready > 0) {
      const ssize_t length = ::recv(queue_fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (length > 0) nfq_handle_packet(queue_handle_, buffer.data(), static_cast<int>(length));
    }
    expire_partial();
  }
}

int Interceptor::accept(uint32_t id) {
  std::lock_guard lock(verdict_mutex_);
  return nfq_set_verdict(queue_, id, NF_ACCEPT, 0, nullptr);
}

void Interceptor::verdict(const HeldHello& held, bool pass) {
  decided(held.key);
  std::lock_guard lock(verdict_mutex_);
  for (const uint32_t id : held.ids) {
    if (pass) {
      // NF_REPEAT with mark 2: the rules save it as the flow's connmark, so the rest of the flow
      // never comes back here.
      nfq_set_verdict2(queue_, id, NF_REPEAT, kPassMark, 0, nullptr);
    } else {
      nfq_set_verdict(queue_, id, NF_DROP, 0, nullptr);
    }
  }
}

void Interceptor::spawn(std::function<void()> work) {
  ++workers_;
  std::thread([this, work = std::move(work)] {
    work();
    --workers_;
  }).detach();
}

int Interceptor::on_packet(nfq_q_handle*, uint32_t id, std::span<const uint8_t> packet) {
  const auto segment = parse_tcp_segment(packet);
  if (!segment) return accept(id);
  if (segment->flags & kTcpSyn) return learn_options(id, *segment);
  if (deciding(segment->client_flow())) {
    ++stats_.retransmissions_dropped;  // it would reach the real server and race the takeover
    std::lock_guard lock(verdict_mutex_);
    return nfq_set_verdict(queue_, id, NF_DROP, 0, nullptr);
  }
  if (segment->payload.empty()) return accept(id);  // an ACK: the flow is still undecided
  return reassemble(id, *segment);
}

int Interceptor::learn_options(uint32_t id, const TcpSegment& segment) {
  std::lock_guard lock(flows_mutex_);
  if (syn_options_.size() > 200000) syn_options_.clear();  // bounded: old half-seen flows are forgotten
  if (!(segment.flags & kTcpAck)) {
    syn_options_[{segment.source_ip, segment.destination_ip, segment.source_port, segment.destination_port}].client = segment.options;
  } else {
    syn_options_[{segment.destination_ip, segment.source_ip, segment.destination_port, segment.source_port}].server = segment.options;
  }
  std::lock_guard verdict_lock(verdict_mutex_);
  return nfq_set_verdict(queue_, id, NF_ACCEPT, 0, nullptr);
}

int Interceptor::reassemble(uint32_t id, const TcpSegment& segment) {
  auto outcome = reassembly_.add(id, segment, Clock::now());
  switch (outcome.step) {
    case HelloStep::kWaiting:
      return 0;
    case HelloStep::kRetransmission:
    case HelloStep::kOutOfOrder: {
      // A copy of what is held (the client retransmits while the device waits), or a segment
      // after a missing one, which the client sends again once the gap is filled.
      ++(outcome.step == HelloStep::kRetransmission ? stats_.retransmissions_dropped : stats_.out_of_order_dropped);
      std::lock_guard lock(verdict_mutex_);
      return nfq_set_verdict(queue_, id, NF_DROP, 0, nullptr);
    }
    case HelloStep::kComplete:
      ++stats_.client_hellos;
      if (outcome.reassembled) ++stats_.reassembled;
      decide_hello(std::move(outcome.held));
      return 0;
    case HelloStep::kNoRoom:
    case HelloStep::kNotClientHello:
    case HelloStep::kTooLarge:
      if (outcome.step == HelloStep::kNoRoom) ++stats_.passed_busy;
      ++stats_.passed;
      verdict(*outcome.held, true);
      return 0;
  }
  return 0;
}

void Interceptor::expire_partial() {
  for (const auto& held : reassembly_.expire(Clock::now())) {
    ++stats_.passed_incomplete;
    ++stats_.passed;
    verdict(*held, true);
  }
}

bool Interceptor::deciding(const FlowKey& key) {
  std::lock_guard lock(flows_mutex_);
  return deciding_.contains(key);
}

void Interceptor::decide_hello(std::unique_ptr<HeldHello> held) {
  const auto hello = parse_client_hello(held->stream);
  const bool candidate = active_ && hello && hello->server_name && targeted(*hello->server_name);
  const bool handshake = take_handshake(*held);
  if (!candidate || !handshake || !start_deciding(held->key)) {
    if (candidate) ++(handshake ? stats_.passed_busy : stats_.passed_without_handshake);
    ++stats_.passed;
    return verdict(*held, true);
  }
  spawn([this, held = std::shared_ptr<HeldHello>(std::move(held)), name = *hello->server_name] {
    decide_flow(*held, name);
  });
}

bool Interceptor::take_handshake(HeldHello& held) {
  std::lock_guard lock(flows_mutex_);
  const auto flow = syn_options_.find(held.key);
  if (flow == syn_options_.end()) return false;
  const Handshake handshake = flow->second;
  syn_options_.erase(flow);
  if (!handshake.client || !handshake.server) return false;
  held.client_options = *handshake.client;
  held.server_options = *handshake.server;
  return true;
}

bool Interceptor::start_deciding(const FlowKey& key) {
  std::lock_guard lock(flows_mutex_);
  if (workers_.load() >= kMaxWorkers) return false;
  deciding_.insert(key);
  return true;
}

std::optional<bool> Interceptor::cached_genuine_validity(uint32_t server_ip, uint16_t port) {
  std::lock_guard lock(flows_mutex_);
  auto it = genuine_valid_.find({server_ip, port});
  if (it == genuine_valid_.end()) return std::nullopt;
  return it->second;
}

bool Interceptor::check_genuine(uint32_t server_ip, uint16_t port, const std::string& server_name) {
  if (auto cached = cached_genuine_validity(server_ip, port)) return *cached;
  TlsClientOptions options;
  options.connect_timeout = std::chrono::seconds(3);
  options.handshake_timeout = std::chrono::seconds(5);
  auto context = TlsClientContext::create(options);
  auto endpoint = parse_endpoint(fmt::format("{}:{}", ipv4_to_string(server_ip), port), 443);
  bool valid = false;
  if (context && endpoint) {
    const auto observation = TlsConnection::run(*context, *endpoint, server_name);
    Chain chain;
    for (const auto& der : observation.chain_der) {
      if (auto certificate = Certificate::from_der(der)) chain.push_back(*certificate);
    }
    // "A valid browser-trusted certificate (for any name)": the name is not checked.
    valid = !chain.empty() && public_roots_.validate(chain, {}).browser_trusted;
  }
  std::lock_guard lock(flows_mutex_);
  genuine_valid_[{server_ip, port}] = valid;
  return valid;
}

void Interceptor::decided(const FlowKey& key) {
  // Retransmissions that arrive from now on are delivered to the taken-over socket (or pass).
  std::lock_guard lock(flows_mutex_);
  deciding_.erase(key);
}

void Interceptor::decide_flow(const HeldHello& held, const std::string& server_name) {
  if (!check_genuine(held.key.server_ip, held.key.server_port, server_name)) {
    ++stats_.genuine_invalid;
    ++stats_.passed;
    verdict(held, true);
    return;
  }
  take_over(held, server_name);
}

void Interceptor::take_over(const HeldHello& held, const std::string& server_name) {
  const auto& segment = held.last;
  const auto& client = held.client_options;
  const auto& server = held.server_options;
  const uint32_t client_window = client.window_scale >= 0 && server.window_scale >= 0
                                     ? uint32_t(segment.window) << client.window_scale
                                     : segment.window;
  auto client_side = repaired_socket({.local_ip = held.key.server_ip, .local_port = held.key.server_port,
                                      .remote_ip = held.key.client_ip, .remote_port = held.key.client_port,
                                      .send_sequence = segment.acknowledgment, .receive_sequence = held.sequence,
                                      .local = server, .remote = client, .peer_window = client_window,
                                      .timestamp = segment.options.tsecr + 1, .received = held.stream});
  // A flow that cannot be taken over goes on untouched.
  auto give_up = [&](std::string why) {
    {
      std::lock_guard lock(error_mutex_);
      last_takeover_error_ = std::move(why);
    }
    ++stats_.takeover_failed;
    ++stats_.passed;
    verdict(held, true);
  };
  if (!client_side) return give_up("client side: " + client_side.error().message);
  auto server_side = repaired_socket({.local_ip = held.key.client_ip, .local_port = held.key.client_port,
                                      .remote_ip = held.key.server_ip, .remote_port = held.key.server_port,
                                      .send_sequence = held.sequence, .receive_sequence = segment.acknowledgment,
                                      .local = client, .remote = server, .peer_window = server.window,
                                      .timestamp = segment.options.tsval + 1, .received = {}});
  if (!server_side) {
    return give_up("server side: " + server_side.error().message);
  }
  verdict(held, false);  // the ClientHello now sits in our socket's receive queue
  ++stats_.intercepted;

  auto upstream = connect_upstream(server_side->get(), server_name, forger_);
  if (upstream.forged) {
    const auto context = forged_server_context(*upstream.forged);
    SslPtr downstream(SSL_new(context.get()));
    SSL_set_fd(downstream.get(), client_side->get());
    if (SSL_accept(downstream.get()) == 1) {
      relay(downstream.get(), upstream.ssl.get(), client_side->get(), server_side->get());
      SSL_shutdown(downstream.get());
    }
    SSL_shutdown(upstream.ssl.get());
  }
  ERR_clear_error();
  // Abortive close: no TIME_WAIT socket keeps the flow's addresses and ports at the device, where
  // the client may reuse them at once for a new connection the device must see from its SYN.
  const linger abort{1, 0};
  ::setsockopt(client_side->get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  ::setsockopt(server_side->get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
}

void Interceptor::run_proxy() {
  while (!stopping_) {
    pollfd descriptor{proxy_fd_.get(), POLLIN, 0};
    if (::poll(&descriptor, 1, 300) <= 0) continue;
    UniqueFd client(::accept4(proxy_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client || workers_.load() >= kMaxWorkers) continue;
    // std::function needs a copyable task: the descriptor travels shared and is closed by its last owner.
    spawn([this, client = std::make_shared<UniqueFd>(std::move(client))] { proxy_connection(client->get()); });
  }
}

void Interceptor::proxy_connection(int client_fd) {
  const timeval timeout{10, 0};
  set(client_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  set(client_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in original{};
  socklen_t length = sizeof original;
  ::getsockname(client_fd, reinterpret_cast<sockaddr*>(&original), &length);
  const uint32_t server_ip = ntohl(original.sin_addr.s_addr);
  const uint16_t server_port = loopback_ ? upstream_port_ : ntohs(original.sin_port);
  if (loopback_ && (server_ip >> 24) != 127) return;  // only loopback addresses are served
  const std::vector<uint8_t> first = read_client_hello(client_fd);
  if (first.empty()) return;
  ++stats_.client_hellos;
  const auto hello = parse_client_hello(first);
  const std::string name = hello && hello->server_name ? *hello->server_name : std::string();
  const bool on_path = !loopback_ || (on_path_ && on_path_(server_ip));
  const bool intercept = on_path && active_ && !name.empty() && targeted(name) && check_genuine(server_ip, server_port, name);
  const UniqueFd upstream_socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int upstream_fd = upstream_socket.get();
  set(upstream_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  set(upstream_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  const auto server = socket_address(server_ip, server_port);
  if (::connect(upstream_fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) return;
  if (!intercept) {
    // Splice: the ClientHello goes on unchanged, then bytes both ways.
    ++stats_.passed;
    ::send(upstream_fd, first.data(), first.size(), MSG_NOSIGNAL);
    char buffer[16384];
    for (;;) {
      pollfd descriptors[2] = {{client_fd, POLLIN, 0}, {upstream_fd, POLLIN, 0}};
      if (::poll(descriptors, 2, static_cast<int>(std::chrono::milliseconds(kSessionIdle).count())) <= 0) break;
      bool closed = false;
      for (int side = 0; side < 2 && !closed; ++side) {
        if (!(descriptors[side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t count = ::recv(descriptors[side].fd, buffer, sizeof buffer, 0);
        closed = count <= 0 || ::send(descriptors[1 - side].fd, buffer, static_cast<size_t>(count), MSG_NOSIGNAL) != count;
      }
      if (closed) break;
    }
    return;
  }
  ++stats_.intercepted;
  auto upstream = connect_upstream(upstream_fd, name, forger_);
  if (upstream.forged) {
    const auto downstream_context = forged_server_context(*upstream.forged);
    SslPtr downstream(SSL_new(downstream_context.get()));
    // The ClientHello was already read from the socket: hand it to OpenSSL through a memory BIO chain.
    BIO* read_bio = BIO_new(BIO_s_mem());
    BIO_write(read_bio, first.data(), static_cast<int>(first.size()));
    BIO* socket_bio = BIO_new_socket(client_fd, BIO_NOCLOSE);
    // Reads come from the saved bytes first, then the socket: a small two-stage BIO is not in OpenSSL,
    // so the handshake starts on the memory BIO and switches once it has consumed the ClientHello.
    SSL_set_bio(downstream.get(), read_bio, socket_bio);
    int result = SSL_accept(downstream.get());
    if (result != 1 && SSL_get_error(downstream.get(), result) == SSL_ERROR_WANT_READ) {
      BIO_up_ref(socket_bio);
      SSL_set0_rbio(downstream.get(), socket_bio);
      result = SSL_accept(downstream.get());
    }
    if (result == 1) {
      relay(downstream.get(), upstream.ssl.get(), client_fd, upstream_fd);
      SSL_shutdown(downstream.get());
    }
    SSL_shutdown(upstream.ssl.get());
  }
  ERR_clear_error();
}

}  // namespace mitmscope::lab
