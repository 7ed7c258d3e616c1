#include "tls/hello_strategy.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "core/byte_writer.h"

namespace mitmscope {
namespace {

constexpr size_t kPaddedSize = 1400;   // beyond one segment of a 1,280-byte IPv6 minimum MTU path, within Ethernet's

const std::vector<HelloStrategy>& strategies() {
  static const std::vector<HelloStrategy> all = {
      {"plain", "the profile's ClientHello as it is", HelloSplit::kNone, NameCase::kAsGiven, 0, std::nullopt},
      {"split-tcp-name", "the ClientHello in two TCP segments, cut in the middle of the server name",
       HelloSplit::kTcpSegments, NameCase::kAsGiven, 0, std::nullopt},
      {"split-record-name", "the ClientHello in two TLS records, cut in the middle of the server name",
       HelloSplit::kRecords, NameCase::kAsGiven, 0, std::nullopt},
      {"name-upper", "the server name in upper case", HelloSplit::kNone, NameCase::kUpper, 0, std::nullopt},
      {"name-mixed", "the server name in mixed case (every second letter upper)", HelloSplit::kNone, NameCase::kMixed, 0,
       std::nullopt},
      {"pad-1400", fmt::format("a padding extension brings the ClientHello to {} bytes", kPaddedSize), HelloSplit::kNone,
       NameCase::kAsGiven, kPaddedSize, std::nullopt},
      {"alpn-http1", "ALPN offers http/1.1 only", HelloSplit::kNone, NameCase::kAsGiven, 0,
       std::vector<std::string>{"http/1.1"}},
  };
  return all;
}

}  // namespace

std::span<const HelloStrategy> builtin_hello_strategies() { return strategies(); }

Result<const HelloStrategy*> find_hello_strategy(std::string_view name) {
  std::string names;
  for (const auto& strategy : strategies()) {
    if (strategy.name == name) return &strategy;
    names += (names.empty() ? "" : ", ") + strategy.name;
  }
  return make_error(ErrorCode::kInvalidArgument, fmt::format("unknown strategy '{}': one of {}", name, names));
}

std::string apply_name_case(std::string_view name, NameCase name_case) {
  std::string out(name);
  size_t letters = 0;
  for (char& c : out) {
    if (!std::isalpha(static_cast<unsigned char>(c))) continue;
    const bool upper = name_case == NameCase::kUpper || (name_case == NameCase::kMixed && letters % 2 == 1);
    if (upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ++letters;
  }
  return out;
}

size_t name_cut(size_t name_at, size_t name_length) { return name_at == 0 || name_length < 2 ? 0 : name_at + name_length / 2; }

ClientHelloProfile padded_profile(const ClientHelloProfile& profile, size_t pad_to) {
  constexpr uint16_t kPaddingExtension = 21;
  ClientHelloProfile padded = profile;
  const bool pads = std::ranges::any_of(padded.extensions, [](const ExtensionTemplate& e) { return e.body == ExtensionBody::kPadding; });
  if (!pads) padded.extensions.push_back({kPaddingExtension, ExtensionBody::kPadding, {}});
  padded.pad_to = pad_to;
  padded.pad_from = 0;
  return padded;
}

}  // namespace mitmscope
