#include "tls/client_hello_profile.h"

#include <fmt/format.h>

#include "core/hex.h"

namespace mitmscope {
namespace {

ExtensionTemplate fixed(uint16_t type, std::string_view hex) { return {type, ExtensionBody::kFixed, from_hex(hex)}; }
ExtensionTemplate made(uint16_t type, ExtensionBody body) { return {type, body, {}}; }
ExtensionTemplate grease(std::string_view hex) { return {0, ExtensionBody::kGrease, from_hex(hex)}; }

// Chromium's Trust Anchor Identifiers (extension 0xca34): the ids of its root store, as sent.
constexpr std::string_view kChromiumTrustAnchors =
    "00b80582df1302010582df1302060582df13020d0582df13020e0582df13020f0582df1302120582df1302130582df13021408839a648c9b2d"
    "010708839a648c9b2d010808839a648c9b2d010908839a648c9b2d010a08839a648c9b2d010b08839a648c9b2d010c08839a648c9b2d010d"
    "08839a648c9b2d011208839a648c9b2d011304d679090104d679090404d679090504d679090604d679090704d679090804d679090a04d67909"
    "0b04d679090c04d679090d04d679090f";

ClientHelloProfile chromium() {
  return {
      .name = "chromium-156",
      .client = "Chromium 156.0.8078.114 (Debian 12)",
      .provenance = "Captured on 2026-12-03 from Debian 12's chromium 156.0.8078.114 (headless) visiting a loopback "
                    "listener (scripts/capture-client-hellos.sh); tests/data/client-hellos/chromium-156-*.bin. BoringSSL "
                    "shuffles the extensions and draws GREASE values and the ECH GREASE payload per connection.",
      .grease = true,
      .grease_signature_algorithms = true,
      .shuffle_extensions = true,
      .cipher_suites = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
                        0x009d, 0x002f, 0x0035},
      .groups = {kGroupX25519MlKem768, kGroupX25519, kGroupSecp256r1, kGroupSecp384r1},
      .key_share_groups = {kGroupX25519MlKem768, kGroupX25519},
      .versions = {0x0304, 0x0303},
      .signature_algorithms = {0x0904, 0x0905, 0x0906, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601},
      .alpn = {"h2", "http/1.1"},
      .extensions = {grease(""), made(0, ExtensionBody::kServerName), fixed(23, ""), fixed(65281, "00"),
                     made(10, ExtensionBody::kSupportedGroups), fixed(11, "0100"), fixed(35, ""),
                     made(16, ExtensionBody::kAlpn), fixed(5, "0100000000"), fixed(18, ""),
                     made(51, ExtensionBody::kKeyShare), made(43, ExtensionBody::kSupportedVersions),
                     made(13, ExtensionBody::kSignatureAlgorithms), fixed(45, "0101"), fixed(27, "020002"),
                     fixed(17613, "0003026832"), made(65037, ExtensionBody::kEchGrease), fixed(51764, kChromiumTrustAnchors),
                     grease("00")},
      .ech_payload_lengths = {144, 176, 208, 240},
  };
}

ClientHelloProfile firefox_esr() {
  return {
      .name = "firefox-esr-153",
      .client = "Firefox 153.8.0esr (Debian 12)",
      .provenance = "Captured on 2026-12-03 from Debian 12's firefox-esr 153.8.0esr (headless, a new profile) visiting a "
                    "loopback listener (scripts/capture-client-hellos.sh); tests/data/client-hellos/firefox-esr-153-*.bin. "
                    "NSS sends its extensions in a fixed order, no GREASE but ECH GREASE.",
      .cipher_suites = {0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc013, 0xc014,
                        0x009c, 0x009d, 0x002f, 0x0035},
      .groups = {kGroupX25519MlKem768, kGroupX25519, kGroupSecp256r1, kGroupSecp384r1, 0x0019, 0x0100, 0x0101},
      .key_share_groups = {kGroupX25519MlKem768, kGroupX25519, kGroupSecp256r1},
      .versions = {0x0304, 0x0303},
      .signature_algorithms = {0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201},
      .alpn = {"h2", "http/1.1"},
      .extensions = {made(0, ExtensionBody::kServerName), fixed(23, ""), fixed(65281, "00"),
                     made(10, ExtensionBody::kSupportedGroups), fixed(11, "0100"), fixed(35, ""),
                     made(16, ExtensionBody::kAlpn), fixed(5, "0100000000"), fixed(34, "00080403050306030203"), fixed(18, ""),
                     made(51, ExtensionBody::kKeyShare), made(43, ExtensionBody::kSupportedVersions),
                     made(13, ExtensionBody::kSignatureAlgorithms), fixed(45, "0101"), fixed(28, "4001"),
                     fixed(27, "06000100020003"), made(65037, ExtensionBody::kEchGrease)},
      .ech_payload_lengths = {239},
      .ech_aead = 0x0003,   // ChaCha20-Poly1305
  };
}

ClientHelloProfile curl() {
  return {
      .name = "curl-7.88",
      .client = "curl 7.88.1 with OpenSSL 3.0 (Debian 12)",
      .provenance = "Captured on 2026-12-03 from Debian 12's curl 7.88.1 (OpenSSL 3.0.19) visiting a loopback listener "
                    "(scripts/capture-client-hellos.sh); tests/data/client-hellos/curl-7.88.bin. OpenSSL pads a "
                    "ClientHello of 256 to 511 bytes to 512.",
      .cipher_suites = {0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f, 0x009e,
                        0xc024, 0xc028, 0x006b, 0xc023, 0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033,
                        0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff},
      .groups = {kGroupX25519, kGroupSecp256r1, 0x001e, 0x0019, kGroupSecp384r1, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104},
      .key_share_groups = {kGroupX25519},
      .versions = {0x0304, 0x0303, 0x0302, 0x0301},
      .signature_algorithms = {0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805, 0x0806,
                               0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602},
      .alpn = {"h2", "http/1.1"},
      .extensions = {made(0, ExtensionBody::kServerName), fixed(11, "03000102"), made(10, ExtensionBody::kSupportedGroups),
                     made(16, ExtensionBody::kAlpn), fixed(22, ""), fixed(23, ""), fixed(49, ""),
                     made(13, ExtensionBody::kSignatureAlgorithms), made(43, ExtensionBody::kSupportedVersions),
                     fixed(45, "0101"), made(51, ExtensionBody::kKeyShare), made(21, ExtensionBody::kPadding)},
      .pad_to = 512,
  };
}

ClientHelloProfile safari() {
  return {
      .name = "safari-18",
      .client = "Safari 18.0 (macOS)",
      .provenance = "Not captured here (no Apple device): transcribed from the published capture of Safari 18.0 on macOS in "
                    "curl-impersonate's test signatures (github.com/lexiforest/curl-impersonate, "
                    "tests/signatures/safari_18.0_macOS.yaml, commit 0b171f03), whose JA3 773906b0efdefa24a7f2b8eb6985bf37 "
                    "also heads lwthiker/curl-impersonate's Safari 17.0 capture. Its JA4 t13d2014h2_a09f3c656075_e42f34c56612 "
                    "is the one JA4 databases list for Safari 18 (a test holds the profile to both). Apple's BoringSSL: "
                    "GREASE in a fixed extension order, the signature algorithm 0x0805 twice as sent, padding to 512 bytes.",
      .grease = true,
      .cipher_suites = {0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0xc00a, 0xc009, 0xc014,
                        0xc013, 0x009d, 0x009c, 0x0035, 0x002f, 0xc008, 0xc012, 0x000a},
      .groups = {kGroupX25519, kGroupSecp256r1, kGroupSecp384r1, 0x0019},
      .key_share_groups = {kGroupX25519},
      .versions = {0x0304, 0x0303, 0x0302, 0x0301},
      .signature_algorithms = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201},
      .alpn = {"h2", "http/1.1"},
      .extensions = {grease(""), made(0, ExtensionBody::kServerName), fixed(23, ""), fixed(65281, "00"),
                     made(10, ExtensionBody::kSupportedGroups), fixed(11, "0100"), made(16, ExtensionBody::kAlpn),
                     fixed(5, "0100000000"), made(13, ExtensionBody::kSignatureAlgorithms), fixed(18, ""),
                     made(51, ExtensionBody::kKeyShare), fixed(45, "0101"), made(43, ExtensionBody::kSupportedVersions),
                     fixed(27, "020001"), grease("00"), made(21, ExtensionBody::kPadding)},
      .pad_to = 512,
  };
}

ClientHelloProfile kz_2019() {
  return {
      .name = "kz-2019",
      .client = "the 2019 Kazakh interception device, towards the real server",
      .provenance = "Shape published by Raman et al. (IMC 2020, section 4): record TLS 1.0, handshake TLS 1.2, no TLS 1.3, "
                    "13 cipher suites. Which 13 was not published: these are the lab's emulation of it (src/lab/interceptor.cc, "
                    "OpenSSL 3.0), captured on 2026-12-03 (tests/data/client-hellos/kz-2019.bin; JA3 17db668a..., the "
                    "registry's mitmscope-lab-kz-2019 entry). No session id, as OpenSSL without TLS 1.3.",
      .session_id = false,
      .cipher_suites = {0xc02b, 0xc02f, 0xc02c, 0xc030, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
                        0x00ff},
      .groups = {kGroupX25519, kGroupSecp256r1, 0x001e, 0x0019, kGroupSecp384r1},
      .signature_algorithms = {0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805, 0x0806,
                               0x0401, 0x0501, 0x0601, 0x0303, 0x0203, 0x0301, 0x0201, 0x0302, 0x0202, 0x0402, 0x0502,
                               0x0602},
      .extensions = {made(0, ExtensionBody::kServerName), fixed(11, "03000102"), made(10, ExtensionBody::kSupportedGroups),
                     fixed(35, ""), fixed(22, ""), fixed(23, ""), made(13, ExtensionBody::kSignatureAlgorithms)},
  };
}

ClientHelloProfile minimal() {
  return {
      .name = "minimal",
      .client = "the least a TLS 1.2 and 1.3 server answers",
      .provenance = "Not a client's: SNI, one key share (X25519), TLS 1.3 and 1.2, two suites each, three signature "
                    "algorithms, and P-256 beside X25519 among the groups (a TLS 1.2 server signs with an ECDSA key only "
                    "on a curve the client lists, RFC 8422). For telling whether a device acts on the name alone.",
      .cipher_suites = {0x1301, 0x1302, 0xc02b, 0xc02f},
      .groups = {kGroupX25519, kGroupSecp256r1},
      .key_share_groups = {kGroupX25519},
      .versions = {0x0304, 0x0303},
      .signature_algorithms = {0x0403, 0x0804, 0x0401},
      .extensions = {made(0, ExtensionBody::kServerName), made(10, ExtensionBody::kSupportedGroups),
                     made(13, ExtensionBody::kSignatureAlgorithms), made(43, ExtensionBody::kSupportedVersions),
                     made(51, ExtensionBody::kKeyShare)},
  };
}

}  // namespace

std::span<const ClientHelloProfile> builtin_client_hello_profiles() {
  static const std::vector<ClientHelloProfile> profiles = {chromium(), firefox_esr(), safari(), curl(), kz_2019(),
                                                               minimal()};
  return profiles;
}

Result<const ClientHelloProfile*> find_client_hello_profile(std::string_view name) {
  std::string names;
  for (const auto& profile : builtin_client_hello_profiles()) {
    const std::string_view full = profile.name;
    if (full == name || (full.starts_with(name) && full.size() > name.size() && full[name.size()] == '-' &&
                         full.find_first_of("0123456789") == name.size() + 1)) {
      return &profile;
    }
    names += names.empty() ? full : ", " + profile.name;
  }
  return make_error(ErrorCode::kInvalidArgument, fmt::format("--client-hello {}: not a profile ({})", name, names));
}

}  // namespace mitmscope
