// libFuzzer: the ServerHello parser and the fingerprints computed from what it returns, on bytes
// that claim to be one handshake message (what a hostile server controls completely).
#include <cstddef>
#include <cstdint>
#include <span>

#include "tls/server_hello.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto hello = mitmscope::parse_server_hello(std::span(data, size));
  if (hello) {
    (void)mitmscope::ja3s(*hello);
    (void)mitmscope::ja4s(*hello);
    (void)mitmscope::tls_version_name(hello->selected_version);
  }
  return 0;
}
