#include "sentinel/http2.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <string>
#include <vector>

namespace mitmscope {
namespace {

// nghttp2's client side in memory: what a browser (or an interceptor) sends, and what it makes of the answer.
struct Client {
  nghttp2_session* session = nullptr;
  int status = 0;
  std::string body;
  bool goaway = false;

  Client() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(
        callbacks, [](nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t name_length, const uint8_t* value,
                      size_t value_length, uint8_t, void* data) {
          if (std::string_view(reinterpret_cast<const char*>(name), name_length) == ":status") {
            static_cast<Client*>(data)->status = std::stoi(std::string(reinterpret_cast<const char*>(value), value_length));
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        callbacks, [](nghttp2_session*, uint8_t, int32_t, const uint8_t* data, size_t length, void* self) {
          static_cast<Client*>(self)->body.append(reinterpret_cast<const char*>(data), length);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* self) {
      if (frame->hd.type == NGHTTP2_GOAWAY) static_cast<Client*>(self)->goaway = true;
      return 0;
    });
    nghttp2_session_client_new(&session, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session); }

  void request(std::vector<std::pair<std::string, std::string>> headers) {
    std::vector<nghttp2_nv> list;
    for (auto& [name, value] : headers) {
      list.push_back({reinterpret_cast<uint8_t*>(name.data()), reinterpret_cast<uint8_t*>(value.data()), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_submit_request(session, nullptr, list.data(), list.size(), nullptr, nullptr);
  }
  std::vector<uint8_t> output() {
    std::vector<uint8_t> out;
    const uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session, &data)) > 0;) out.insert(out.end(), data, data + n);
    return out;
  }
  void input(const std::vector<uint8_t>& bytes) { nghttp2_session_mem_recv(session, bytes.data(), bytes.size()); }
};

// Serves `incoming` (read in chunks of `chunk` bytes) and returns what the server wrote.
Result<Http2Request> serve(const std::vector<uint8_t>& incoming, std::vector<uint8_t>& written, size_t chunk = 7) {
  size_t offset = 0;
  return serve_http2_request(
      [&](std::span<uint8_t> buffer) -> ssize_t {
        const size_t count = std::min({chunk, buffer.size(), incoming.size() - offset});
        std::memcpy(buffer.data(), incoming.data() + offset, count);
        offset += count;
        return static_cast<ssize_t>(count);
      },
      [&](std::span<const uint8_t> bytes) {
        written.insert(written.end(), bytes.begin(), bytes.end());
        return true;
      },
      [](const Http2Request& request) { return "{\"seen\":\"" + request.user_agent.value_or("none") + "\"}"; });
}

TEST(Http2, ReadsTheUserAgentOfTheFirstRequestAndAnswersIt) {
  Client client;
  client.request({{":method", "GET"}, {":scheme", "https"}, {":authority", "provider.lab"}, {":path", "/"},
                  {"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}});
  std::vector<uint8_t> written;
  const auto request = serve(client.output(), written);
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->method, "GET");
  EXPECT_EQ(request->authority, "provider.lab");
  EXPECT_EQ(request->user_agent, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
  client.input(written);
  EXPECT_EQ(client.status, 200);
  EXPECT_EQ(client.body, R"({"seen":"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})");
  EXPECT_TRUE(client.goaway);
}

TEST(Http2, NoUserAgentIsNoneAndAnswered) {
  Client client;
  client.request({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/x"}});
  std::vector<uint8_t> written;
  const auto request = serve(client.output(), written, 4096);
  ASSERT_TRUE(request);
  EXPECT_FALSE(request->user_agent);
  client.input(written);
  EXPECT_EQ(client.body, R"({"seen":"none"})");
}

TEST(Http2, NotHttp2OrCutShortIsAnError) {
  std::vector<uint8_t> written;
  const std::string http1 = "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/7.88.1\r\n\r\n";
  EXPECT_FALSE(serve({http1.begin(), http1.end()}, written));
  Client client;
  client.request({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}});
  auto bytes = client.output();
  bytes.resize(bytes.size() - 3);  // the HEADERS frame cut: never whole
  const auto cut = serve(bytes, written);
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().message.find("before a whole request"), std::string::npos) << cut.error().message;
}

TEST(Http2, HeadersBeyondTheBoundAreRefused) {
  Client client;
  client.request({{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"},
                  {"x-padding", std::string(kMaxHttp2HeaderBytes + 10, 'a')}, {"user-agent", "late"}});
  std::vector<uint8_t> written;
  const auto request = serve(client.output(), written, 4096);
  EXPECT_FALSE(request && request->user_agent == "late");
}

}  // namespace
}  // namespace mitmscope
