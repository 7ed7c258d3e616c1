#include "sentinel/http2.h"

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace mitmscope {
namespace {

constexpr size_t kReadBuffer = 16 * 1024;

struct SessionState {
  Http2Request request;
  int32_t stream = -1;          // the first request's stream; later ones are ignored
  bool complete = false;
  size_t header_bytes = 0;
  std::string body;
  size_t body_sent = 0;
};

SessionState& state_of(void* data) { return *static_cast<SessionState*>(data); }

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* data) {
  auto& state = state_of(data);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST && state.stream < 0) {
    state.stream = frame->hd.stream_id;
  }
  return 0;
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t name_length,
              const uint8_t* value, size_t value_length, uint8_t, void* data) {
  auto& state = state_of(data);
  if (frame->hd.stream_id != state.stream) return 0;
  state.header_bytes += name_length + value_length;
  if (state.header_bytes > kMaxHttp2HeaderBytes) return NGHTTP2_ERR_CALLBACK_FAILURE;
  const std::string_view key(reinterpret_cast<const char*>(name), name_length);
  std::string text(reinterpret_cast<const char*>(value), value_length);
  if (key == ":method") state.request.method = std::move(text);
  if (key == ":path") state.request.path = std::move(text);
  if (key == ":authority") state.request.authority = std::move(text);
  if (key == "user-agent") state.request.user_agent = std::move(text);   // HTTP/2 header names are lower case
  return 0;
}

int on_frame_received(nghttp2_session*, const nghttp2_frame* frame, void* data) {
  auto& state = state_of(data);
  const bool ends_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.stream_id == state.stream && ends_stream &&
      (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)) {
    state.complete = true;
  }
  return 0;
}

ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buffer, size_t length, uint32_t* flags,
                  nghttp2_data_source* source, void*) {
  auto& state = *static_cast<SessionState*>(source->ptr);
  const size_t count = std::min(length, state.body.size() - state.body_sent);
  std::memcpy(buffer, state.body.data() + state.body_sent, count);
  state.body_sent += count;
  if (state.body_sent == state.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(count);
}

using SessionPtr = std::unique_ptr<nghttp2_session, decltype(&nghttp2_session_del)>;

SessionPtr new_server_session(SessionState& state) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_received);
  nghttp2_session* session = nullptr;
  nghttp2_session_server_new(&session, callbacks, &state);
  nghttp2_session_callbacks_del(callbacks);
  return {session, &nghttp2_session_del};
}

nghttp2_nv header(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// Everything nghttp2 has to send, appended to `out`.
bool drain(nghttp2_session* session, std::string& out) {
  while (true) {
    const uint8_t* data = nullptr;
    const ssize_t count = nghttp2_session_mem_send(session, &data);
    if (count < 0) return false;
    if (count == 0) return true;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(count));
  }
}

}  // namespace

struct Http2Exchange::State {
  SessionState session_state;
  SessionPtr session{nullptr, &nghttp2_session_del};
  size_t received = 0;
  bool answered = false;
};

Http2Exchange::Http2Exchange() : state_(std::make_unique<State>()) {
  state_->session = new_server_session(state_->session_state);
  if (!state_->session) return;
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1}};
  nghttp2_submit_settings(state_->session.get(), NGHTTP2_FLAG_NONE, settings, 1);
}

Http2Exchange::~Http2Exchange() = default;

Result<std::optional<Http2Request>> Http2Exchange::receive(std::span<const uint8_t> bytes, std::string& out) {
  nghttp2_session* session = state_->session.get();
  if (!session) return make_error(ErrorCode::kCryptoError, "HTTP/2: cannot create a session");
  state_->received += bytes.size();
  if (!bytes.empty()) {
    const ssize_t used = nghttp2_session_mem_recv(session, bytes.data(), bytes.size());
    if (used < 0) return make_error(ErrorCode::kTlsProtocolError, fmt::format("HTTP/2: {}", nghttp2_strerror(static_cast<int>(used))));
  }
  if (!drain(session, out)) return make_error(ErrorCode::kNetworkError, "HTTP/2: the session cannot send");
  if (state_->session_state.complete) return std::optional<Http2Request>(state_->session_state.request);
  if (state_->received >= kMaxHttp2InputBytes) {
    return make_error(ErrorCode::kTlsProtocolError, fmt::format("HTTP/2: {} bytes without a whole request", state_->received));
  }
  return std::optional<Http2Request>();
}

bool Http2Exchange::respond(std::string body, std::string& out) {
  nghttp2_session* session = state_->session.get();
  SessionState& state = state_->session_state;
  if (!session || !state.complete || state_->answered) return false;
  state_->answered = true;
  state.body = std::move(body);
  const std::string length = std::to_string(state.body.size());
  const nghttp2_nv headers[] = {header(":status", "200"), header("content-type", "application/json"),
                                header("cache-control", "no-store"), header("content-length", length)};
  nghttp2_data_provider provider{};
  provider.source.ptr = &state;
  provider.read_callback = read_body;
  nghttp2_submit_response(session, state.stream, headers, std::size(headers), &provider);
  // The answer first, then GOAWAY: nghttp2 sends control frames before DATA, and some clients (Java's
  // HttpClient) give up on a stream whose body follows a GOAWAY.
  if (!drain(session, out)) return false;
  nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, state.stream, NGHTTP2_NO_ERROR, nullptr, 0);
  return drain(session, out);
}

Result<Http2Request> serve_http2_request(const Http2Read& read, const Http2Write& write, const Http2Answer& answer) {
  Http2Exchange exchange;
  const auto send = [&](std::string& out) {
    const bool sent = out.empty() || write({reinterpret_cast<const uint8_t*>(out.data()), out.size()});
    out.clear();
    return sent;
  };
  std::string out;
  std::vector<uint8_t> buffer(kReadBuffer);
  auto request = exchange.receive({}, out);
  while (request && !*request) {
    if (!send(out)) return make_error(ErrorCode::kNetworkError, "HTTP/2: cannot write to the client");
    const ssize_t got = read(buffer);
    if (got <= 0) return make_error(ErrorCode::kClosedDuringHandshake, "HTTP/2: the connection ended before a whole request");
    request = exchange.receive(std::span<const uint8_t>(buffer).first(static_cast<size_t>(got)), out);
  }
  if (!request) return std::unexpected(request.error());
  if (send(out) && exchange.respond(answer(**request), out)) send(out);
  return **request;
}

}  // namespace mitmscope
