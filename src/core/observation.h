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

struct Observation {
  UtcSeconds time{};
  std::string source = "probe";         // probe | scan | trace | monitor | ooni | inspect
  std::string vantage;                  // where it was measured from; empty: this machine
  std::string ip;
  uint16_t port = 443;
  std::string sni;                      // empty: no SNI sent
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
  Timings timings;
};

std::string tls_alert_name(uint8_t description);

}  // namespace mitmscope
