#include "sentinel/capture.h"

#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "core/byte_reader.h"
#include "sentinel/pcap_api.h"

namespace mitmscope {
namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

std::string address_text(const std::array<uint8_t, 16>& address, bool v6) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, address.data(), text, sizeof text);
  return text;
}

struct TcpPacket {
  std::array<uint8_t, 16> source{}, destination{};
  bool v6 = false;
  int ttl = 0;
  uint16_t source_port = 0, destination_port = 0;
  uint32_t sequence = 0;
  uint8_t flags = 0;
  std::span<const uint8_t> payload;
};

enum class Decode { kTcp, kFragment, kOther };

// An IPv4 header: addresses and TTL into `out`, the TCP segment (Ethernet padding cut off) into `segment`.
Decode decode_ipv4(std::span<const uint8_t> packet, TcpPacket& out, std::span<const uint8_t>& segment) {
  ByteReader reader(packet);
  uint8_t version_and_length = 0, ttl = 0, protocol = 0;
  uint16_t total = 0, fragment = 0;
  std::span<const uint8_t> source, destination;
  if (!reader.u8(version_and_length) || !reader.skip(1) || !reader.u16(total) || !reader.skip(2) ||
      !reader.u16(fragment) || !reader.u8(ttl) || !reader.u8(protocol) || !reader.skip(2) || !reader.bytes(4, source) ||
      !reader.bytes(4, destination)) {
    return Decode::kOther;
  }
  const size_t header = size_t(version_and_length & 0x0f) * 4;
  if (header < 20 || total < header || packet.size() < header) return Decode::kOther;
  if ((fragment & 0x3fff) != 0) return Decode::kFragment;  // MF set or an offset
  if (protocol != 6) return Decode::kOther;
  out.ttl = ttl;
  std::ranges::copy(source, out.source.begin());
  std::ranges::copy(destination, out.destination.begin());
  segment = packet.subspan(header, std::min<size_t>(total, packet.size()) - header);
  return Decode::kTcp;
}

// An IPv6 header and its hop-by-hop, routing and destination options; a fragment header ends it.
Decode decode_ipv6(std::span<const uint8_t> packet, TcpPacket& out, std::span<const uint8_t>& segment) {
  ByteReader reader(packet);
  uint16_t payload_length = 0;
  uint8_t next = 0, hop_limit = 0;
  std::span<const uint8_t> source, destination;
  if (!reader.skip(4) || !reader.u16(payload_length) || !reader.u8(next) || !reader.u8(hop_limit) ||
      !reader.bytes(16, source) || !reader.bytes(16, destination)) {
    return Decode::kOther;
  }
  out.v6 = true;
  out.ttl = hop_limit;
  std::ranges::copy(source, out.source.begin());
  std::ranges::copy(destination, out.destination.begin());
  ByteReader payload = reader.take_at_most(payload_length);
  constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestinationOptions = 60, kTcp = 6;
  while (next == kHopByHop || next == kRouting || next == kDestinationOptions || next == kFragment) {
    if (next == kFragment) return Decode::kFragment;
    uint8_t units = 0;
    if (payload.remaining() < 8 || !payload.u8(next) || !payload.u8(units) || !payload.skip((size_t(units) + 1) * 8 - 2)) {
      return Decode::kOther;
    }
  }
  if (next != kTcp) return Decode::kOther;
  segment = payload.rest();
  return Decode::kTcp;
}

Decode decode_tcp(std::span<const uint8_t> packet, TcpPacket& out) {
  std::span<const uint8_t> segment;
  const auto first = ByteReader(packet).peek();
  const int version = first ? *first >> 4 : 0;
  const Decode network = version == 4   ? decode_ipv4(packet, out, segment)
                         : version == 6 ? decode_ipv6(packet, out, segment)
                                        : Decode::kOther;
  if (network != Decode::kTcp) return network;
  ByteReader reader(segment);
  uint8_t data_offset_units = 0;
  if (!reader.u16(out.source_port) || !reader.u16(out.destination_port) || !reader.u32(out.sequence) ||
      !reader.skip(4) || !reader.u8(data_offset_units) || !reader.u8(out.flags)) {
    return Decode::kOther;
  }
  const size_t data_offset = size_t(data_offset_units >> 4) * 4;
  if (data_offset < 20 || data_offset > segment.size()) return Decode::kOther;
  out.payload = segment.subspan(data_offset);
  return Decode::kTcp;
}

bool starts_client_hello(std::span<const uint8_t> payload) {
  return payload.size() >= 6 && payload[0] == 0x16 && payload[1] == 0x03 && payload[5] == 0x01;
}

struct PcapCloser {
  const PcapApi* pcap;
  void operator()(pcap_t* handle) const { pcap->close(handle); }
};
using PcapPtr = std::unique_ptr<pcap_t, PcapCloser>;

std::string port_filter(const std::vector<uint16_t>& ports, bool vlan) {
  std::string ports_text;
  for (uint16_t port : ports) ports_text += fmt::format("{}dst port {}", ports_text.empty() ? "" : " or ", port);
  return vlan ? fmt::format("(tcp and ({0})) or (vlan and tcp and ({0}))", ports_text) : fmt::format("tcp and ({})", ports_text);
}

Result<CaptureStats> read_all(const PcapApi& pcap, pcap_t* handle, const std::string& source, const CaptureOptions& options, const VisitSink& sink,
                              const std::atomic<bool>* stop) {
  HelloReassembler reassembler(options, source);
  const int link_type = pcap.datalink(handle);
  while (!stop || !stop->load()) {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    const int status = pcap.next_ex(handle, &header, &data);
    if (status == 0) {                         // live: nothing yet; wait a little, then check `stop`
      pollfd entry{pcap.get_selectable_fd(handle), POLLIN, 0};
      ::poll(&entry, 1, 200);
      continue;
    }
    if (status == PCAP_ERROR_BREAK) break;     // end of file
    if (status < 0) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: after {} packets: {}", source, reassembler.stats().packets, pcap.geterr(handle)));
    }
    CaptureStats& stats = reassembler.stats();
    ++stats.packets;
    if (header->caplen < header->len) ++stats.truncated;
    const auto frame = std::span<const uint8_t>(data, header->caplen);
    const auto packet = ip_packet_of_frame(link_type, frame);
    if (!packet) {
      ++stats.undecodable;
      continue;
    }
    const auto time = std::chrono::system_clock::time_point(std::chrono::seconds(header->ts.tv_sec) + std::chrono::microseconds(header->ts.tv_usec));
    if (auto visit = reassembler.add_ip_packet(*packet, time)) {
      if (!sink(*visit)) break;
    }
  }
  CaptureStats stats = reassembler.stats();
  pcap_stat kernel{};
  if (stop && pcap.stats(handle, &kernel) == 0) stats.dropped_by_kernel = kernel.ps_drop;
  return stats;
}

}  // namespace

HelloReassembler::HelloReassembler(CaptureOptions options, std::string source)
    : options_(std::move(options)), source_(std::move(source)) {}

std::optional<std::span<const uint8_t>> ip_packet_of_frame(int link_type, std::span<const uint8_t> frame) {
  ByteReader reader(frame);
  uint16_t ether_type = 0;
  bool known = true;
  switch (link_type) {
    case DLT_EN10MB:
      known = reader.skip(12) && reader.u16(ether_type);
      while (known && (ether_type == 0x8100 || ether_type == 0x88a8) && reader.remaining() >= 4) {  // 802.1Q / QinQ
        known = reader.skip(2) && reader.u16(ether_type);
      }
      break;
    case DLT_LINUX_SLL:
      known = reader.skip(14) && reader.u16(ether_type);
      break;
    case DLT_LINUX_SLL2:
      known = reader.u16(ether_type) && reader.skip(18);
      break;
    case DLT_NULL:
    case DLT_LOOP:
      known = reader.skip(4);
      break;
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      break;
    default:
      return std::nullopt;
  }
  if (!known) return std::nullopt;
  if (ether_type != 0 && ether_type != 0x0800 && ether_type != 0x86dd) return std::nullopt;
  if (reader.empty()) return std::nullopt;
  return reader.rest();
}

void HelloReassembler::sweep(std::chrono::system_clock::time_point now) {
  // At most once a second, also when full: a sweep per packet would let a flood of flows cost O(flows) each.
  if (now - last_sweep_ < std::chrono::seconds(1)) return;
  last_sweep_ = now;
  std::erase_if(flows_, [&](const auto& item) {
    const bool idle = now - item.second.last_seen > options_.flow_idle;
    if (idle) ++stats_.flows_expired;
    return idle;
  });
}

std::optional<Visit> HelloReassembler::add_ip_packet(std::span<const uint8_t> packet, std::chrono::system_clock::time_point time) {
  TcpPacket tcp;
  const Decode decoded = decode_tcp(packet, tcp);
  if (decoded == Decode::kFragment) ++stats_.fragments;
  if (decoded != Decode::kTcp) {
    if (decoded == Decode::kOther) ++stats_.undecodable;
    return std::nullopt;
  }
  if (std::ranges::find(options_.ports, tcp.destination_port) == options_.ports.end()) return std::nullopt;
  ++stats_.tcp_segments;
  sweep(time);
  const FlowKey key{tcp.source, tcp.destination, tcp.source_port, tcp.destination_port, tcp.v6};
  auto it = flows_.find(key);
  if (tcp.flags & (kFin | kRst)) {
    if (it != flows_.end()) flows_.erase(it);
    return std::nullopt;
  }
  const bool syn = (tcp.flags & kSyn) && !(tcp.flags & kAck);
  if (it == flows_.end() || (syn && it->second.done)) {
    if (!syn && !starts_client_hello(tcp.payload)) return std::nullopt;  // mid-stream, not a flow start
    if (it == flows_.end() && flows_.size() >= options_.max_flows) {
      ++stats_.flows_refused;
      return std::nullopt;
    }
    Flow fresh;
    fresh.base = syn ? tcp.sequence + 1 : tcp.sequence;
    fresh.first_seen = time;
    it = flows_.insert_or_assign(key, std::move(fresh)).first;
  }
  Flow& flow = it->second;
  flow.last_seen = time;
  if (flow.done || tcp.payload.empty()) return std::nullopt;
  if (flow.data.empty() && flow.pending.empty()) flow.ttl = tcp.ttl;
  const uint32_t offset = tcp.sequence - flow.base;  // modulo 2^32, as TCP counts
  if (offset > options_.max_hello_bytes) return std::nullopt;  // a stray or very late segment
  if (offset <= flow.data.size()) {
    const size_t skip = flow.data.size() - offset;
    if (skip < tcp.payload.size()) flow.data.insert(flow.data.end(), tcp.payload.begin() + static_cast<std::ptrdiff_t>(skip), tcp.payload.end());
  } else if (flow.pending_bytes + tcp.payload.size() <= options_.max_hello_bytes && !flow.pending.contains(offset)) {
    flow.pending.emplace(offset, std::vector<uint8_t>(tcp.payload.begin(), tcp.payload.end()));
    flow.pending_bytes += tcp.payload.size();
  }
  while (!flow.pending.empty() && flow.pending.begin()->first <= flow.data.size()) {
    auto node = flow.pending.extract(flow.pending.begin());
    const size_t skip = flow.data.size() - node.key();
    if (skip < node.mapped().size()) flow.data.insert(flow.data.end(), node.mapped().begin() + static_cast<std::ptrdiff_t>(skip), node.mapped().end());
    flow.pending_bytes -= node.mapped().size();
  }
  return progress(key, flow);
}

std::optional<Visit> HelloReassembler::progress(const FlowKey& key, Flow& flow) {
  const ClientHelloExtent extent = client_hello_extent(flow.data, options_.max_hello_bytes);
  auto finish = [&] {
    flow.done = true;
    flow.data = {};
    flow.data.shrink_to_fit();
    flow.pending.clear();
    flow.pending_bytes = 0;
  };
  switch (extent.progress) {
    case ClientHelloProgress::kNeedMore:
      if (flow.data.size() > options_.max_hello_bytes) {
        ++stats_.too_large;
        finish();
      }
      return std::nullopt;
    case ClientHelloProgress::kNotTls:
      ++stats_.not_client_hello;
      finish();
      return std::nullopt;
    case ClientHelloProgress::kTooLarge:
      ++stats_.too_large;
      finish();
      return std::nullopt;
    case ClientHelloProgress::kComplete:
      break;
  }
  auto hello = parse_client_hello(std::span<const uint8_t>(flow.data).first(extent.bytes));
  if (!hello) {
    ++stats_.not_client_hello;
    finish();
    return std::nullopt;
  }
  Visit visit;
  visit.time = flow.first_seen;
  visit.source = source_;
  visit.client_ip = address_text(key.client, key.v6);
  visit.client_port = key.client_port;
  visit.server_ip = address_text(key.server, key.v6);
  visit.server_port = key.server_port;
  visit.ttl = flow.ttl;
  visit.hello = std::move(*hello);
  ++stats_.hellos;
  finish();
  return visit;
}

Result<CaptureStats> read_capture_file(const std::filesystem::path& file, const CaptureOptions& options, const VisitSink& sink) {
  const auto loaded = pcap_api();
  if (!loaded) return std::unexpected(loaded.error());
  const PcapApi& pcap = **loaded;
  char error[PCAP_ERRBUF_SIZE] = {};
  PcapPtr handle(pcap.open_offline(file.c_str(), error), PcapCloser{&pcap});
  if (!handle) return make_error(ErrorCode::kParseError, fmt::format("{}: not a capture file libpcap reads: {}", file.string(), error));
  return read_all(pcap, handle.get(), fmt::format("pcap:{}", file.string()), options, sink, nullptr);
}

Result<CaptureStats> capture_interface(const std::string& interface_name, const CaptureOptions& options, const VisitSink& sink,
                                       const std::atomic<bool>& stop) {
  const auto loaded = pcap_api();
  if (!loaded) return std::unexpected(loaded.error());
  const PcapApi& pcap = **loaded;
  char error[PCAP_ERRBUF_SIZE] = {};
  PcapPtr handle(pcap.create(interface_name.c_str(), error), PcapCloser{&pcap});
  if (!handle) return make_error(ErrorCode::kInvalidArgument, fmt::format("interface {}: {}", interface_name, error));
  pcap.set_snaplen(handle.get(), 65535);
  pcap.set_promisc(handle.get(), 0);
  pcap.set_timeout(handle.get(), 200);
  pcap.set_immediate_mode(handle.get(), 1);
  pcap.set_buffer_size(handle.get(), 8 << 20);
  if (const int status = pcap.activate(handle.get()); status < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("interface {}: {}{}", interface_name, pcap.geterr(handle.get()),
                                  status == PCAP_ERROR_PERM_DENIED ? " (capturing needs root or CAP_NET_RAW)" : ""));
  }
  bpf_program program{};
  std::string filter = port_filter(options.ports, true);
  if (pcap.compile(handle.get(), &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    filter = port_filter(options.ports, false);  // link types without VLAN tags ("any" is Linux cooked)
    if (pcap.compile(handle.get(), &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("interface {}: filter \"{}\": {}", interface_name, filter, pcap.geterr(handle.get())));
    }
  }
  if (pcap.setfilter(handle.get(), &program) != 0) {
    const std::string why = pcap.geterr(handle.get());
    pcap.freecode(&program);
    return make_error(ErrorCode::kInvalidArgument, fmt::format("interface {}: filter \"{}\": {}", interface_name, filter, why));
  }
  pcap.freecode(&program);
  // Non-blocking, polled with a timeout: with immediate mode a blocking read can wait forever on a
  // quiet interface, and `stop` (a signal, --duration, --count) must end the capture promptly.
  if (pcap.setnonblock(handle.get(), 1, error) != 0) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("interface {}: {}", interface_name, error));
  }
  return read_all(pcap, handle.get(), fmt::format("interface:{}", interface_name), options, sink, &stop);
}

}  // namespace mitmscope
