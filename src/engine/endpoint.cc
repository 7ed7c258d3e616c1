#include "engine/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace mitmscope {
namespace {

struct Range {
  const char* prefix;
  int length;
  const char* purpose;
};

// IANA IPv4/IPv6 special-purpose registries, plus multicast and the reserved class E.
constexpr std::array<Range, 15> kReservedV4 = {{
    {"0.0.0.0", 8, "this network"},
    {"10.0.0.0", 8, "private"},
    {"100.64.0.0", 10, "shared address space (carrier-grade NAT)"},
    {"127.0.0.0", 8, "loopback"},
    {"169.254.0.0", 16, "link local"},
    {"172.16.0.0", 12, "private"},
    {"192.0.0.0", 24, "IETF protocol assignments"},
    {"192.0.2.0", 24, "documentation (TEST-NET-1)"},
    {"192.88.99.0", 24, "6to4 relay anycast"},
    {"192.168.0.0", 16, "private"},
    {"198.18.0.0", 15, "benchmarking"},
    {"198.51.100.0", 24, "documentation (TEST-NET-2)"},
    {"203.0.113.0", 24, "documentation (TEST-NET-3)"},
    {"224.0.0.0", 4, "multicast"},
    {"240.0.0.0", 4, "reserved (includes broadcast)"},
}};

constexpr std::array<Range, 9> kReservedV6 = {{
    {"::", 128, "unspecified"},
    {"::1", 128, "loopback"},
    {"64:ff9b:1::", 48, "local-use IPv4/IPv6 translation"},
    {"100::", 64, "discard only"},
    {"2001::", 23, "IETF protocol assignments"},
    {"2001:db8::", 32, "documentation"},
    {"fc00::", 7, "unique local (private)"},
    {"fe80::", 10, "link local"},
    {"ff00::", 8, "multicast"},
}};

bool prefix_matches(const uint8_t* address, const uint8_t* prefix, int length) {
  const int whole = length / 8;
  if (std::memcmp(address, prefix, static_cast<size_t>(whole)) != 0) return false;
  const int rest = length % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address[whole] & mask) == (prefix[whole] & mask);
}

std::string check_v4(const uint8_t* bytes) {
  for (const auto& range : kReservedV4) {
    in_addr prefix{};
    inet_pton(AF_INET, range.prefix, &prefix);
    if (prefix_matches(bytes, reinterpret_cast<const uint8_t*>(&prefix), range.length)) {
      return fmt::format("{}/{} ({})", range.prefix, range.length, range.purpose);
    }
  }
  return {};
}

}  // namespace

std::string Endpoint::to_string() const {
  return family == AF_INET6 ? fmt::format("[{}]:{}", ip, port) : fmt::format("{}:{}", ip, port);
}

Result<Endpoint> parse_endpoint(std::string_view text, uint16_t default_port) {
  auto fail = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("bad address '{}': {}", printable(text), why));
  };
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return fail("expected ':' after ']'");
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const size_t colon = text.find(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  Endpoint endpoint;
  endpoint.port = default_port;
  if (!port_text.empty() || (text.size() && text.back() == ':')) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (error != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return fail("port must be 1-65535");
    }
    endpoint.port = static_cast<uint16_t>(value);
  }
  const std::string host_string(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&endpoint.address);
  if (inet_pton(AF_INET, host_string.c_str(), &v4->sin_addr) == 1) {
    endpoint.family = v4->sin_family = AF_INET;
    v4->sin_port = htons(endpoint.port);
    endpoint.address_length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host_string.c_str(), &v6->sin6_addr) == 1) {
    endpoint.family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(endpoint.port);
    endpoint.address_length = sizeof(sockaddr_in6);
  } else {
    return fail("not an IP address (mitmscope does not resolve names: it only sends the traffic you ask for)");
  }
  char canonical[INET6_ADDRSTRLEN] = {};
  inet_ntop(endpoint.family, endpoint.family == AF_INET ? static_cast<void*>(&v4->sin_addr) : &v6->sin6_addr,
            canonical, sizeof canonical);
  endpoint.ip = canonical;
  return endpoint;
}

std::string reserved_range_of(const Endpoint& endpoint) {
  if (endpoint.family == AF_INET) {
    return check_v4(reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(&endpoint.address)->sin_addr));
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(
      &reinterpret_cast<const sockaddr_in6*>(&endpoint.address)->sin6_addr);
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged by their IPv4 part.
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(bytes, kMapped, 12) == 0 || std::memcmp(bytes, kNat64, 12) == 0) {
    if (auto range = check_v4(bytes + 12); !range.empty()) return "IPv4 " + range;
  }
  for (const auto& range : kReservedV6) {
    in6_addr prefix{};
    inet_pton(AF_INET6, range.prefix, &prefix);
    if (prefix_matches(bytes, reinterpret_cast<const uint8_t*>(&prefix), range.length)) {
      return fmt::format("{}/{} ({})", range.prefix, range.length, range.purpose);
    }
  }
  return {};
}

Result<Endpoint> check_address_policy(Endpoint endpoint, bool allow_private) {
  if (allow_private) return endpoint;
  const std::string range = reserved_range_of(endpoint);
  if (!range.empty()) {
    return make_error(ErrorCode::kAddressRefused,
                      fmt::format("{} is in the reserved range {}; refused unless --allow-private is given",
                                  endpoint.ip, range));
  }
  return endpoint;
}

bool is_ip_literal(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string copy(text);
  in6_addr scratch{};
  return inet_pton(AF_INET, copy.c_str(), &scratch) == 1 || inet_pton(AF_INET6, copy.c_str(), &scratch) == 1;
}

Result<std::string> check_server_name(std::string_view name) {
  auto fail = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("bad server name '{}': {}", printable(name), why));
  };
  std::string_view trimmed = name;
  if (!trimmed.empty() && trimmed.back() == '.') trimmed.remove_suffix(1);
  if (trimmed.empty()) return fail("empty");
  if (trimmed.size() > 253) return fail("longer than 253 characters");
  if (is_ip_literal(trimmed)) return fail("an IP address is not a valid SNI (RFC 6066); use --no-sni");
  size_t label_length = 0;
  for (char c : trimmed) {
    if (c == '.') {
      if (label_length == 0) return fail("empty label");
      label_length = 0;
      continue;
    }
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_' || c == '*';
    if (!allowed) return fail(fmt::format("character '{}' is not allowed in a DNS name", printable(std::string_view(&c, 1))));
    if (++label_length > 63) return fail("a label is longer than 63 characters");
  }
  if (label_length == 0) return fail("empty label");
  return std::string(trimmed);
}

}  // namespace mitmscope
