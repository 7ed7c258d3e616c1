// libFuzzer: what a device or a hostile peer controls in the parsers issue 17 added: the bytes a server (or an
// interceptor answering for it) sends instead of TLS, read as a plain answer (first line, HTTP status, headers),
// and the bytes a visitor sends to the sentinel's listener once ALPN chose h2, served as HTTP/2 with libnghttp2,
// delivered in two reads cut where the first byte says.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "core/observation.h"
#include "sentinel/http2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  const auto answer = mitmscope::parse_plain_answer(bytes);
  (void)answer.summary();
  (void)answer.printable_bytes();

  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  size_t offset = 0;
  int reads = 0;
  std::string written;
  (void)mitmscope::serve_http2_request(
      [&](std::span<uint8_t> buffer) -> ssize_t {
        const size_t end = reads++ == 0 ? cut : size;
        const size_t count = std::min(buffer.size(), end - std::min(end, offset));
        if (count == 0 && offset >= size) return 0;
        std::memcpy(buffer.data(), data + offset, count);
        offset += count;
        return static_cast<ssize_t>(count);
      },
      [&](std::span<const uint8_t> out) {
        if (written.size() < (1u << 20)) written.append(reinterpret_cast<const char*>(out.data()), out.size());
        return true;
      },
      [](const mitmscope::Http2Request& request) { return request.user_agent.value_or(""); });
  return 0;
}
