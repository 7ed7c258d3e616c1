// Strategies: how a ClientHello can be reshaped, without changing what it asks for, to learn what makes a device
// act (Censored Planet's CenFuzz method). Each keeps the profile and changes one thing a device may key on: how
// the hello is cut into TCP segments or TLS records around the server name, the name's letter case, the hello's
// size, the ALPN offered. `discover --strategies` runs every confirmed name again under each and reports which
// still trigger interception. Pure: the names, what each changes, and the two reshaping functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tls/client_hello_profile.h"

namespace mitmscope {

enum class HelloSplit {
  kNone,
  kTcpSegments,   // two TCP segments, cut in the middle of the server name (TCP_NODELAY, two sends)
  kRecords,       // two TLS records, the handshake message cut in the middle of the server name
};

enum class NameCase { kAsGiven, kUpper, kMixed };

struct HelloStrategy {
  std::string name;               // "split-tcp-name"
  std::string description;
  HelloSplit split = HelloSplit::kNone;
  NameCase name_case = NameCase::kAsGiven;
  size_t pad_to = 0;              // a padding extension brings the hello to this many bytes; 0: the profile's own
  std::optional<std::vector<std::string>> alpn;   // instead of the profile's protocols
};

// plain, split-tcp-name, split-record-name, name-upper, name-mixed, pad-1400, alpn-http1.
std::span<const HelloStrategy> builtin_hello_strategies();
Result<const HelloStrategy*> find_hello_strategy(std::string_view name);

// "Example.kz" under kUpper: "EXAMPLE.KZ"; kMixed: every second letter upper ("eXaMpLe.kZ").
std::string apply_name_case(std::string_view name, NameCase name_case);

// Where to cut a hello whose server name starts at `name_at` (an offset, 0: no name) and is `name_length` long:
// in the middle of the name; 0 when there is no name to cut in.
size_t name_cut(size_t name_at, size_t name_length);

// `profile` padded to `pad_to` bytes from any size below it (a padding extension added when it has none).
ClientHelloProfile padded_profile(const ClientHelloProfile& profile, size_t pad_to);

}  // namespace mitmscope
