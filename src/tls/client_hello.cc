#include "tls/client_hello.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/byte_reader.h"

namespace mitmscope {
namespace {

constexpr uint8_t kHandshakeRecord = 0x16;
constexpr uint8_t kClientHelloMessage = 1;


// A list of 16-bit values behind a length prefix of `prefix` bytes (1 or 2); a list cut short keeps what arrived.
std::vector<uint16_t> u16_list(std::span<const uint8_t> data, size_t prefix) {
  std::vector<uint16_t> values;
  ByteReader reader(data);
  uint8_t short_length = 0;
  uint16_t length = 0;
  if (prefix == 1 ? !reader.u8(short_length) : !reader.u16(length)) return values;
  ByteReader list = reader.take_at_most(prefix == 1 ? short_length : length);
  for (uint16_t value = 0; list.u16(value);) values.push_back(value);
  return values;
}

std::optional<std::string> server_name(std::span<const uint8_t> data) {
  ByteReader reader(data);
  uint8_t name_type = 0;
  std::span<const uint8_t> name;
  if (!reader.skip(2) || !reader.u8(name_type) || name_type != 0) return std::nullopt;  // list length, host_name
  ByteReader name_reader;
  if (!reader.prefixed(2, name_reader)) return std::nullopt;
  name = name_reader.rest();
  return std::string(name.begin(), name.end());
}

std::vector<std::string> alpn_names(std::span<const uint8_t> data) {
  std::vector<std::string> names;
  ByteReader reader(data);
  uint16_t list_length = 0;
  if (!reader.u16(list_length)) return names;
  ByteReader list = reader.take_at_most(list_length);
  for (ByteReader name; list.prefixed(1, name);) names.emplace_back(name.rest().begin(), name.rest().end());
  return names;
}

void parse_extension(ClientHello& hello, uint16_t type, std::span<const uint8_t> data) {
  switch (type) {
    case 0:
      if (auto name = server_name(data)) hello.server_name = std::move(*name);
      break;
    case 10:
      hello.supported_groups = u16_list(data, 2);
      break;
    case 11: {
      ByteReader reader(data);
      uint8_t length = 0;
      if (reader.u8(length)) {
        const auto formats = reader.take_at_most(length).rest();
        hello.ec_point_formats.assign(formats.begin(), formats.end());
      }
      break;
    }
    case 13:
      hello.signature_algorithms = u16_list(data, 2);
      break;
    case 16:
      hello.alpn = alpn_names(data);
      break;
    case 43:
      hello.supported_versions = u16_list(data, 1);
      break;
    default:
      break;
  }
}

// The handshake bytes of the consecutive handshake records at the start of `stream` (the last one may be cut).
std::vector<uint8_t> handshake_bytes(std::span<const uint8_t> stream) {
  std::vector<uint8_t> handshake;
  ByteReader reader(stream);
  uint16_t length = 0;
  while (reader.peek() == kHandshakeRecord && reader.skip(3) && reader.u16(length)) {
    const auto body = reader.take_at_most(length).rest();
    handshake.insert(handshake.end(), body.begin(), body.end());
  }
  return handshake;
}

// Extensions in order, until the list ends or the bytes that arrived do; false when one was cut.
bool read_extensions(ByteReader& reader, ClientHello& hello) {
  uint16_t list_length = 0;
  if (!reader.u16(list_length)) return true;
  ByteReader list = reader.take_at_most(list_length);
  uint16_t type = 0, length = 0;
  while (list.remaining() >= 4) {
    std::span<const uint8_t> data;
    if (!list.u16(type) || !list.u16(length) || !list.bytes(length, data)) return false;
    hello.extensions.push_back(type);
    parse_extension(hello, type, data);
  }
  return true;
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
  ByteReader record(stream);
  ClientHello hello;
  if (record.peek() != kHandshakeRecord || !record.skip(1) || !record.u16(hello.record_version) || !record.skip(2)) {
    return fail("not a TLS handshake record");
  }
  const std::vector<uint8_t> handshake = handshake_bytes(stream);
  ByteReader header(handshake);
  uint8_t type = 0;
  uint32_t body_length = 0;
  if (!header.u8(type) || !header.u24(body_length) || type != kClientHelloMessage) {
    return fail("first handshake message is not a ClientHello");
  }
  ByteReader message = header.take_at_most(body_length);
  const bool whole = message.remaining() == body_length;
  ByteReader session_id, suites, compression;
  if (!message.u16(hello.legacy_version) || !message.skip(32) || !message.prefixed(1, session_id)) {
    return fail("truncated before the session id");
  }
  if (message.remaining() < 2) return fail("truncated before the cipher suites");
  if (!message.prefixed(2, suites)) return fail("truncated cipher suites");
  for (uint16_t suite = 0; suites.u16(suite);) hello.cipher_suites.push_back(suite);
  if (message.empty()) return fail("truncated before compression methods");
  if (!message.prefixed(1, compression)) return hello;  // cut inside the compression methods: not complete
  const bool complete_extensions = read_extensions(message, hello);
  hello.complete = whole && complete_extensions;
  return hello;
}

ClientHelloExtent client_hello_extent(std::span<const uint8_t> stream, size_t limit) {
  size_t offset = 0;
  size_t handshake_seen = 0;
  std::optional<size_t> message_length;
  while (true) {
    if (offset + 5 > stream.size()) return {ClientHelloProgress::kNeedMore, offset};
    ByteReader header(stream.subspan(offset, 5));
    uint8_t content_type = 0, major = 0;
    uint16_t record_length = 0;
    header.u8(content_type), header.u8(major), header.skip(1), header.u16(record_length);
    if (content_type != kHandshakeRecord || major != 3) return {ClientHelloProgress::kNotTls, offset};
    const size_t available = std::min<size_t>(record_length, stream.size() - offset - 5);
    // The handshake header may itself be split across records; read it once 4 bytes are in.
    if (!message_length) {
      if (handshake_seen == 0 && available > 0 && stream[offset + 5] != kClientHelloMessage) {
        return {ClientHelloProgress::kNotTls, offset};
      }
      if (handshake_seen + available >= 4) {
        const auto prefix = handshake_bytes(stream.first(offset + 5 + available));
        ByteReader message_header(prefix);
        uint32_t body_length = 0;
        message_header.skip(1), message_header.u24(body_length);
        message_length = 4 + size_t(body_length);
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
