// Endpoints and the address policy.
//
// mitmscope takes IP addresses, never names: resolving would send traffic (DNS) the
// user did not ask for, and measurements must say exactly which address answered.
// Like ZMap's default blocklist, reserved and private ranges (RFC 6890 and friends)
// are refused unless the user opts in (--allow-private; the lab does).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>

#include "core/error.h"

namespace mitmscope {

struct Endpoint {
  std::string ip;          // canonical text form
  uint16_t port = 443;
  int family = AF_INET;
  sockaddr_storage address{};
  socklen_t address_length = 0;

  std::string to_string() const;  // "1.2.3.4:443", "[::1]:443"
};

// "1.2.3.4", "1.2.3.4:8443", "::1", "[::1]:8443".
Result<Endpoint> parse_endpoint(std::string_view text, uint16_t default_port);

// The reserved range an address falls in ("127.0.0.0/8 loopback"), or empty.
std::string reserved_range_of(const Endpoint& endpoint);

// Refuses reserved/private addresses unless allowed; the error names the range.
Result<Endpoint> check_address_policy(Endpoint endpoint, bool allow_private);

// An IPv4 or IPv6 literal ("192.0.2.1", "2001:db8::1"; no brackets, no port).
bool is_ip_literal(std::string_view text);

// A server name usable as SNI: DNS labels of letters, digits, '-' and '_' (RFC 6066: not an IP literal).
Result<std::string> check_server_name(std::string_view name);

}  // namespace mitmscope
