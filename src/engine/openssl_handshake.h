// OpenSSL's whole client handshake on a connected socket (engine/handshake): what probe runs by default, and
// what every command runs with `--client-hello openssl`. OpenSSL verifies nothing here (SSL_VERIFY_NONE): the
// point is to see whatever the server presents and judge it afterwards. The raw ServerHello and Certificate
// messages are taken from the message callback, so the chain is kept exactly as sent even when a certificate in
// it is malformed.
#pragma once

#include <sys/socket.h>

#include <array>
#include <string>
#include <vector>

#include "engine/handshake.h"
#include "x509/openssl_ptr.h"

namespace mitmscope {

class OpenSslHandshake final : public Handshake {
 public:
  // `context` outlives the handshake; `max_certificate_list_bytes` as in TlsClientOptions.
  // `family`: the socket's address family (AF_INET, AF_INET6), for a TTL-limited probe's TTL.
  OpenSslHandshake(SSL_CTX* context, size_t max_certificate_list_bytes, int family, Observation& observation);

  HandshakeStep begin(int fd) override;
  HandshakeStep step() override;
  void conclude() override;
  std::span<const uint8_t> head() const override { return std::span(socket_.head).first(socket_.head_size); }

  // The socket as OpenSSL sees it: reads are metered (engine/handshake's bounds). The first bytes read are kept
  // without allocating: only an answer that is not TLS needs them, and OpenSSL refuses one at its first header.
  struct MeteredSocket {
    int fd = -1;
    size_t step_budget = 0;
    uint64_t received = 0;
    static constexpr size_t kHeadBytes = 16;
    std::array<uint8_t, kHeadBytes> head{};
    size_t head_size = 0;
    int family = AF_INET;
    bool restore_ttl_on_answer = false;   // a TTL-limited probe: the system's TTL from the first byte answered
  };

 private:
  Error classify_failure(int ssl_error, int saved_errno);
  static void on_message(int write_p, int version, int content_type, const void* buffer, size_t length, SSL* ssl,
                         void* self);

  SSL_CTX* context_;
  size_t max_certificate_list_bytes_;
  Observation& observation_;
  SslPtr ssl_;
  MeteredSocket socket_;
  std::vector<uint8_t> certificate_message_;
};

// The IANA name OpenSSL knows a suite by ("TLS_AES_128_GCM_SHA256"); empty for one it does not know.
std::string cipher_suite_standard_name(uint16_t id);

// Extracts the DER certificates from a raw Certificate handshake message.
std::vector<std::vector<uint8_t>> parse_certificate_message(std::span<const uint8_t> message, bool tls13);

}  // namespace mitmscope
