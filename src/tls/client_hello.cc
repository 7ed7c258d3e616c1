#include "tls/client_hello.h"

#include <algorithm>

#include <fmt/format.h>

namespace mitmscope {
namespace {

uint16_t u16(std::span<const uint8_t> data, size_t offset) {
  return static_cast<uint16_t>(data[offset] << 8 | data[offset + 1]);
}

size_t u24(std::span<const uint8_t> data, size_t offset) {
  return size_t(data[offset]) << 16 | size_t(data[offset + 1]) << 8 | data[offset + 2];
}

// A list of 16-bit values behind a length prefix of `prefix` bytes (1 or 2).
std::vector<uint16_t> u16_list(std::span<const uint8_t> data, size_t prefix) {
  std::vector<uint16_t> values;
  if (data.size() < prefix) return values;
  const size_t length = prefix == 1 ? data[0] : u16(data, 0);
  const size_t end = std::min(data.size(), prefix + length);
  for (size_t i = prefix; i + 1 < end; i += 2) values.push_back(u16(data, i));
  return values;
}

void parse_extension(ClientHello& hello, uint16_t type, std::span<const uint8_t> data) {
  switch (type) {
    case 0:  // server_name: list length, type host_name, name
      if (data.size() >= 5 && data[2] == 0) {
        const size_t name_length = u16(data, 3);
        if (5 + name_length <= data.size()) hello.server_name = std::string(data.begin() + 5, data.begin() + 5 + static_cast<std::ptrdiff_t>(name_length));
      }
      break;
    case 10:
      hello.supported_groups = u16_list(data, 2);
      break;
    case 11:
      if (!data.empty()) {
        const size_t end = std::min(data.size(), size_t(1) + data[0]);
        hello.ec_point_formats.assign(data.begin() + 1, data.begin() + static_cast<std::ptrdiff_t>(end));
      }
      break;
    case 13:
      hello.signature_algorithms = u16_list(data, 2);
      break;
    case 16:  // ALPN: list length, then length-prefixed names
      if (data.size() >= 2) {
        const size_t end = std::min(data.size(), size_t(2) + u16(data, 0));
        for (size_t i = 2; i < end;) {
          const size_t length = data[i];
          if (i + 1 + length > end) break;
          hello.alpn.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(i + 1),
                                  data.begin() + static_cast<std::ptrdiff_t>(i + 1 + length));
          i += 1 + length;
        }
      }
      break;
    case 43:
      hello.supported_versions = u16_list(data, 1);
      break;
    default:
      break;
  }
}

// The handshake bytes of the consecutive handshake records at the start of `stream`.
std::vector<uint8_t> handshake_bytes(std::span<const uint8_t> stream) {
  std::vector<uint8_t> handshake;
  size_t offset = 0;
  while (offset + 5 <= stream.size() && stream[offset] == 0x16) {
    const size_t length = u16(stream, offset + 3);
    const size_t available = std::min(length, stream.size() - offset - 5);
    handshake.insert(handshake.end(), stream.begin() + static_cast<std::ptrdiff_t>(offset + 5),
                     stream.begin() + static_cast<std::ptrdiff_t>(offset + 5 + available));
    offset += 5 + length;
  }
  return handshake;
}

}  // namespace

bool sends_grease(const ClientHello& hello) {
  return std::ranges::any_of(hello.cipher_suites, is_grease) || std::ranges::any_of(hello.extensions, is_grease);
}

uint16_t highest_offered_version(const ClientHello& hello) {
  uint16_t highest = 0;
  for (uint16_t version : hello.supported_versions) {
    if (!is_grease(version)) highest = std::max(highest, version);
  }
  return highest != 0 ? highest : hello.legacy_version;
}

Result<ClientHello> parse_client_hello(std::span<const uint8_t> stream) {
  auto fail = [](std::string_view why) { return make_error(ErrorCode::kParseError, fmt::format("ClientHello: {}", why)); };
  if (stream.size() < 5 || stream[0] != 0x16) return fail("not a TLS handshake record");
  ClientHello hello;
  hello.record_version = u16(stream, 1);
  const std::vector<uint8_t> handshake = handshake_bytes(stream);
  std::span<const uint8_t> message(handshake);
  if (message.size() < 4 || message[0] != 1) return fail("first handshake message is not a ClientHello");
  const size_t declared = 4 + u24(message, 1);
  if (message.size() >= declared) message = message.first(declared);
  size_t position = 4;
  auto need = [&](size_t count) { return position + count <= message.size(); };
  if (!need(2 + 32 + 1)) return fail("truncated before the session id");
  hello.legacy_version = u16(message, position);
  position += 2 + 32;
  position += 1 + message[position];  // session id
  if (!need(2)) return fail("truncated before the cipher suites");
  const size_t suites_length = u16(message, position);
  position += 2;
  if (!need(suites_length)) return fail("truncated cipher suites");
  for (size_t i = 0; i + 1 < suites_length; i += 2) hello.cipher_suites.push_back(u16(message, position + i));
  position += suites_length;
  if (!need(1)) return fail("truncated before compression methods");
  position += 1 + message[position];
  if (!need(2)) {  // no extensions (legal), or the segment ended here
    hello.complete = position >= declared || message.size() >= declared;
    return hello;
  }
  const size_t extensions_end = std::min(message.size(), position + 2 + u16(message, position));
  position += 2;
  bool cut = false;
  while (position + 4 <= extensions_end) {
    const uint16_t type = u16(message, position);
    const size_t length = u16(message, position + 2);
    position += 4;
    if (position + length > message.size()) {  // the rest did not arrive in this segment
      cut = true;
      break;
    }
    hello.extensions.push_back(type);
    parse_extension(hello, type, message.subspan(position, length));
    position += length;
  }
  hello.complete = !cut && message.size() >= declared;
  return hello;
}

ClientHelloExtent client_hello_extent(std::span<const uint8_t> stream, size_t limit) {
  size_t offset = 0;
  size_t handshake_seen = 0;
  std::optional<size_t> message_length;
  while (true) {
    if (offset + 5 > stream.size()) return {ClientHelloProgress::kNeedMore, offset};
    if (stream[offset] != 0x16 || stream[offset + 1] != 0x03) return {ClientHelloProgress::kNotTls, offset};
    const size_t record_length = u16(stream, offset + 3);
    const size_t available = std::min(record_length, stream.size() - offset - 5);
    // The handshake header may itself be split across records; read it once 4 bytes are in.
    if (!message_length) {
      if (handshake_seen == 0 && available > 0 && stream[offset + 5] != 1) return {ClientHelloProgress::kNotTls, offset};
      if (handshake_seen + available >= 4) {
        const auto prefix = handshake_bytes(stream.first(offset + 5 + available));
        message_length = 4 + u24(prefix, 1);
        if (*message_length > limit) return {ClientHelloProgress::kTooLarge, offset};
      }
    }
    handshake_seen += available;
    if (available < record_length) return {ClientHelloProgress::kNeedMore, offset + 5 + available};
    offset += 5 + record_length;
    if (message_length && handshake_seen >= *message_length) return {ClientHelloProgress::kComplete, offset};
    if (offset > limit + 5 * 64) return {ClientHelloProgress::kTooLarge, offset};
  }
}

}  // namespace mitmscope
