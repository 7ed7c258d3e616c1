// ClientHellos byte by byte, for tests: the fields a fingerprint reads, in the order given.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mitmscope::testing {

struct HelloSpec {
  uint16_t record_version = 0x0301;
  uint16_t legacy_version = 0x0303;
  std::vector<uint16_t> ciphers;
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> extensions;   // type, body
};

inline void put16(std::vector<uint8_t>& out, size_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

inline std::vector<uint8_t> u16_list_body(const std::vector<uint16_t>& values, bool one_byte_length = false) {
  std::vector<uint8_t> body;
  if (one_byte_length) {
    body.push_back(static_cast<uint8_t>(values.size() * 2));
  } else {
    put16(body, values.size() * 2);
  }
  for (uint16_t value : values) put16(body, value);
  return body;
}

inline std::vector<uint8_t> sni_body(const std::string& name) {
  std::vector<uint8_t> body;
  put16(body, name.size() + 3);
  body.push_back(0);
  put16(body, name.size());
  body.insert(body.end(), name.begin(), name.end());
  return body;
}

inline std::vector<uint8_t> alpn_body(const std::vector<std::string>& protocols) {
  std::vector<uint8_t> list;
  for (const auto& protocol : protocols) {
    list.push_back(static_cast<uint8_t>(protocol.size()));
    list.insert(list.end(), protocol.begin(), protocol.end());
  }
  std::vector<uint8_t> body;
  put16(body, list.size());
  body.insert(body.end(), list.begin(), list.end());
  return body;
}

// The handshake message in one record, or split into records of at most `record_size` bytes.
inline std::vector<uint8_t> client_hello_bytes(const HelloSpec& spec, size_t record_size = 0) {
  std::vector<uint8_t> body;
  put16(body, spec.legacy_version);
  body.insert(body.end(), 32, 0x11);   // random
  body.push_back(32);                  // session id
  body.insert(body.end(), 32, 0x22);
  put16(body, spec.ciphers.size() * 2);
  for (uint16_t cipher : spec.ciphers) put16(body, cipher);
  body.push_back(1);
  body.push_back(0);                   // null compression
  std::vector<uint8_t> extensions;
  for (const auto& [type, data] : spec.extensions) {
    put16(extensions, type);
    put16(extensions, data.size());
    extensions.insert(extensions.end(), data.begin(), data.end());
  }
  put16(body, extensions.size());
  body.insert(body.end(), extensions.begin(), extensions.end());
  std::vector<uint8_t> message = {1, static_cast<uint8_t>(body.size() >> 16), static_cast<uint8_t>(body.size() >> 8),
                                  static_cast<uint8_t>(body.size())};
  message.insert(message.end(), body.begin(), body.end());
  if (record_size == 0) record_size = message.size();
  std::vector<uint8_t> stream;
  for (size_t offset = 0; offset < message.size(); offset += record_size) {
    const size_t length = std::min(record_size, message.size() - offset);
    stream.push_back(0x16);
    put16(stream, spec.record_version);
    put16(stream, length);
    stream.insert(stream.end(), message.begin() + static_cast<std::ptrdiff_t>(offset),
                  message.begin() + static_cast<std::ptrdiff_t>(offset + length));
  }
  return stream;
}

// Chrome 143 on Android as browserleaks.com recorded it (ja3_text, ja4_ro of that record), GREASE added
// where Chrome puts it (first cipher, first and last extension, first group and version).
inline HelloSpec chrome_143() {
  HelloSpec spec;
  spec.ciphers = {0x3a3a, 4865, 4866, 4867, 49195, 49199, 49196, 49200, 52393, 52392, 49171, 49172, 156, 157, 47, 53};
  const std::vector<uint16_t> order = {45, 51, 16, 65037, 23, 17613, 0, 11, 10, 43, 65281, 35, 18, 5, 13, 27};
  spec.extensions.push_back({0x5a5a, {}});
  for (uint16_t type : order) {
    std::vector<uint8_t> body;
    switch (type) {
      case 0: body = sni_body("tls.browserleaks.com"); break;
      case 10: body = u16_list_body({0x8a8a, 4588, 29, 23, 24}); break;
      case 11: body = {1, 0}; break;
      case 13: body = u16_list_body({0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}); break;
      case 16: body = alpn_body({"h2", "http/1.1"}); break;
      case 43: body = u16_list_body({0x9a9a, 0x0304, 0x0303}, true); break;
      default: break;
    }
    spec.extensions.push_back({type, body});
  }
  spec.extensions.push_back({0xaaaa, {0}});
  return spec;
}

}  // namespace mitmscope::testing
