// The interception device of the lab, as the 2019 Kazakh one behaved (BRIEF).
//
// In-path mode. The router it sits on hands it, through an NFQUEUE, the SYN and
// SYN-ACK of every connection to port 443 (to learn the TCP options both ends
// agreed) and the client's packets up to the end of its ClientHello. A ClientHello
// that spans several TCP segments (Chromium's post-quantum key share makes it over
// 1,500 bytes) is reassembled before the device decides: its segments are held, in
// order, for at most a second. A flow is left alone, untouched by anything but
// routing, unless all three conditions hold: the interceptor is on,
// the ClientHello's SNI is targeted, and the real server presents a certificate
// valid under the lab's public CA (checked once per server, from the device's own
// address). Then the device takes the flow over where it stands: TCP_REPAIR gives
// it two sockets with the flow's exact addresses and sequence numbers (towards the
// client it is the server, towards the server it is the client), the client's
// ClientHello is put into the first socket's receive queue, and the router's
// policy route delivers the flow's later packets to them. It completes its own
// handshake with the server (record version TLS 1.0, handshake TLS 1.2, 13 cipher
// suites: BRIEF's fingerprint), forges a certificate from the server's, answers the
// client with it, and relays the bodies unchanged. A ClientHello that would expire
// at this router (TTL 1) is still seen, because the queue sits before routing:
// targeted flows are answered at this hop, others expire exactly as without it.
//
// Terminating-proxy mode, like common commercial boxes: every connection to port
// 443 is terminated at the router (TPROXY); untargeted ones are spliced through.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/unique_fd.h"
#include "lab/forger.h"
#include "lab/hello_reassembly.h"
#include "lab/scenario.h"
#include "x509/openssl_ptr.h"
#include "x509/trust_store.h"

struct nfq_handle;
struct nfq_q_handle;

namespace mitmscope::lab {

struct InterceptorStats {
  std::atomic<uint64_t> client_hellos{0};
  std::atomic<uint64_t> passed{0};
  std::atomic<uint64_t> intercepted{0};
  std::atomic<uint64_t> genuine_invalid{0};
  std::atomic<uint64_t> takeover_failed{0};
  std::atomic<uint64_t> passed_without_handshake{0};   // targeted, but the SYN/SYN-ACK were not seen
  std::atomic<uint64_t> retransmissions_dropped{0};
  std::atomic<uint64_t> passed_busy{0};                // targeted, but the device was saturated
  std::atomic<uint64_t> reassembled{0};                // ClientHellos that came in more than one segment
  std::atomic<uint64_t> passed_incomplete{0};          // the rest of a ClientHello never came in time
  std::atomic<uint64_t> out_of_order_dropped{0};       // a later segment before the missing one
};

class Interceptor {
 public:
  Interceptor(const Scenario& scenario, Identity intermediate, TrustStore public_roots);
  ~Interceptor();

  // Binds the queue (in-path) or the proxy socket (terminating) in the calling thread's namespace.
  Result<void> start();
  void run();   // until stop()
  void stop();

  // Loopback mode (no root): a relay on `relay_port` of every 127.x address; each connection
  // goes on to the same address at `upstream_port`, intercepted when `on_path` says the address
  // is behind the device. No TTL realism. Call before start().
  void use_loopback(uint16_t relay_port, uint16_t upstream_port, std::function<bool(uint32_t)> on_path);

  void set_active(bool on) { active_ = on; }
  bool active() const { return active_; }
  Forger& forger() { return forger_; }
  const InterceptorStats& stats() const { return stats_; }
  std::string last_takeover_error() const;
  int workers() const { return workers_.load(); }


 private:
  int on_packet(nfq_q_handle* queue, uint32_t id, std::span<const uint8_t> packet);
  int accept(uint32_t id);
  int learn_options(uint32_t id, const TcpSegment& segment);
  // A segment with payload of a flow not decided yet: held until its ClientHello is whole.
  int reassemble(uint32_t id, const TcpSegment& segment);
  void decide_hello(std::unique_ptr<HeldHello> held);
  // The TCP options of the flow's SYN and SYN-ACK (forgotten here): false when one was not seen,
  // and then the flow cannot be taken over.
  bool take_handshake(HeldHello& held);
  // Marks the flow as being decided by a worker: false when the device has no worker left.
  bool start_deciding(const FlowKey& key);
  // Passes the ClientHellos whose rest did not come before their deadline.
  void expire_partial();
  // The verdict on every packet of a held ClientHello; the flow is no longer being decided.
  void verdict(const HeldHello& held, bool pass);
  void decided(const FlowKey& key);
  bool deciding(const FlowKey& key);
  void decide_flow(const HeldHello& held, const std::string& server_name);
  bool targeted(const std::string& server_name) const;
  // Checks (once per server) that the real server's certificate is valid under the public CA.
  std::optional<bool> cached_genuine_validity(uint32_t server_ip, uint16_t port);
  bool check_genuine(uint32_t server_ip, uint16_t port, const std::string& server_name);
  void take_over(const HeldHello& held, const std::string& server_name);
  void run_proxy();
  void proxy_connection(int client_fd);
  void spawn(std::function<void()> work);

  const Scenario& scenario_;
  std::set<std::string, std::less<>> targeted_;
  Forger forger_;
  TrustStore public_roots_;
  std::atomic<bool> active_{true};
  std::atomic<bool> stopping_{false};
  InterceptorStats stats_;

  nfq_handle* queue_handle_ = nullptr;
  nfq_q_handle* queue_ = nullptr;
  int queue_fd_ = -1;
  UniqueFd proxy_fd_;
  bool loopback_ = false;
  uint16_t relay_port_ = 0;
  uint16_t upstream_port_ = 0;
  std::function<bool(uint32_t)> on_path_;
  std::mutex verdict_mutex_;

  std::mutex flows_mutex_;
  struct Handshake {
    std::optional<TcpOptions> client;   // from the SYN
    std::optional<TcpOptions> server;   // from the SYN-ACK
  };
  std::map<FlowKey, Handshake> syn_options_;
  // Flows whose ClientHello is held while the device decides: a retransmitted copy is dropped,
  // or it would reach the real server and race the takeover.
  std::set<FlowKey> deciding_;
  // ClientHellos still being reassembled (touched by the queue's thread only).
  HelloReassembly reassembly_;
  std::map<std::pair<uint32_t, uint16_t>, bool> genuine_valid_;
  std::atomic<int> workers_{0};
  mutable std::mutex error_mutex_;
  std::string last_takeover_error_;
};

// The device's own TLS client towards the real server (BRIEF's fingerprint). Exposed so the
// client-fingerprint registry's lab entry is checked against the very ClientHello it sends.
SslCtxPtr upstream_client_context();

}  // namespace mitmscope::lab
