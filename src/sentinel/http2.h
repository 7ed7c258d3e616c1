// One HTTP/2 request on a connection whose TLS handshake chose ALPN "h2", served with libnghttp2:
// the sentinel's listener reads the first request's headers (its User-Agent is what the visit is
// judged against) and answers it with one body, then ends the session (GOAWAY).
//
// Transport-free. `Http2Exchange` is pushed: the event-driven listener hands it the decrypted bytes
// as they come and sends what it produces, so no thread waits on a client. `serve_http2_request`
// pulls the same exchange through `read` and `write` (tests drive it with nghttp2's client side in
// memory). Bounded: at most kMaxHttp2InputBytes received before the request is whole, headers at
// most kMaxHttp2HeaderBytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <sys/types.h>

#include "core/error.h"

namespace mitmscope {

inline constexpr size_t kMaxHttp2InputBytes = 256 * 1024;
inline constexpr size_t kMaxHttp2HeaderBytes = 16 * 1024;

struct Http2Request {
  std::string method;
  std::string path;
  std::string authority;
  std::optional<std::string> user_agent;
};

// Reads decrypted bytes into the buffer: > 0 bytes read, 0 end of stream, < 0 error or deadline.
using Http2Read = std::function<ssize_t(std::span<uint8_t>)>;
// Writes all of the bytes; false when it cannot.
using Http2Write = std::function<bool(std::span<const uint8_t>)>;
// The response body (JSON) for the request.
using Http2Answer = std::function<std::string(const Http2Request&)>;

class Http2Exchange {
 public:
  Http2Exchange();
  ~Http2Exchange();
  Http2Exchange(const Http2Exchange&) = delete;
  Http2Exchange& operator=(const Http2Exchange&) = delete;

  // Bytes from the client: the first request once it is whole (nullopt: not yet); an error when the
  // bytes are not HTTP/2 or exceed the bounds. Whatever the session must send is appended to `out`.
  Result<std::optional<Http2Request>> receive(std::span<const uint8_t> bytes, std::string& out);
  // The answer to the request on its stream, then GOAWAY, appended to `out`; false when the session failed.
  bool respond(std::string body, std::string& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Serves the first request of the session; the request is returned once it was read whole (even when
// the answer could not be sent), an error when it never came whole.
Result<Http2Request> serve_http2_request(const Http2Read& read, const Http2Write& write, const Http2Answer& answer);

}  // namespace mitmscope
