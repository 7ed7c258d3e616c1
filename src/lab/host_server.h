// The lab's TLS hosts: one event-driven server that answers on every address of the
// host space (AnyIP), each address with its own certificate, valid under the lab's
// public CA for the host's own name, not for the SNI (as the real hosts were).
// Certificates are minted on first contact and cached (ECDSA P-256: fast to mint),
// so `lab up` does not wait for thousands of keys. Hosts the plan marks untrusted
// serve a self-signed certificate (ineligible, and never intercepted).
#pragma once

#include <atomic>
#include <deque>
#include <unordered_map>
#include <map>
#include <mutex>

#include "core/unique_fd.h"
#include "lab/pki.h"
#include "lab/scenario.h"

namespace mitmscope::lab {

struct HostServerOptions {
  Identity public_ca;
  const Plan* plan = nullptr;
  uint16_t port = 443;
  std::string bind_address = "0.0.0.0";
  // Loopback mode: hosts are 127.18.x.y, the plan's 198.18.x.y with another first octet;
  // connections to any other local address are closed at once.
  bool loopback = false;
};

class HostServer {
 public:
  explicit HostServer(HostServerOptions options);
  ~HostServer();
  // Binds the listening socket (in the calling thread's network namespace).
  Result<void> listen();
  // Serves until stop() is called from another thread.
  void run();
  void stop();
  uint16_t port() const { return port_; }
  size_t handshakes() const { return handshakes_.load(); }
  // How many ClientHellos of each shape arrived: "record 0x0301, version 0x0303, 13 suites".
  // This is what a server-side observer sees of an interceptor (BRIEF's fingerprint).
  std::map<std::string, size_t> client_hello_shapes() const;
  // Connections as the hosts count them, per client address: the most one client opened
  // to one host address, and to all hosts, within any one-second window. This is how tests
  // check a scanner's rate caps from the receiving end (the interceptor's own connections
  // come from a router's address and are counted apart). reset_connection_rates() starts
  // a new measurement.
  struct ConnectionRates {
    size_t connections = 0;
    size_t max_per_address_per_second = 0;
    uint32_t busiest_address = 0;
    uint32_t busiest_client = 0;
    size_t max_total_per_second = 0;
  };
  ConnectionRates connection_rates() const;
  void reset_connection_rates();
  // The identity an address serves (minted on first use).
  Result<Identity> identity_for(uint32_t address);

 private:
  struct Connection;
  void accept_ready();
  void advance(Connection& connection);
  void close(int fd);

  HostServerOptions options_;
  SslCtxPtr context_;
  UniqueFd listen_fd_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> handshakes_{0};
  std::mutex identities_mutex_;
  std::map<uint32_t, Identity> identities_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  void count_connection(uint32_t client, uint32_t address);
  mutable std::mutex rates_mutex_;
  ConnectionRates rates_;
  std::unordered_map<uint64_t, std::deque<std::chrono::steady_clock::time_point>> address_windows_;  // client<<32|host
  std::unordered_map<uint32_t, std::deque<std::chrono::steady_clock::time_point>> client_windows_;
  mutable std::mutex shapes_mutex_;
  std::map<std::string, size_t> client_hello_shapes_;
};

// The host name the lab gives an address: "h198-18-0-1.as9198.lab.example".
std::string host_name_for(uint32_t address, uint32_t asn);

}  // namespace mitmscope::lab
