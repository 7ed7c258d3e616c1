#include "tls/client_hello.h"

#include <fmt/format.h>

namespace mitmscope {
namespace {

uint16_t u16(std::span<const uint8_t> data, size_t offset) {
  return static_cast<uint16_t>(data[offset] << 8 | data[offset + 1]);
}

}  // namespace

Result<ClientHello> parse_client_hello(std::span<const uint8_t> stream) {
  auto fail = [](std::string_view why) { return make_error(ErrorCode::kParseError, fmt::format("ClientHello: {}", why)); };
  if (stream.size() < 5 || stream[0] != 0x16) return fail("not a TLS handshake record");
  ClientHello hello;
  hello.record_version = u16(stream, 1);
  // Reassemble the handshake bytes of consecutive handshake records that are present.
  std::vector<uint8_t> handshake;
  size_t offset = 0;
  while (offset + 5 <= stream.size() && stream[offset] == 0x16) {
    const size_t length = u16(stream, offset + 3);
    const size_t available = std::min(length, stream.size() - offset - 5);
    handshake.insert(handshake.end(), stream.begin() + static_cast<std::ptrdiff_t>(offset + 5),
                     stream.begin() + static_cast<std::ptrdiff_t>(offset + 5 + available));
    offset += 5 + length;
  }
  const std::span<const uint8_t> message(handshake);
  if (message.size() < 4 || message[0] != 1) return fail("first handshake message is not a ClientHello");
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
  if (!need(2)) return hello;  // no extensions
  const size_t extensions_end = std::min(message.size(), position + 2 + u16(message, position));
  position += 2;
  while (position + 4 <= extensions_end) {
    const uint16_t type = u16(message, position);
    const size_t length = u16(message, position + 2);
    position += 4;
    if (position + length > message.size()) break;  // the rest did not arrive in this segment
    hello.extensions.push_back(type);
    const auto data = message.subspan(position, length);
    if (type == 0 && data.size() >= 5 && data[2] == 0) {  // server_name: list length, type host_name, name
      const size_t name_length = u16(data, 3);
      if (5 + name_length <= data.size()) hello.server_name = std::string(data.begin() + 5, data.begin() + 5 + static_cast<std::ptrdiff_t>(name_length));
    } else if (type == 43 && !data.empty()) {
      for (size_t i = 1; i + 1 < data.size() && i <= data[0]; i += 2) hello.supported_versions.push_back(u16(data, i));
    }
    position += length;
  }
  return hello;
}

}  // namespace mitmscope
