// A ClientHello from a profile (tls/client_hello_profile): the bytes a measurement sends, and what the rest of the
// handshake needs from them (the key share keys, the message for the transcript). Everything a client draws per
// connection is drawn here, from `random`: the client random and session id, GREASE values (RFC 8701, one per
// role as BoringSSL draws them: cipher, group and key share, first and second extension, version, signature
// algorithm), the order of a shuffling profile's extensions, an ECH GREASE extension's contents and length.
// X25519 keys are made from `random` too, so a seeded source gives the same bytes twice; P-256 and P-384 keys come
// from OpenSSL. The X25519MLKEM768 share carries a well-formed ML-KEM-768 encapsulation key (coefficients below
// q) whose decapsulation key nobody has: OpenSSL 3.0 has no ML-KEM, so a server that picks that group cannot be
// followed past its ServerHello (its X25519 half is kept for the record).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "tls/client_hello_profile.h"
#include "x509/openssl_ptr.h"

namespace mitmscope {

using RandomBytes = std::function<void(std::span<uint8_t>)>;
void openssl_random(std::span<uint8_t> out);   // RAND_bytes

struct HelloRequest {
  std::string server_name;                          // empty or an IP address: no server_name extension
  std::optional<std::vector<std::string>> alpn;     // replaces the profile's protocols
};

struct KeyShareKey {
  uint16_t group = 0;
  EvpPkeyPtr key;   // X25519, P-256 or P-384; for X25519MLKEM768 its X25519 half
};

struct BuiltClientHello {
  std::vector<uint8_t> record;    // what is sent: the message in TLS records (one unless over 16 KiB)
  std::vector<uint8_t> message;   // the handshake message (type, length, body): the transcript starts with it
  std::vector<KeyShareKey> keys;
  std::vector<uint16_t> extension_order;   // types as sent, GREASE included
  size_t server_name_at = 0;      // offset in `record` of the name's first byte; 0 when no name was sent
};

// The handshake `message` in handshake records of `version`, each at most 2^14 bytes (RFC 8446, 5.1), with one
// more record boundary at `cut` when it falls inside the message (0: none; the split-record strategy).
std::vector<uint8_t> handshake_records(std::span<const uint8_t> message, uint16_t version, size_t cut = 0);

Result<BuiltClientHello> build_client_hello(const ClientHelloProfile& profile, const HelloRequest& request,
                                            const RandomBytes& random = openssl_random);

// The second ClientHello after a HelloRetryRequest (RFC 8446, 4.1.2): the first one byte for byte (the same
// random, session id, GREASE, extension order) but for the key share, now one fresh key for the group the server
// asked for, and the server's cookie, sent right after the key share when it gave one. Early data is dropped.
Result<BuiltClientHello> retry_client_hello(const BuiltClientHello& first, uint16_t group,
                                            std::span<const uint8_t> cookie, const RandomBytes& random = openssl_random);

}  // namespace mitmscope
