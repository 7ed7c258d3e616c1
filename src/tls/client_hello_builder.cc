#include "tls/client_hello_builder.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/byte_reader.h"
#include "core/byte_writer.h"
#include "engine/endpoint.h"
#include "tls/client_hello.h"

namespace mitmscope {
namespace {

constexpr uint8_t kHandshakeRecord = 0x16;
constexpr uint8_t kClientHelloType = 1;
constexpr size_t kMaxRecordBody = 16384;
constexpr size_t kMlKem768EncapsulationKey = 1184;
constexpr uint16_t kMlKemQ = 3329;

// The GREASE value of each role, drawn once per connection.
enum GreaseRole : size_t { kCipher, kGroup, kFirstExtension, kLastExtension, kVersion, kSignature, kRoles };
using GreaseValues = std::array<uint16_t, kRoles>;

GreaseValues draw_grease(const RandomBytes& random) {
  std::array<uint8_t, kRoles> seed{};
  random(seed);
  GreaseValues values{};
  for (size_t i = 0; i < kRoles; ++i) values[i] = static_cast<uint16_t>(((seed[i] & 0xf0) | 0x0a) * 0x0101);
  if (values[kLastExtension] == values[kFirstExtension]) values[kLastExtension] ^= 0x1010;   // two distinct types
  return values;
}

// The context of one build: the profile, the request, the randomness, what has been drawn.
struct Build {
  const ClientHelloProfile& profile;
  const HelloRequest& request;
  const RandomBytes& random;
  GreaseValues grease{};
  std::vector<KeyShareKey> keys;
  bool sends_name = false;
};

void u16_list(ByteWriter& out, size_t prefix, std::optional<uint16_t> first, std::span<const uint16_t> values) {
  const auto block = out.begin(prefix);
  if (first) out.u16(*first);
  for (uint16_t value : values) out.u16(value);
  out.end(block);
}

void random_bytes(ByteWriter& out, const RandomBytes& random, size_t count) {
  std::vector<uint8_t> bytes(count);
  random(bytes);
  out.bytes(bytes);
}

// Serves a build's many small draws (GREASE, shuffle, random, session id, keys) from a few large ones: a call of
// RAND_bytes costs about the same whatever its size. A draw larger than half the pool goes straight through.
class RandomPool {
 public:
  explicit RandomPool(const RandomBytes& source) : source_(source) {}
  void operator()(std::span<uint8_t> out) {
    if (out.size() > kSize / 2) return source_(out);
    if (out.size() > available_) {
      source_(pool_);
      available_ = kSize;
    }
    std::copy_n(pool_.end() - static_cast<std::ptrdiff_t>(available_), out.size(), out.begin());
    available_ -= out.size();
  }

 private:
  static constexpr size_t kSize = 512;
  const RandomBytes& source_;
  std::array<uint8_t, kSize> pool_{};
  size_t available_ = 0;
};

}  // namespace

void openssl_random(std::span<uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::ranges::fill(out, 0);
}

namespace {

Result<EvpPkeyPtr> x25519_key(const RandomBytes& random) {
  std::array<uint8_t, 32> secret{};
  random(secret);
  EvpPkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()));
  if (!key) return make_error(ErrorCode::kCryptoError, "cannot make an X25519 key");
  return key;
}

Result<EvpPkeyPtr> ec_key(uint16_t group) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group == kGroupSecp256r1 ? "P-256" : "P-384"));
  if (!key) return make_error(ErrorCode::kCryptoError, fmt::format("cannot make a key for group 0x{:04x}", group));
  return key;
}

std::vector<uint8_t> public_bytes(EVP_PKEY* key) {
  size_t length = 0;
  if (EVP_PKEY_get_id(key) == EVP_PKEY_X25519) {
    std::vector<uint8_t> out(32);
    length = out.size();
    EVP_PKEY_get_raw_public_key(key, out.data(), &length);
    return out;
  }
  std::vector<uint8_t> out(133);
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out.data(), out.size(), &length);
  out.resize(length);
  return out;
}

// A well-formed ML-KEM-768 encapsulation key: 768 coefficients below q, 12 bits each, then a 32-byte seed. The
// candidates are drawn in batches (one draw per 512 of them: a draw per coefficient was 40% of a Chromium scan).
void ml_kem_placeholder(ByteWriter& out, const RandomBytes& random) {
  constexpr size_t kCoefficients = 768;
  std::vector<uint16_t> coefficients;
  coefficients.reserve(kCoefficients);
  std::array<uint8_t, 768> batch{};   // 512 candidates of 12 bits
  while (coefficients.size() < kCoefficients) {
    random(batch);
    for (size_t i = 0; i + 2 < batch.size() && coefficients.size() < kCoefficients; i += 3) {
      for (uint16_t value : {static_cast<uint16_t>(batch[i] | (batch[i + 1] & 0x0f) << 8),
                             static_cast<uint16_t>(batch[i + 1] >> 4 | batch[i + 2] << 4)}) {
        if (value < kMlKemQ && coefficients.size() < kCoefficients) coefficients.push_back(value);
      }
    }
  }
  for (size_t i = 0; i < coefficients.size(); i += 2) {
    out.u8(static_cast<uint8_t>(coefficients[i]));
    out.u8(static_cast<uint8_t>(coefficients[i] >> 8 | (coefficients[i + 1] & 0x0f) << 4));
    out.u8(static_cast<uint8_t>(coefficients[i + 1] >> 4));
  }
  random_bytes(out, random, kMlKem768EncapsulationKey - 1152);
}

Result<void> key_share_entry(ByteWriter& out, Build& build, uint16_t group) {
  const bool hybrid = group == kGroupX25519MlKem768;
  Result<EvpPkeyPtr> key = hybrid || group == kGroupX25519 ? x25519_key(build.random) : ec_key(group);
  if (!key) return std::unexpected(key.error());
  out.u16(group);
  const auto share = out.begin(2);
  if (hybrid) ml_kem_placeholder(out, build.random);
  out.bytes(public_bytes(key->get()));
  out.end(share);
  build.keys.push_back({group, std::move(*key)});
  return {};
}

Result<void> key_share(ByteWriter& out, Build& build) {
  const auto list = out.begin(2);
  if (build.profile.grease) {
    out.u16(build.grease[kGroup]);
    out.u16(1);
    out.u8(0);
  }
  for (uint16_t group : build.profile.key_share_groups) {
    if (group != kGroupX25519 && group != kGroupX25519MlKem768 && group != kGroupSecp256r1 && group != kGroupSecp384r1) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("profile {}: no key share for group 0x{:04x}", build.profile.name, group));
    }
    if (auto entry = key_share_entry(out, build, group); !entry) return entry;
  }
  out.end(list);
  return {};
}

void ech_grease(ByteWriter& out, Build& build) {
  const auto& lengths = build.profile.ech_payload_lengths;
  std::array<uint8_t, 1> pick{};
  build.random(pick);
  out.u8(0);            // outer ClientHello
  out.u16(0x0001);      // HKDF-SHA256
  out.u16(build.profile.ech_aead);
  random_bytes(out, build.random, 1);   // config id
  const auto enc = out.begin(2);
  random_bytes(out, build.random, 32);  // an X25519 encapsulated key
  out.end(enc);
  const auto payload = out.begin(2);
  random_bytes(out, build.random, lengths.empty() ? 144 : lengths[pick[0] % lengths.size()]);
  out.end(payload);
}

void alpn(ByteWriter& out, const Build& build) {
  const auto& names = build.request.alpn ? *build.request.alpn : build.profile.alpn;
  const auto list = out.begin(2);
  for (const auto& name : names) {
    const auto entry = out.begin(1);
    out.text(name);
    out.end(entry);
  }
  out.end(list);
}

void server_name(ByteWriter& out, const Build& build) {
  const auto list = out.begin(2);
  out.u8(0);   // host_name
  const auto name = out.begin(2);
  out.text(build.request.server_name);
  out.end(name);
  out.end(list);
}

// The body of one extension (padding is sized once the rest is known).
Result<void> extension_body(ByteWriter& out, Build& build, const ExtensionTemplate& extension) {
  const auto& profile = build.profile;
  const auto grease = [&](GreaseRole role, bool on) { return on ? std::optional<uint16_t>(build.grease[role]) : std::nullopt; };
  switch (extension.body) {
    case ExtensionBody::kFixed: case ExtensionBody::kGrease: out.bytes(extension.fixed); break;
    case ExtensionBody::kServerName: server_name(out, build); break;
    case ExtensionBody::kSupportedGroups: u16_list(out, 2, grease(kGroup, profile.grease), profile.groups); break;
    case ExtensionBody::kKeyShare: return key_share(out, build);
    case ExtensionBody::kSupportedVersions: u16_list(out, 1, grease(kVersion, profile.grease), profile.versions); break;
    case ExtensionBody::kSignatureAlgorithms:
      u16_list(out, 2, grease(kSignature, profile.grease_signature_algorithms), profile.signature_algorithms);
      break;
    case ExtensionBody::kAlpn: alpn(out, build); break;
    case ExtensionBody::kEchGrease: ech_grease(out, build); break;
    case ExtensionBody::kPadding: break;
  }
  return {};
}

}  // namespace

namespace {

struct Encoded {
  uint16_t type = 0;
  std::vector<uint8_t> body;
  bool padding = false;
  bool name = false;
};

// The templates in the order sent: a shuffling profile's non-GREASE extensions in a random order (Fisher-Yates).
std::vector<const ExtensionTemplate*> sending_order(const Build& build) {
  std::vector<const ExtensionTemplate*> order;
  for (const auto& extension : build.profile.extensions) order.push_back(&extension);
  if (!build.profile.shuffle_extensions) return order;
  std::vector<size_t> movable;
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i]->body != ExtensionBody::kGrease) movable.push_back(i);
  }
  for (size_t i = movable.size(); i > 1; --i) {
    std::array<uint8_t, 4> draw{};
    build.random(draw);
    const size_t j = (draw[0] | draw[1] << 8 | draw[2] << 16 | static_cast<size_t>(draw[3]) << 24) % i;
    std::swap(order[movable[i - 1]], order[movable[j]]);
  }
  return order;
}

Result<std::vector<Encoded>> encode_extensions(Build& build) {
  std::vector<Encoded> encoded;
  bool first_grease = true;
  for (const ExtensionTemplate* extension : sending_order(build)) {
    if (extension->body == ExtensionBody::kServerName && !build.sends_name) continue;
    Encoded one{extension->type, {}, extension->body == ExtensionBody::kPadding, extension->body == ExtensionBody::kServerName};
    if (extension->body == ExtensionBody::kGrease) {
      one.type = build.grease[first_grease ? kFirstExtension : kLastExtension];
      first_grease = false;
    }
    ByteWriter body;
    if (auto written = extension_body(body, build, *extension); !written) return std::unexpected(written.error());
    one.body = body.take();
    encoded.push_back(std::move(one));
  }
  return encoded;
}

// OpenSSL's and BoringSSL's rule: a message of pad_from (256)..pad_to-1 bytes without the padding extension gets
// one that
// brings it to pad_to (its body at least one byte); otherwise there is no padding extension.
std::optional<size_t> padding_body(const ClientHelloProfile& profile, size_t unpadded) {
  if (profile.pad_to == 0 || unpadded < profile.pad_from || unpadded >= profile.pad_to) return std::nullopt;
  const size_t total = profile.pad_to - unpadded;
  return total > 4 ? total - 4 : 1;
}

struct Message {
  std::vector<uint8_t> bytes;
  size_t name_at = 0;
  std::vector<uint16_t> order;
};

Message assemble(Build& build, const std::vector<Encoded>& extensions, std::optional<size_t> padding) {
  ByteWriter out;
  Message message;
  out.u8(kClientHelloType);
  const auto body = out.begin(3);
  out.u16(build.profile.legacy_version);
  random_bytes(out, build.random, 32);
  const auto session = out.begin(1);
  if (build.profile.session_id) random_bytes(out, build.random, 32);
  out.end(session);
  u16_list(out, 2, build.profile.grease ? std::optional<uint16_t>(build.grease[kCipher]) : std::nullopt,
           build.profile.cipher_suites);
  out.u8(1);
  out.u8(0);   // compression: null only
  const auto list = out.begin(2);
  for (const auto& extension : extensions) {
    if (extension.padding && !padding) continue;
    out.u16(extension.type);
    const auto one = out.begin(2);
    if (extension.name) message.name_at = out.size() + 5;   // past the list length, name type and name length
    if (extension.padding) {
      out.bytes(std::vector<uint8_t>(*padding, 0));
    } else {
      out.bytes(extension.body);
    }
    out.end(one);
    message.order.push_back(extension.type);
  }
  out.end(list);
  out.end(body);
  message.bytes = out.take();
  return message;
}

}  // namespace

std::vector<uint8_t> handshake_records(std::span<const uint8_t> message, uint16_t version, size_t cut) {
  ByteWriter out;
  for (size_t at = 0; at < message.size();) {
    const size_t end = std::min({at + kMaxRecordBody, cut > at ? cut : message.size(), message.size()});
    out.u8(kHandshakeRecord);
    out.u16(version);
    const auto record = out.begin(2);
    out.bytes(message.subspan(at, end - at));
    out.end(record);
    at = end;
  }
  return out.take();
}

Result<BuiltClientHello> build_client_hello(const ClientHelloProfile& profile, const HelloRequest& request,
                                            const RandomBytes& source) {
  RandomPool pool(source);
  const RandomBytes random = [&pool](std::span<uint8_t> out) { pool(out); };
  Build build{profile, request, random};
  build.grease = draw_grease(random);
  build.sends_name = !request.server_name.empty() && !is_ip_literal(request.server_name);
  auto extensions = encode_extensions(build);
  if (!extensions) return std::unexpected(extensions.error());
  // The random and session id are drawn in assemble(): the unpadded size is measured on a copy of the draws.
  const size_t unpadded = [&] {
    const RandomBytes zeros = [](std::span<uint8_t> out) { std::ranges::fill(out, 0); };
    Build sizing{profile, request, zeros, build.grease};
    return assemble(sizing, *extensions, std::nullopt).bytes.size();
  }();
  Message message = assemble(build, *extensions, padding_body(profile, unpadded));
  BuiltClientHello built;
  built.record = handshake_records(message.bytes, profile.record_version);
  constexpr size_t kRecordHeader = 5;
  built.server_name_at = message.name_at ? message.name_at + kRecordHeader : 0;
  built.message = std::move(message.bytes);
  built.keys = std::move(build.keys);
  built.extension_order = std::move(message.order);
  return built;
}

}  // namespace mitmscope

namespace mitmscope {
namespace {

constexpr uint16_t kKeyShareType = 51, kCookieType = 44, kEarlyDataType = 42;
constexpr size_t kHelloFixedPart = 4 + 2 + 32;   // header, legacy version, random

// The extensions of the retried hello, from the first one's.
Result<void> retried_extensions(ByteWriter& out, ByteReader extensions, Build& build, uint16_t group,
                                std::span<const uint8_t> cookie, Message& message) {
  uint16_t type = 0;
  ByteReader body;
  while (extensions.u16(type) && extensions.prefixed(2, body)) {
    if (type == kEarlyDataType || type == kCookieType) continue;
    out.u16(type);
    const auto one = out.begin(2);
    if (type == kKeyShareType) {
      const auto list = out.begin(2);
      if (auto entry = key_share_entry(out, build, group); !entry) return entry;
      out.end(list);
    } else {
      if (type == 0 && body.remaining() > 5) message.name_at = out.size() + 5;
      out.bytes(body.rest());
    }
    out.end(one);
    message.order.push_back(type);
    if (type == kKeyShareType && !cookie.empty()) {
      out.u16(kCookieType);
      const auto outer = out.begin(2);
      const auto inner = out.begin(2);
      out.bytes(cookie);
      out.end(inner);
      out.end(outer);
      message.order.push_back(kCookieType);
    }
  }
  if (!extensions.empty()) return make_error(ErrorCode::kInvalidArgument, "the first ClientHello's extensions are cut short");
  return {};
}

}  // namespace

Result<BuiltClientHello> retry_client_hello(const BuiltClientHello& first, uint16_t group, std::span<const uint8_t> cookie,
                                            const RandomBytes& random) {
  if (group == kGroupX25519MlKem768) {
    return make_error(ErrorCode::kTlsProtocolError, "the server asked for an X25519MLKEM768 key share, which needs ML-KEM "
                                                    "(OpenSSL 3.0 has none)");
  }
  if (group != kGroupX25519 && group != kGroupSecp256r1 && group != kGroupSecp384r1) {
    return make_error(ErrorCode::kTlsProtocolError, fmt::format("the server asked for a key share for group 0x{:04x}, "
                                                                "which this client cannot make", group));
  }
  ByteReader reader(first.message);
  ByteReader session, suites, compression, extensions;
  std::span<const uint8_t> fixed;
  const bool read = reader.bytes(kHelloFixedPart, fixed) && reader.prefixed(1, session) && reader.prefixed(2, suites) &&
                    reader.prefixed(1, compression);
  const size_t extensions_at = reader.offset();
  if (!read || !reader.prefixed(2, extensions)) return make_error(ErrorCode::kInvalidArgument, "the first ClientHello is cut short");
  const ClientHelloProfile unused{};
  const HelloRequest no_request{};
  Build build{unused, no_request, random};
  Message message;
  ByteWriter out;
  out.u8(kClientHelloType);
  const auto body = out.begin(3);
  out.bytes(std::span(first.message).subspan(4, extensions_at - 4));   // version, random, session id, suites, compression
  const auto list = out.begin(2);
  if (auto written = retried_extensions(out, extensions, build, group, cookie, message); !written) {
    return std::unexpected(written.error());
  }
  out.end(list);
  out.end(body);
  BuiltClientHello built;
  built.message = out.take();
  const uint16_t record_version = first.record.size() > 2 ? static_cast<uint16_t>(first.record[1] << 8 | first.record[2]) : 0x0303;
  built.record = handshake_records(built.message, record_version);
  built.server_name_at = message.name_at ? message.name_at + 5 : 0;
  built.keys = std::move(build.keys);
  built.extension_order = std::move(message.order);
  return built;
}

}  // namespace mitmscope
