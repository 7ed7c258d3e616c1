// tcp_floor: the network floor of a first-flight scan. It makes the connections a scan makes (each target, N
// times, at most C at once), sends each the same ClientHello (the curl profile's, built once), reads the server's
// answer until its first encrypted record (TLS 1.3) or its Certificate's record (TLS 1.2) is whole, and closes:
// the sockets, the kernel's TCP work and the lab's routing that every scanning client pays, and no cryptography,
// parsing or output. bench/scan_peers.sh runs it beside the scan so the scan's CPU can be split into this floor,
// the cryptographic floor (openssl speed) and what the scan adds.
// Usage: tcp_floor TARGETS CONNECTIONS_PER_TARGET CONCURRENCY   (TARGETS: one IP[:PORT] a line)
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/endpoint.h"
#include "tls/client_hello_builder.h"

namespace {

constexpr size_t kMaxAnswer = 64 * 1024;   // a hostile server cannot make a connection hold more
constexpr int kTimeoutMs = 5000;           // a whole run with no event for this long ends it
constexpr uint8_t kHandshake = 22, kApplicationData = 23, kCertificate = 11;

struct Connection {
  int fd = -1;
  bool sent = false;
  std::vector<uint8_t> answer;
};

struct Totals {
  size_t connections = 0, flights = 0, failed = 0, bytes = 0;
};

// True when `answer` holds a whole record that ends the first flight a scan reads: an encrypted record (TLS 1.3:
// EncryptedExtensions and Certificate follow the ServerHello encrypted) or a handshake record carrying a
// Certificate message (TLS 1.2, in the clear).
bool flight_read(const std::vector<uint8_t>& answer) {
  size_t at = 0;
  while (at + 5 <= answer.size()) {
    const size_t length = size_t{answer[at + 3]} << 8 | answer[at + 4];
    if (at + 5 + length > answer.size()) return false;
    const uint8_t type = answer[at];
    if (type == kApplicationData) return true;
    if (type == kHandshake) {
      for (size_t i = at + 5; i + 4 <= at + 5 + length; i += 4 + (size_t{answer[i + 1]} << 16 | size_t{answer[i + 2]} << 8 | answer[i + 3])) {
        if (answer[i] == kCertificate) return true;
      }
    }
    at += 5 + length;
  }
  return false;
}

// One target a line, as `scan --hosts` takes them ("1.2.3.4:443", "[::1]:8443"); lines that are none are skipped.
std::vector<mitmscope::Endpoint> read_targets(const char* path) {
  std::vector<mitmscope::Endpoint> targets;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (auto endpoint = mitmscope::parse_endpoint(line, 443)) targets.push_back(std::move(*endpoint));
  }
  return targets;
}

class Runner {
 public:
  Runner(std::vector<uint8_t> hello, int epoll) : hello_(std::move(hello)), epoll_(epoll) {}

  bool start(const mitmscope::Endpoint& target, Connection& connection) {
    connection = Connection{};
    connection.fd = ::socket(target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connection.fd < 0) return false;
    const int rc = ::connect(connection.fd, reinterpret_cast<const sockaddr*>(&target.address), target.address_length);
    if (rc != 0 && errno != EINPROGRESS) return finish(connection, false);
    epoll_event event{EPOLLOUT | EPOLLIN, {.ptr = &connection}};
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, connection.fd, &event);
    ++totals_.connections;
    return true;
  }

  // One readiness event: send the ClientHello once writable, then read. False when the connection ended.
  bool step(Connection& connection, uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) return finish(connection, false);
    if (!connection.sent && (events & EPOLLOUT)) {
      if (::send(connection.fd, hello_.data(), hello_.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello_.size())) {
        return finish(connection, false);
      }
      connection.sent = true;
      epoll_event event{EPOLLIN, {.ptr = &connection}};
      ::epoll_ctl(epoll_, EPOLL_CTL_MOD, connection.fd, &event);
    }
    return (events & EPOLLIN) ? read(connection) : true;
  }

  // The connections still open when the run gives up on them (no event for kTimeoutMs) count as failed.
  void abandon(size_t open) { totals_.failed += open; }

  const Totals& totals() const { return totals_; }

 private:
  bool read(Connection& connection) {
    std::array<uint8_t, 16384> buffer{};
    for (;;) {
      const ssize_t got = ::recv(connection.fd, buffer.data(), buffer.size(), 0);
      if (got > 0 && connection.answer.size() + static_cast<size_t>(got) <= kMaxAnswer) {
        connection.answer.insert(connection.answer.end(), buffer.begin(), buffer.begin() + got);
        continue;
      }
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return finish(connection, flight_read(connection.answer));   // closed, failed or over the bound
    }
    return flight_read(connection.answer) ? finish(connection, true) : true;
  }

  bool finish(Connection& connection, bool flight) {
    totals_.bytes += connection.answer.size();
    ++(flight ? totals_.flights : totals_.failed);
    ::close(connection.fd);
    connection.fd = -1;
    return false;
  }

  std::vector<uint8_t> hello_;
  int epoll_;
  Totals totals_;
};

mitmscope::Result<std::vector<uint8_t>> curl_client_hello() {
  auto profile = mitmscope::find_client_hello_profile("curl");
  if (!profile) return std::unexpected(profile.error());
  auto hello = mitmscope::build_client_hello(**profile, {.server_name = "www.site1.example", .alpn = std::nullopt});
  if (!hello) return std::unexpected(hello.error());
  return hello->record;
}

// Keeps up to `concurrency` connections open until every target has had `per_target` of them.
Totals run(const std::vector<mitmscope::Endpoint>& targets, size_t per_target, size_t concurrency, std::vector<uint8_t> hello) {
  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  Runner runner(std::move(hello), epoll);
  std::vector<Connection> slots(concurrency);
  std::vector<Connection*> idle;
  for (auto& slot : slots) idle.push_back(&slot);
  size_t next = 0, open = 0;
  const size_t total = targets.size() * per_target;
  std::array<epoll_event, 256> events{};
  while (next < total || open > 0) {
    while (next < total && !idle.empty()) {
      Connection* slot = idle.back();
      idle.pop_back();
      if (runner.start(targets[next++ / per_target], *slot)) ++open; else idle.push_back(slot);
    }
    const int ready = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), kTimeoutMs);
    if (ready <= 0) {
      runner.abandon(open);
      break;
    }
    for (int i = 0; i < ready; ++i) {
      auto* connection = static_cast<Connection*>(events[static_cast<size_t>(i)].data.ptr);
      if (!runner.step(*connection, events[static_cast<size_t>(i)].events)) {
        --open;
        idle.push_back(connection);
      }
    }
  }
  ::close(epoll);
  return runner.totals();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    fmt::print(stderr, "usage: tcp_floor TARGETS CONNECTIONS_PER_TARGET CONCURRENCY\n");
    return 2;
  }
  const auto targets = read_targets(argv[1]);
  auto hello = curl_client_hello();
  if (targets.empty() || !hello) {
    fmt::print(stderr, "tcp_floor: {}\n", targets.empty() ? fmt::format("no IP[:PORT] target in {}", argv[1]) : hello.error().message);
    return 3;
  }
  const auto totals = run(targets, std::stoul(argv[2]), std::stoul(argv[3]), std::move(*hello));
  fmt::print("{{\"connections\": {}, \"flights\": {}, \"failed\": {}, \"bytes\": {}}}\n", totals.connections, totals.flights,
             totals.failed, totals.bytes);
  return totals.failed ? 1 : 0;
}
