#include "tls/server_flight.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/byte_reader.h"

namespace mitmscope {
namespace {

constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecordBody = 16384 + 256;
constexpr uint8_t kChangeCipherSpec = 20, kAlertRecord = 21, kHandshakeRecord = 22, kApplicationData = 23;
constexpr uint8_t kServerHelloType = 2, kEncryptedExtensions = 8, kCertificateType = 11, kServerHelloDone = 14,
                  kFinishedType = 20;
constexpr uint16_t kTls13 = 0x0304;
constexpr uint16_t kKeyShareExtension = 51;

}  // namespace

Result<RetryRequest> retry_request(const ServerHello& hello) {
  constexpr uint16_t kCookieExtension = 44;
  RetryRequest request;
  bool asked = false;
  for (const auto& extension : hello.extensions) {
    ByteReader reader(extension.data);
    ByteReader cookie;
    if (extension.type == kKeyShareExtension) asked = reader.u16(request.group) && reader.empty();
    if (extension.type == kCookieExtension && reader.prefixed(2, cookie) && reader.empty()) {
      request.cookie.assign(cookie.rest().begin(), cookie.rest().end());
    }
  }
  if (!asked) return make_error(ErrorCode::kTlsProtocolError, "a HelloRetryRequest without the group it wants");
  return request;
}

ServerFlightReader::ServerFlightReader(const BuiltClientHello& hello, size_t max_bytes) : hello_(&hello), max_bytes_(max_bytes) {}

FlightStatus ServerFlightReader::fail(ErrorCode code, std::string message) {
  error_ = {code, std::move(message)};
  return FlightStatus::kFailed;
}

FlightStatus ServerFlightReader::feed(std::span<const uint8_t> bytes) {
  if (status_ != FlightStatus::kNeedMore) return status_;
  if (buffer_.size() + bytes.size() > max_bytes_) {
    return status_ = fail(ErrorCode::kTlsProtocolError, fmt::format("the server's first flight is over {} bytes", max_bytes_));
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  size_t at = 0;
  while (status_ == FlightStatus::kNeedMore && buffer_.size() - at >= kRecordHeader) {
    const uint8_t type = buffer_[at];
    if (type < kChangeCipherSpec || type > kApplicationData) {
      status_ = fail(flight_.server_hello ? ErrorCode::kTlsProtocolError : ErrorCode::kNotTls,
                     fmt::format("not a TLS record (first byte 0x{:02x})", type));
      break;
    }
    const size_t length = static_cast<size_t>(buffer_[at + 3]) << 8 | buffer_[at + 4];
    if (length > kMaxRecordBody) {
      status_ = fail(ErrorCode::kTlsProtocolError, fmt::format("a record of {} bytes (at most {})", length, kMaxRecordBody));
      break;
    }
    if (buffer_.size() - at < kRecordHeader + length) break;
    status_ = on_record(type, std::span(buffer_).subspan(at, kRecordHeader + length));
    at += kRecordHeader + length;
  }
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(at));
  return status_;
}

FlightStatus ServerFlightReader::on_record(uint8_t type, std::span<const uint8_t> record) {
  const auto body = record.subspan(kRecordHeader);
  switch (type) {
    case kAlertRecord:
      if (body.size() >= 2) flight_.alert = body[1];
      return fail(ErrorCode::kTlsAlert, fmt::format("the server sent alert {}", body.size() >= 2 ? body[1] : 0));
    case kChangeCipherSpec: return FlightStatus::kNeedMore;   // TLS 1.3's middlebox compatibility, or TLS 1.2's
    case kHandshakeRecord: return on_handshake_bytes(body);
    case kApplicationData: {
      if (!opener_) return fail(ErrorCode::kTlsProtocolError, "encrypted data before a TLS 1.3 ServerHello");
      auto opened = opener_->open(record);
      if (!opened) return fail(opened.error().code, opened.error().message);
      if (opened->type == kAlertRecord && opened->content.size() >= 2) {
        flight_.alert = opened->content[1];
        return fail(ErrorCode::kTlsAlert, fmt::format("the server sent alert {}", opened->content[1]));
      }
      return opened->type == kHandshakeRecord ? on_handshake_bytes(opened->content) : FlightStatus::kNeedMore;
    }
    default: return FlightStatus::kNeedMore;   // feed() lets only the four record types through
  }
}

FlightStatus ServerFlightReader::on_handshake_bytes(std::span<const uint8_t> bytes) {
  handshake_.insert(handshake_.end(), bytes.begin(), bytes.end());
  size_t at = 0;
  FlightStatus status = FlightStatus::kNeedMore;
  while (status == FlightStatus::kNeedMore && handshake_.size() - at >= 4) {
    const size_t length = static_cast<size_t>(handshake_[at + 1]) << 16 | static_cast<size_t>(handshake_[at + 2]) << 8 | handshake_[at + 3];
    if (length > max_bytes_) {
      return fail(ErrorCode::kTlsProtocolError, fmt::format("handshake message of {} bytes, larger than the {} byte limit "
                                                            "(certificate chain too large?)", length, max_bytes_));
    }
    if (handshake_.size() - at < 4 + length) break;
    status = on_message(handshake_[at], std::span(handshake_).subspan(at, 4 + length));
    at += 4 + length;
  }
  handshake_.erase(handshake_.begin(), handshake_.begin() + static_cast<std::ptrdiff_t>(at));
  return status;
}

FlightStatus ServerFlightReader::on_message(uint8_t type, std::span<const uint8_t> message) {
  if (!flight_.server_hello && type != kServerHelloType) {
    return fail(ErrorCode::kTlsProtocolError, fmt::format("handshake message {} before the ServerHello", type));
  }
  switch (type) {
    case kServerHelloType: return on_server_hello(message);
    case kEncryptedExtensions: flight_.encrypted_extensions.assign(message.begin() + 4, message.end()); return FlightStatus::kNeedMore;
    case kCertificateType: return on_certificate(message.subspan(4));
    // The flight's end: an alert the server sends before it (after a chain it regrets) is still seen.
    case kServerHelloDone: return FlightStatus::kDone;   // TLS 1.2
    case kFinishedType: return FlightStatus::kDone;      // TLS 1.3 (not checked: nothing is verified)
    default: return FlightStatus::kNeedMore;             // CertificateVerify, ServerKeyExchange, a request: read past
  }
}

FlightStatus ServerFlightReader::on_server_hello(std::span<const uint8_t> message) {
  if (flight_.server_hello) return fail(ErrorCode::kTlsProtocolError, "a second ServerHello");
  auto hello = parse_server_hello(message);
  if (!hello) return fail(hello.error().code, hello.error().message);
  flight_.server_hello_message.assign(message.begin(), message.end());
  flight_.server_hello = std::move(*hello);
  if (flight_.server_hello->hello_retry_request) {
    if (!flight_.hello_retry_message.empty()) return fail(ErrorCode::kTlsProtocolError, "a second HelloRetryRequest");
    return FlightStatus::kHelloRetry;
  }
  if (flight_.server_hello->selected_version != kTls13) return FlightStatus::kNeedMore;   // the chain comes in the clear
  if (!handshake_.empty() && handshake_.size() > message.size()) {
    return fail(ErrorCode::kTlsProtocolError, "TLS 1.3 handshake data in the clear after the ServerHello");
  }
  return start_decryption();
}

FlightStatus ServerFlightReader::retry(const BuiltClientHello& second) {
  if (status_ != FlightStatus::kHelloRetry) return status_;
  auto suite = tls13::cipher_suite(flight_.server_hello->cipher_suite);
  auto first_hash = suite ? tls13::digest(suite->hash, hello_->message) : Result<std::vector<uint8_t>>(std::unexpected(suite.error()));
  if (!first_hash) return status_ = fail(first_hash.error().code, "HelloRetryRequest: " + first_hash.error().message);
  constexpr uint8_t kMessageHash = 254;
  transcript_prefix_ = {kMessageHash, 0, 0, static_cast<uint8_t>(first_hash->size())};
  transcript_prefix_.insert(transcript_prefix_.end(), first_hash->begin(), first_hash->end());
  transcript_prefix_.insert(transcript_prefix_.end(), flight_.server_hello_message.begin(), flight_.server_hello_message.end());
  flight_.hello_retry_message = std::move(flight_.server_hello_message);
  flight_.server_hello_message.clear();
  flight_.server_hello.reset();
  hello_ = &second;
  status_ = FlightStatus::kNeedMore;
  return feed({});
}

FlightStatus ServerFlightReader::start_decryption() {
  const auto& hello = *flight_.server_hello;
  const auto share = std::ranges::find_if(hello.extensions, [](const TlsExtension& e) { return e.type == kKeyShareExtension; });
  ByteReader reader(share == hello.extensions.end() ? std::span<const uint8_t>() : std::span<const uint8_t>(share->data));
  ByteReader key;
  if (!reader.u16(flight_.key_share_group) || !reader.prefixed(2, key)) {
    return fail(ErrorCode::kTlsProtocolError, "a TLS 1.3 ServerHello without a key share");
  }
  if (flight_.key_share_group == kGroupX25519MlKem768) {
    return fail(ErrorCode::kTlsProtocolError, "the server chose X25519MLKEM768: without ML-KEM (OpenSSL 3.0) its "
                                              "certificate cannot be read; measure with a profile that does not offer it");
  }
  const auto ours = std::ranges::find_if(hello_->keys, [&](const KeyShareKey& k) { return k.group == flight_.key_share_group; });
  if (ours == hello_->keys.end()) {
    return fail(ErrorCode::kTlsProtocolError, fmt::format("the server answered group 0x{:04x}, which had no key share", flight_.key_share_group));
  }
  auto suite = tls13::cipher_suite(hello.cipher_suite);
  auto shared = suite ? tls13::shared_secret(ours->key.get(), key.rest()) : Result<std::vector<uint8_t>>(std::unexpected(suite.error()));
  if (!shared) return fail(shared.error().code, shared.error().message);
  std::vector<uint8_t> transcript = transcript_prefix_;
  transcript.insert(transcript.end(), hello_->message.begin(), hello_->message.end());
  transcript.insert(transcript.end(), flight_.server_hello_message.begin(), flight_.server_hello_message.end());
  auto hash = tls13::digest(suite->hash, transcript);
  auto secret = hash ? tls13::server_handshake_secret(*suite, *shared, *hash) : hash;
  auto opener = secret ? tls13::RecordOpener::create(*suite, *secret) : Result<tls13::RecordOpener>(std::unexpected(secret.error()));
  if (!opener) return fail(opener.error().code, opener.error().message);
  opener_ = std::move(*opener);
  return FlightStatus::kNeedMore;
}

FlightStatus ServerFlightReader::on_certificate(std::span<const uint8_t> body) {
  const bool tls13 = flight_.server_hello->selected_version == kTls13;
  ByteReader reader(body);
  ByteReader context, list;
  if ((tls13 && !reader.prefixed(1, context)) || !reader.prefixed(3, list)) {
    return fail(ErrorCode::kTlsProtocolError, "a Certificate message cut short");
  }
  for (ByteReader certificate, extensions; list.prefixed(3, certificate);) {
    flight_.certificates.emplace_back(certificate.rest().begin(), certificate.rest().end());
    if (tls13 && !list.prefixed(2, extensions)) return fail(ErrorCode::kTlsProtocolError, "a certificate entry cut short");
  }
  return FlightStatus::kNeedMore;
}

}  // namespace mitmscope
