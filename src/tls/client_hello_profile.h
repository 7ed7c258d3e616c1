// ClientHello profiles: what a given client sends first, as data. A profile names its cipher suites, groups,
// key shares, versions, signature algorithms, ALPN and extensions in the order it sends them, and the client's
// habits around them: GREASE (RFC 8701) as BoringSSL places it, Chromium's shuffling of its extensions, an ECH
// GREASE extension (draft-ietf-tls-esni) with the payload lengths the client draws from, the padding rule.
// Each built-in profile says where its values come from (a capture of the real client, or a publication).
// The builder (tls/client_hello_builder) turns a profile, a name and randomness into bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mitmscope {

// How an extension's body is made.
enum class ExtensionBody {
  kFixed,                // `fixed`, as captured
  kServerName,           // the name asked for; the extension is left out for an IP address or no name
  kSupportedGroups,      // the profile's groups (a GREASE group first when the profile greases)
  kKeyShare,             // a fresh key for each of the profile's key share groups (GREASE first when greasing)
  kSupportedVersions,    // the profile's versions (GREASE first when greasing)
  kSignatureAlgorithms,  // the profile's algorithms (GREASE first when it greases them)
  kAlpn,                 // the profile's protocols, or the measurement's own
  kEchGrease,            // an ECH outer extension with random config id, key and payload (GREASE ECH)
  kPadding,              // zeros up to the profile's padding target
  kGrease,               // a GREASE extension type with `fixed` as body (BoringSSL: first empty, last one zero byte)
};

struct ExtensionTemplate {
  uint16_t type = 0;          // ignored for kGrease
  ExtensionBody body = ExtensionBody::kFixed;
  std::vector<uint8_t> fixed;
};

inline constexpr uint16_t kGroupX25519 = 0x001d;
inline constexpr uint16_t kGroupSecp256r1 = 0x0017;
inline constexpr uint16_t kGroupSecp384r1 = 0x0018;
inline constexpr uint16_t kGroupX25519MlKem768 = 0x11ec;

struct ClientHelloProfile {
  std::string name;                  // "chromium-156"
  std::string client;                // "Chromium 156.0.8078.114 (Debian 12)"
  std::string provenance;            // where every value comes from
  uint16_t record_version = 0x0301;
  uint16_t legacy_version = 0x0303;
  bool session_id = true;            // 32 random bytes (TLS 1.3 middlebox compatibility)
  bool grease = false;               // a GREASE cipher suite, group, key share, version and first and last extension
  bool grease_signature_algorithms = false;
  bool shuffle_extensions = false;   // every extension but the GREASE ones in a random order, per connection
  std::vector<uint16_t> cipher_suites;
  std::vector<uint16_t> groups;
  std::vector<uint16_t> key_share_groups;
  std::vector<uint16_t> versions;
  std::vector<uint16_t> signature_algorithms;
  std::vector<std::string> alpn;
  std::vector<ExtensionTemplate> extensions;
  std::vector<uint16_t> ech_payload_lengths;   // one drawn per connection
  uint16_t ech_aead = 0x0001;                  // the ECH GREASE's AEAD: AES-128-GCM (its KDF is HKDF-SHA256)
  size_t pad_to = 0;                 // kPadding: handshake messages of pad_from..pad_to-1 bytes grow to pad_to; 0: none
  size_t pad_from = 256;             // OpenSSL and BoringSSL pad ClientHellos of 256 bytes and more
};

// The built-in profiles: chromium, firefox-esr, safari (from a published capture), curl (OpenSSL 3.0 as Debian's curl), kz-2019 (the 2019 device's
// published shape), minimal.
std::span<const ClientHelloProfile> builtin_client_hello_profiles();
// By name ("chromium") or full name ("chromium-156"); an error listing the names otherwise.
Result<const ClientHelloProfile*> find_client_hello_profile(std::string_view name);

}  // namespace mitmscope
