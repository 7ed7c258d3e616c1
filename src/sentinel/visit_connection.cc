#include "sentinel/visit_connection.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include <fmt/format.h>

#include "tls/client_hello.h"
#include "x509/openssl_ptr.h"

namespace mitmscope {
namespace {

constexpr size_t kMaxRequestHead = 16 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
// Read per readable event at most this much, so one fast client does not hold up the loop's others.
constexpr size_t kMaxReadPerEvent = 256 * 1024;
// How long a connection whose answer is sent waits for the client to close before closing it.
constexpr auto kLinger = std::chrono::seconds(1);

std::string openssl_error() {
  return ERR_peek_error() == 0 ? "the peer closed or reset the connection" : take_openssl_error();
}

bool head_complete(const std::string& head) {
  return head.find("\r\n\r\n") != std::string::npos || head.find("\n\n") != std::string::npos;
}

}  // namespace

std::optional<std::string> user_agent_of(std::string_view head) {
  size_t line_start = head.find('\n');
  while (line_start != std::string_view::npos && line_start + 1 < head.size()) {
    const size_t begin = line_start + 1;
    size_t end = head.find('\n', begin);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the head
    constexpr std::string_view kName = "user-agent:";
    if (line.size() >= kName.size() &&
        std::equal(kName.begin(), kName.end(), line.begin(), [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      return std::string(value);
    }
    line_start = end;
  }
  return std::nullopt;
}

VisitConnection::VisitConnection(UniqueFd fd, Visit visit, Limits limits, SSL_CTX* context, const VisitHandler& handler,
                                 ListenerStats& stats)
    : fd_(std::move(fd)), visit_(std::move(visit)), limits_(limits), context_(context), handler_(handler), stats_(stats) {}

VisitConnection::~VisitConnection() = default;

void VisitConnection::on_readable() {
  uint8_t buffer[kReadChunk];
  for (size_t total = 0; wants_read() && total < kMaxReadPerEvent;) {
    const ssize_t got = ::recv(fd_.get(), buffer, sizeof buffer, 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (got <= 0) return peer_closed();
    total += static_cast<size_t>(got);
    received({buffer, static_cast<size_t>(got)});
  }
}

void VisitConnection::on_writable() {
  while (!pending_.empty()) {
    const ssize_t sent = ::send(fd_.get(), pending_.data(), pending_.size(), MSG_NOSIGNAL);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (sent <= 0) {
      pending_.clear();
      stage_ = Stage::kDone;
      return;
    }
    pending_.erase(0, static_cast<size_t>(sent));
  }
  if (stage_ == Stage::kFlush) flushed();
}

void VisitConnection::flushed() {
  if (!ssl_ || ::shutdown(fd_.get(), SHUT_WR) != 0) {
    stage_ = Stage::kDone;
    return;
  }
  linger_until_ = std::min(Clock::now() + kLinger, limits_.deadline);   // past the deadline: closed at the next sweep
  stage_ = Stage::kLinger;
}

VisitConnection::Clock::time_point VisitConnection::deadline() const {
  switch (stage_) {
    case Stage::kHello: return limits_.hello_deadline;
    case Stage::kLinger: return linger_until_;
    default: return limits_.deadline;
  }
}

void VisitConnection::received(std::span<const uint8_t> bytes) {
  switch (stage_) {
    case Stage::kHello: return hello_bytes(bytes);
    case Stage::kHandshake:
      BIO_write(input_, bytes.data(), static_cast<int>(bytes.size()));
      return handshake();
    case Stage::kRequest:
      BIO_write(input_, bytes.data(), static_cast<int>(bytes.size()));
      return read_request();
    case Stage::kFlush:
    case Stage::kLinger:   // dropped: the answer is sent
    case Stage::kDone: return;
  }
}

void VisitConnection::peer_closed() {
  switch (stage_) {
    case Stage::kHello:
      ++stats_.closed_before_hello;
      stage_ = Stage::kDone;
      return;
    case Stage::kHandshake:
      ++stats_.handshake_failures;
      return finish("handshake: the peer closed or reset the connection", false);
    case Stage::kRequest:
      if (http2_) return finish("HTTP/2: the connection ended before a whole request", false);
      return head_.empty() ? finish("no HTTP request after the handshake", false) : answer_http1();
    case Stage::kFlush:
    case Stage::kLinger:
    case Stage::kDone:
      stage_ = Stage::kDone;
      return;
  }
}

void VisitConnection::expire() {
  switch (stage_) {
    case Stage::kHello:
      ++stats_.hello_timeouts;
      stage_ = Stage::kDone;
      return;
    case Stage::kHandshake:
      ++stats_.request_timeouts;
      ++stats_.handshake_failures;
      return finish("handshake: timed out", false);
    case Stage::kRequest:
      ++stats_.request_timeouts;
      if (http2_) return finish("HTTP/2: timed out before a whole request", false);
      visit_.user_agent = user_agent_of(head_);
      return finish(head_.empty() ? std::optional<std::string>("no HTTP request after the handshake") : std::nullopt, false);
    case Stage::kFlush:
    case Stage::kLinger:
    case Stage::kDone:
      stage_ = Stage::kDone;
      return;
  }
}

void VisitConnection::hello_bytes(std::span<const uint8_t> bytes) {
  hello_.insert(hello_.end(), bytes.begin(), bytes.end());
  const ClientHelloExtent extent = client_hello_extent(hello_, limits_.max_hello_bytes);
  if (extent.progress == ClientHelloProgress::kNeedMore) return;
  auto hello = extent.progress == ClientHelloProgress::kComplete
                   ? parse_client_hello(std::span<const uint8_t>(hello_).first(extent.bytes))
                   : make_error(ErrorCode::kNotTls, "not a ClientHello");
  if (!hello) {
    ++stats_.not_client_hello;
    stage_ = Stage::kDone;
    return;
  }
  visit_.hello = std::move(*hello);
  start_tls();
}

void VisitConnection::start_tls() {
  ssl_.reset(SSL_new(context_));
  input_ = BIO_new(BIO_s_mem());
  output_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(input_, -1);   // no more bytes yet: "retry", not end of stream
  BIO_write(input_, hello_.data(), static_cast<int>(hello_.size()));
  SSL_set_bio(ssl_.get(), input_, output_);
  hello_ = {};
  stage_ = Stage::kHandshake;
  handshake();
}

void VisitConnection::handshake() {
  const int result = SSL_accept(ssl_.get());
  if (result == 1) {
    flush();
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(ssl_.get(), &alpn, &alpn_length);
    visit_.http_version = std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) == "h2" ? "h2" : "http/1.1";
    stage_ = Stage::kRequest;
    if (visit_.http_version == "h2") {
      http2_ = std::make_unique<Http2Exchange>();
      request_bytes({});   // the server's SETTINGS go first
    }
    return read_request();
  }
  const int error = SSL_get_error(ssl_.get(), result);
  if (error == SSL_ERROR_WANT_READ) return flush();
  ++stats_.handshake_failures;
  const std::string why = fmt::format("handshake: {}", openssl_error());
  flush();   // the alert, when OpenSSL wrote one
  finish(why, false);
}

void VisitConnection::read_request() {
  uint8_t buffer[kReadChunk];
  while (stage_ == Stage::kRequest) {
    const int got = SSL_read(ssl_.get(), buffer, sizeof buffer);
    if (got > 0) {
      request_bytes({buffer, static_cast<size_t>(got)});
      continue;
    }
    if (SSL_get_error(ssl_.get(), got) == SSL_ERROR_WANT_READ) return flush();
    return peer_closed();   // close_notify or a TLS error: the request ends with what came
  }
}

void VisitConnection::request_bytes(std::span<const uint8_t> bytes) {
  if (!http2_) {
    head_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (head_complete(head_) || head_.size() >= kMaxRequestHead) answer_http1();
    return;
  }
  std::string out;
  auto request = http2_->receive(bytes, out);
  if (!out.empty()) SSL_write(ssl_.get(), out.data(), static_cast<int>(out.size()));
  if (!request) return finish(request.error().message, false);
  if (*request) answer_http2(**request);
}

void VisitConnection::answer_http1() {
  visit_.user_agent = user_agent_of(head_);
  finish(std::nullopt, true);
}

void VisitConnection::answer_http2(const Http2Request& request) {
  visit_.user_agent = request.user_agent;
  ++stats_.visits;
  std::string out;
  if (http2_->respond(handler_(visit_), out)) SSL_write(ssl_.get(), out.data(), static_cast<int>(out.size()));
  SSL_shutdown(ssl_.get());
  stage_ = Stage::kFlush;
  flush();
}

void VisitConnection::finish(const std::optional<std::string>& error, bool answer) {
  if (error) visit_.tls_error = *error;
  ++stats_.visits;
  const std::string body = handler_(visit_);
  if (answer && ssl_) {
    const std::string response = fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                                             "Connection: close\r\nContent-Length: {}\r\n\r\n{}", body.size(), body);
    SSL_write(ssl_.get(), response.data(), static_cast<int>(response.size()));
    SSL_shutdown(ssl_.get());
  }
  stage_ = Stage::kFlush;
  if (ssl_) return flush();
  flushed();
}

void VisitConnection::flush() {
  char buffer[kReadChunk];
  for (int got; output_ && (got = BIO_read(output_, buffer, sizeof buffer)) > 0;) pending_.append(buffer, static_cast<size_t>(got));
  ERR_clear_error();
  on_writable();
}

}  // namespace mitmscope
