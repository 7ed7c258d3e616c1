// Observation: the one record every source produces (probe, scan, trace, monitor,
// OONI, inspect), so classification, storage and analysis are written once.
//
// It holds what was asked (address, SNI, versions, TTL) and what came back, raw:
// the ServerHello as parsed from the wire, the certificate chain as DER exactly as
// the server sent it (parsed later, so a certificate OpenSSL rejects is still kept),
// alerts, the error and timings. It holds no judgement; see core/verdict.h.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "tls/server_hello.h"

namespace mitmscope {

struct Timings {
  std::optional<double> connect_ms;     // SYN to established
  std::optional<double> handshake_ms;   // ClientHello to handshake end (or failure)
  std::optional<double> total_ms;
};

// What came back instead of TLS (a device's HTTP error, a block page): evidence, not only an error.
struct PlainAnswer {
  static constexpr size_t kMaxBytes = 512;   // kept as received
  std::vector<uint8_t> first_bytes;
  std::string first_line;                   // printable (core/error.h), at most 200 bytes
  std::optional<int> http_status;           // when the first line is an HTTP status line
  std::string server;                       // the HTTP Server header, when there is one
  std::vector<std::pair<std::string, std::string>> headers;  // HTTP headers in order (at most 16)

  // "HTTP/1.1 409 Conflict (Server: squid/5.7)", or the first line alone.
  std::string summary() const;
  // The first bytes, with control bytes, backslashes and bytes that are not UTF-8 as \xNN.
  std::string printable_bytes() const;
};

// Reads the first line and, for HTTP, the status and headers. Never fails: any bytes are evidence.
PlainAnswer parse_plain_answer(std::span<const uint8_t> bytes);

struct Observation {
  UtcSeconds time{};
  std::string source = "probe";         // probe | scan | trace | monitor | ooni | inspect
  std::string vantage;                  // where it was measured from; empty: this machine
  std::string ip;
  uint16_t port = 443;
  std::string sni;                      // empty: no SNI sent
  std::string client;                   // the ClientHello sent: "openssl" or a profile ("chromium-156"); empty: not ours
  std::optional<int> ttl;
  uint16_t source_port = 0;             // our side of the connection (0: not connected)
  uint16_t min_version = 0;             // offered range (0x0303 = TLS 1.2)
  uint16_t max_version = 0;

  std::optional<ServerHello> server_hello;
  std::string cipher_suite_name;        // IANA/RFC name of server_hello.cipher_suite
  std::vector<std::vector<uint8_t>> chain_der;  // leaf first, as sent
  bool handshake_complete = false;
  std::optional<uint8_t> alert_received;  // TLS alert description
  std::optional<uint8_t> alert_sent;
  std::optional<Error> error;
  std::optional<PlainAnswer> plain_answer;  // set with ErrorCode::kNotTls: what was answered instead
  Timings timings;
};

std::string tls_alert_name(uint8_t description);

}  // namespace mitmscope
