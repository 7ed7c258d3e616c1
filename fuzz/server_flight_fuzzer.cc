// libFuzzer: what a server (or whatever answers in its place) sends back to a measurement's ClientHello: the
// first-flight reader (record layer, handshake reassembly, ServerHello, TLS 1.2 Certificate, the TLS 1.3 key
// exchange and record decryption, a HelloRetryRequest: its group and cookie read, the second ClientHello built
// from the first, the reader continued). The ClientHello is the minimal profile's, built from a fixed seed so its
// X25519 key, and so the keys of a recorded TLS 1.3 flight, are the same on every run. The input is fed whole
// once, and again cut where its first byte says.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tls/client_hello_builder.h"
#include "tls/server_flight.h"

namespace {

const mitmscope::BuiltClientHello& hello() {
  static const auto built = [] {
    uint32_t state = 2019;
    const mitmscope::RandomBytes seeded = [&state](std::span<uint8_t> out) {
      for (auto& byte : out) byte = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
    };
    return mitmscope::build_client_hello(*mitmscope::find_client_hello_profile("minimal").value(), {.server_name = "example.kz"},
                                         seeded).value();
  }();
  return built;
}

// Feeds `bytes`; a HelloRetryRequest is answered as the engine answers it, and the rest fed on.
mitmscope::FlightStatus feed(mitmscope::ServerFlightReader& reader, std::span<const uint8_t> bytes,
                             std::optional<mitmscope::BuiltClientHello>& second) {
  auto status = reader.feed(bytes);
  if (status != mitmscope::FlightStatus::kHelloRetry) return status;
  auto asked = mitmscope::retry_request(*reader.flight().server_hello);
  if (!asked) return mitmscope::FlightStatus::kFailed;
  auto built = mitmscope::retry_client_hello(hello(), asked->group, asked->cookie);
  if (!built) return mitmscope::FlightStatus::kFailed;
  second = std::move(*built);
  return reader.retry(*second);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  std::optional<mitmscope::BuiltClientHello> second_whole, second_cut;
  mitmscope::ServerFlightReader whole(hello(), 64 * 1024);
  (void)feed(whole, bytes, second_whole);
  if (size > 1) {
    mitmscope::ServerFlightReader cut(hello(), 64 * 1024);
    const size_t at = 1 + data[0] % (size - 1);
    if (feed(cut, bytes.first(at), second_cut) == mitmscope::FlightStatus::kNeedMore) (void)feed(cut, bytes.subspan(at), second_cut);
  }
  return 0;
}
