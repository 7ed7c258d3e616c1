// Client fingerprints of a ClientHello, as a server-side observer computes them.
//
// JA3 (Salesforce, BSD-3-Clause): MD5 of "version,ciphers,extensions,groups,point formats",
// decimal values joined by '-', GREASE dropped. Since Chrome 110 shuffles its extensions,
// one Chrome has many JA3s; JA3 stays for the lists and tools that still use it.
// JA4 (FoxIO, BSD-3-Clause; the rest of JA4+ is under the FoxIO licence):
//   a: transport (t), highest offered version (13, 12, ...), d/i (SNI or not), cipher count,
//      extension count (both without GREASE, capped at 99), first and last character of the
//      first ALPN value (00 without one);
//   b: SHA-256 of the sorted cipher list (4-digit hex, comma-joined), first 12 hex digits;
//   c: SHA-256 of the sorted extension list without SNI and ALPN, then '_' and the signature
//      algorithms in the order sent; first 12 hex digits.
// Sorting makes JA4 stable across Chrome's extension shuffling. The raw (_r) and original
// order (_o, _ro) forms are kept as well: users of the FoxIO tools search for those too.
#pragma once

#include <string>

#include "tls/client_hello.h"

namespace mitmscope {

struct Ja3 {
  std::string text;   // "771,4865-4866-...,0-23-...,29-23-24,0"
  std::string hash;   // MD5 of text, lower-case hex
};
Ja3 ja3(const ClientHello& hello);

struct Ja4 {
  std::string fingerprint;    // ja4:    t13d1516h2_8daaf6152771_e5627efa2ab1
  std::string raw;            // ja4_r:  the lists behind b and c, sorted
  std::string original;       // ja4_o:  hashes of the lists in the order sent (SNI and ALPN kept)
  std::string raw_original;   // ja4_ro
};
Ja4 ja4(const ClientHello& hello);

}  // namespace mitmscope
