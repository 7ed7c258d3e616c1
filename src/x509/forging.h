// Forging analysis: what an interceptor changed when it minted the certificate it
// presented in place of the genuine one for the same host.
//
// The 2019 Kazakh interceptor, for example, copied subject and SAN, shifted the
// validity 6 hours earlier, kept the serial but for its last 33 bits, used an
// RSA-2048 key with e=3 and dropped every other extension (shared/BRIEF.md).
// analyze_forging() measures those properties on one pair; summarize_forging()
// combines many pairs into the interceptor's rules, since one pair cannot tell a
// random bit that happened to match from a copied one.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "x509/certificate.h"

namespace mitmscope {

struct ForgingAnalysis {
  bool same_certificate = false;
  bool same_subject = false;
  bool same_subject_alt_names = false;
  bool same_issuer = false;
  std::string presented_issuer;
  std::string genuine_issuer;
  bool same_key = false;
  // Signed hours by which the presented validity starts and ends later than the
  // genuine one (negative: earlier; the 2019 interceptor gives -6).
  std::optional<double> not_before_shift_hours;
  std::optional<double> not_after_shift_hours;
  // Serial numbers, compared as integers of the genuine serial's bit length.
  int serial_bits = 0;                  // bit length of the genuine serial
  int serial_leading_bits_kept = 0;     // identical bits from the most significant one
  int serial_trailing_bits_differing = 0;  // serial_bits - kept, or the longer length when sizes differ
  bool serial_length_changed = false;
  PublicKeyInfo presented_key;
  PublicKeyInfo genuine_key;
  std::vector<ExtensionInfo> extensions_dropped;  // in the genuine, not in the presented
  std::vector<ExtensionInfo> extensions_added;    // in the presented, not in the genuine
  std::vector<ExtensionInfo> extensions_kept;
  std::string presented_spki_sha256;
  std::string presented_signature_algorithm;
  std::string genuine_signature_algorithm;
};

ForgingAnalysis analyze_forging(const Certificate& presented, const Certificate& genuine);

// The interceptor's rules as far as a set of pairs shows them.
struct ForgingProfile {
  size_t pairs = 0;
  bool copies_subject = false;               // in every pair
  bool copies_subject_alt_names = false;
  std::optional<double> validity_shift_hours;  // when every pair shows the same not_before shift
  std::vector<double> validity_shifts_seen;    // distinct shifts, in order seen
  int serial_random_trailing_bits = 0;       // the most trailing bits that ever differed
  std::vector<std::string> key_types;        // distinct "RSA-2048 e=3" descriptions
  std::vector<std::string> extensions_always_dropped;  // OIDs dropped in every pair that had them
  std::vector<std::string> extensions_always_added;
  size_t distinct_presented_keys = 0;        // one per host: a key minted per host (BRIEF)
};

ForgingProfile summarize_forging(std::span<const ForgingAnalysis> analyses);
std::string describe_key(const PublicKeyInfo& key);

}  // namespace mitmscope
