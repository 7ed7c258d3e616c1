#include "engine/first_flight_handshake.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "engine/openssl_handshake.h"

namespace mitmscope {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr uint16_t kTls13 = 0x0304;
// A close_notify alert in a TLS 1.2 record: before ChangeCipherSpec a client's alerts are in the clear.
constexpr std::array<uint8_t, 7> kCloseNotify = {0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00};

}  // namespace

FirstFlightHandshake::FirstFlightHandshake(const FirstFlightOptions& options, Observation& observation)
    : options_(options), observation_(observation) {
  const auto& versions = options_.profile->versions;
  if (!versions.empty()) {
    observation_.min_version = *std::ranges::min_element(versions);
    observation_.max_version = *std::ranges::max_element(versions);
  } else {
    observation_.min_version = observation_.max_version = options_.profile->legacy_version;
  }
}

Result<void> FirstFlightHandshake::build_first() {
  const HelloStrategy* strategy = options_.strategy;
  HelloRequest request{.server_name = observation_.sni};
  if (strategy) {
    request.server_name = apply_name_case(observation_.sni, strategy->name_case);
    request.alpn = strategy->alpn;
  }
  auto built = build_client_hello(*options_.profile, request);
  if (!built) return std::unexpected(built.error());
  hello_ = std::move(*built);
  reader_.emplace(*hello_);
  pending_ = hello_->record;
  const size_t cut = name_cut(hello_->server_name_at, request.server_name.size());
  if (!strategy || cut == 0 || pending_.size() != hello_->message.size() + 5) return {};   // nothing to cut, or records already
  if (strategy->split == HelloSplit::kTcpSegments) {
    segment_cut_ = cut;
    const int enable = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &enable, sizeof enable);   // each send leaves as its own segment
  } else if (strategy->split == HelloSplit::kRecords) {
    const uint16_t version = static_cast<uint16_t>(pending_[1] << 8 | pending_[2]);
    pending_ = handshake_records(hello_->message, version, cut - 5);
  }
  return {};
}

HandshakeStep FirstFlightHandshake::begin(int fd) {
  fd_ = fd;
  if (auto built = build_first(); !built) return HandshakeStep::done(built.error());
  return send_pending();
}

HandshakeStep FirstFlightHandshake::step() { return sent_ < pending_.size() ? send_pending() : read_flight(); }

HandshakeStep FirstFlightHandshake::send_pending() {
  while (sent_ < pending_.size()) {
    const size_t end = sent_ < segment_cut_ ? segment_cut_ : pending_.size();
    const ssize_t sent = ::send(fd_, pending_.data() + sent_, end - sent_, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return HandshakeStep::writable();
    if (sent < 0) return HandshakeStep::done(handshake_socket_error(errno, observation_));
    sent_ += static_cast<size_t>(sent);
  }
  return read_flight();
}

HandshakeStep FirstFlightHandshake::read_flight() {
  std::array<uint8_t, kReadChunk> buffer;
  for (size_t budget = kStepReadBytes; budget > 0;) {
    const ssize_t got = ::recv(fd_, buffer.data(), std::min(buffer.size(), budget), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return HandshakeStep::readable();
    if (got <= 0) return HandshakeStep::done(handshake_socket_error(got == 0 ? 0 : errno, observation_));
    const auto bytes = std::span(buffer).first(static_cast<size_t>(got));
    const size_t keep = std::min(bytes.size(), head_.size() - head_size_);
    std::memcpy(head_.data() + head_size_, bytes.data(), keep);
    head_size_ += keep;
    budget -= bytes.size();
    received_ += bytes.size();
    if (received_ > kHandshakeReadLimit) {
      return HandshakeStep::done(Error{ErrorCode::kTlsProtocolError,
                                       fmt::format("the server sent more than {} MiB without ending its first flight",
                                                   kHandshakeReadLimit >> 20)});
    }
    const HandshakeStep next = on_status(reader_->feed(bytes));
    if (next.wait != HandshakeStep::Wait::kReadable) return next;
  }
  return HandshakeStep::readable();   // the budget is spent; the socket is still readable, so this comes back at once
}

HandshakeStep FirstFlightHandshake::on_status(FlightStatus status) {
  if (!observation_.server_hello && reader_->flight().server_hello && !reader_->flight().server_hello->hello_retry_request) {
    observation_.server_hello = reader_->flight().server_hello;   // a timeout from here says "ServerHello received"
  }
  switch (status) {
    case FlightStatus::kNeedMore: return HandshakeStep::readable();
    case FlightStatus::kHelloRetry: return answer_retry();
    case FlightStatus::kFailed: return failed(reader_->error());
    case FlightStatus::kDone:
      read_ = true;
      observation_.handshake_complete = true;
      return HandshakeStep::done();
  }
  return HandshakeStep::done();
}

HandshakeStep FirstFlightHandshake::answer_retry() {
  auto asked = retry_request(*reader_->flight().server_hello);
  auto second = asked ? retry_client_hello(*hello_, asked->group, asked->cookie) : Result<BuiltClientHello>(std::unexpected(asked.error()));
  if (!second) return failed(second.error());
  retried_ = std::move(*second);
  pending_ = retried_->record;
  sent_ = segment_cut_ = 0;
  const FlightStatus status = reader_->retry(*retried_);   // reads on from what arrived after the request
  if (status != FlightStatus::kNeedMore) return on_status(status);
  return send_pending();
}

HandshakeStep FirstFlightHandshake::failed(const Error& error) {
  const auto& flight = reader_->flight();
  if (flight.alert) {
    observation_.alert_received = flight.alert;
    return HandshakeStep::done(Error{ErrorCode::kTlsAlert, fmt::format("server sent TLS alert {} ({})",
                                                                       tls_alert_name(*flight.alert), *flight.alert)});
  }
  return HandshakeStep::done(error);
}

void FirstFlightHandshake::conclude() {
  if (!reader_) return;
  const auto& flight = reader_->flight();
  if (flight.server_hello && !flight.server_hello->hello_retry_request) observation_.server_hello = flight.server_hello;
  if (observation_.server_hello) {
    observation_.cipher_suite_name = cipher_suite_standard_name(observation_.server_hello->cipher_suite);
  }
  observation_.chain_der = flight.certificates;
  if (read_ && observation_.server_hello && observation_.server_hello->selected_version < kTls13) {
    ::send(fd_, kCloseNotify.data(), kCloseNotify.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
}

}  // namespace mitmscope
