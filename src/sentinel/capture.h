// ClientHellos out of captured packets: a capture file or a live interface (libpcap, loaded at first use:
// sentinel/pcap_api.h), for a server that terminates TLS somewhere the sentinel cannot sit (a load balancer,
// a CDN edge mirroring traffic to it).
//
// HelloReassembler is the pure part: IP packets in, one Visit per client flow out, once the
// flow's first bytes hold a whole ClientHello (Chrome's post-quantum ClientHellos need two
// segments). It keeps a little state per flow towards the server ports, and is bounded: at
// most `max_flows` flows, at most `max_hello_bytes` per flow (out-of-order segments
// included), flows idle for `flow_idle` are swept, and a flow is judged once (a retransmitted
// ClientHello is not a second visit). A flow whose capture starts after its SYN is picked up
// at a segment that starts a ClientHello record.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "sentinel/visit.h"

namespace mitmscope {

struct CaptureOptions {
  std::vector<uint16_t> ports{443};
  size_t max_flows = 65536;
  size_t max_hello_bytes = 64 * 1024;
  std::chrono::seconds flow_idle{30};
};

struct CaptureStats {
  uint64_t packets = 0;
  uint64_t tcp_segments = 0;        // towards a server port
  uint64_t hellos = 0;
  uint64_t not_client_hello = 0;    // flows whose first bytes were not a ClientHello
  uint64_t too_large = 0;           // ClientHellos beyond max_hello_bytes
  uint64_t flows_refused = 0;       // new flows while max_flows were open
  uint64_t flows_expired = 0;
  uint64_t fragments = 0;           // IP fragments (not reassembled)
  uint64_t undecodable = 0;         // frames that were not IPv4/IPv6 TCP
  uint64_t truncated = 0;           // frames cut by the capture's snap length
  uint64_t dropped_by_kernel = 0;   // live capture: pcap_stats' ps_drop
};

class HelloReassembler {
 public:
  explicit HelloReassembler(CaptureOptions options, std::string source);
  // One IP packet (from its IPv4 or IPv6 header on); a Visit when a ClientHello completed.
  std::optional<Visit> add_ip_packet(std::span<const uint8_t> packet, std::chrono::system_clock::time_point time);
  CaptureStats& stats() { return stats_; }
  size_t open_flows() const { return flows_.size(); }

 private:
  struct FlowKey {
    std::array<uint8_t, 16> client{}, server{};
    uint16_t client_port = 0, server_port = 0;
    bool v6 = false;
    auto operator<=>(const FlowKey&) const = default;
  };
  struct Flow {
    uint32_t base = 0;                                  // sequence number of the stream's first byte
    std::vector<uint8_t> data;                          // contiguous bytes from `base`
    std::map<uint32_t, std::vector<uint8_t>> pending;   // out-of-order, by offset
    size_t pending_bytes = 0;
    bool done = false;
    int ttl = 0;
    std::chrono::system_clock::time_point first_seen, last_seen;
  };
  void sweep(std::chrono::system_clock::time_point now);
  std::optional<Visit> progress(const FlowKey& key, Flow& flow);

  CaptureOptions options_;
  std::string source_;
  std::map<FlowKey, Flow> flows_;
  CaptureStats stats_;
  std::chrono::system_clock::time_point last_sweep_{};
};

// The IP packet inside a frame of libpcap link type `link_type` (Ethernet with VLAN tags,
// Linux cooked v1/v2, raw IP, BSD loopback); nullopt for anything else.
std::optional<std::span<const uint8_t>> ip_packet_of_frame(int link_type, std::span<const uint8_t> frame);

// Called per visit; return false to stop reading.
using VisitSink = std::function<bool(const Visit&)>;

// Every ClientHello towards options.ports in a pcap or pcapng file.
Result<CaptureStats> read_capture_file(const std::filesystem::path& file, const CaptureOptions& options, const VisitSink& sink);

// Live from an interface ("any" for all), until `stop` or the sink says so. Needs root or
// CAP_NET_RAW; not promiscuous: a server sees its own traffic.
Result<CaptureStats> capture_interface(const std::string& interface_name, const CaptureOptions& options, const VisitSink& sink,
                                       const std::atomic<bool>& stop);

}  // namespace mitmscope
