#include "x509/forging.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

namespace mitmscope {
namespace {

std::optional<double> shift_hours(std::optional<UtcSeconds> presented, std::optional<UtcSeconds> genuine) {
  if (!presented || !genuine) return std::nullopt;
  return static_cast<double>((*presented - *genuine).count()) / 3600.0;
}

int bit_length(const std::vector<uint8_t>& magnitude) {
  for (size_t i = 0; i < magnitude.size(); ++i) {
    if (magnitude[i] != 0) {
      int bits = 8;
      while (!(magnitude[i] & (1u << (bits - 1)))) --bits;
      return static_cast<int>((magnitude.size() - i - 1) * 8) + bits;
    }
  }
  return 0;
}

bool bit_at(const std::vector<uint8_t>& magnitude, int index_from_least) {
  const size_t byte = magnitude.size() - 1 - static_cast<size_t>(index_from_least / 8);
  return (magnitude[byte] >> (index_from_least % 8)) & 1u;
}

}  // namespace

std::string describe_key(const PublicKeyInfo& key) {
  std::string text = fmt::format("{}-{}", key.type, key.bits);
  if (!key.rsa_exponent.empty()) text += " e=" + key.rsa_exponent;
  if (!key.curve.empty()) text += " " + key.curve;
  return text;
}

ForgingAnalysis analyze_forging(const Certificate& presented, const Certificate& genuine) {
  ForgingAnalysis analysis;
  analysis.same_certificate = presented == genuine;
  analysis.same_subject = presented.subject() == genuine.subject();
  auto presented_names = presented.subject_alt_names();
  auto genuine_names = genuine.subject_alt_names();
  analysis.same_subject_alt_names = presented_names == genuine_names;
  analysis.presented_issuer = presented.issuer();
  analysis.genuine_issuer = genuine.issuer();
  analysis.same_issuer = analysis.presented_issuer == analysis.genuine_issuer;
  analysis.same_key = presented.spki_sha256() == genuine.spki_sha256();
  analysis.presented_spki_sha256 = presented.spki_sha256_hex();
  analysis.not_before_shift_hours = shift_hours(presented.not_before(), genuine.not_before());
  analysis.not_after_shift_hours = shift_hours(presented.not_after(), genuine.not_after());

  const auto presented_serial = presented.serial_bytes();
  const auto genuine_serial = genuine.serial_bytes();
  const int presented_bits = bit_length(presented_serial);
  analysis.serial_bits = bit_length(genuine_serial);
  analysis.serial_length_changed = presented_bits > analysis.serial_bits;
  if (analysis.serial_length_changed) {
    analysis.serial_trailing_bits_differing = presented_bits;
  } else {
    int kept = 0;
    for (int bit = analysis.serial_bits - 1; bit >= 0; --bit) {
      const bool presented_bit = bit < presented_bits && bit_at(presented_serial, bit);
      if (presented_bit != bit_at(genuine_serial, bit)) break;
      ++kept;
    }
    analysis.serial_leading_bits_kept = kept;
    analysis.serial_trailing_bits_differing = analysis.serial_bits - kept;
  }

  analysis.presented_key = presented.public_key();
  analysis.genuine_key = genuine.public_key();
  const auto presented_extensions = presented.extensions();
  const auto genuine_extensions = genuine.extensions();
  auto has = [](const std::vector<ExtensionInfo>& list, const std::string& oid) {
    return std::any_of(list.begin(), list.end(), [&](const ExtensionInfo& e) { return e.oid == oid; });
  };
  for (const auto& extension : genuine_extensions) {
    (has(presented_extensions, extension.oid) ? analysis.extensions_kept : analysis.extensions_dropped)
        .push_back(extension);
  }
  for (const auto& extension : presented_extensions) {
    if (!has(genuine_extensions, extension.oid)) analysis.extensions_added.push_back(extension);
  }
  analysis.presented_signature_algorithm = presented.signature_algorithm();
  analysis.genuine_signature_algorithm = genuine.signature_algorithm();
  return analysis;
}

ForgingProfile summarize_forging(std::span<const ForgingAnalysis> analyses) {
  ForgingProfile profile;
  profile.pairs = analyses.size();
  if (analyses.empty()) return profile;
  profile.copies_subject = std::all_of(analyses.begin(), analyses.end(), [](const auto& a) { return a.same_subject; });
  profile.copies_subject_alt_names =
      std::all_of(analyses.begin(), analyses.end(), [](const auto& a) { return a.same_subject_alt_names; });

  std::set<std::string> keys_seen;
  std::set<std::string> spkis;
  std::map<std::string, std::pair<size_t, size_t>> dropped;  // oid -> (dropped, present in genuine)
  std::map<std::string, size_t> added;
  for (const auto& analysis : analyses) {
    if (analysis.not_before_shift_hours &&
        std::find(profile.validity_shifts_seen.begin(), profile.validity_shifts_seen.end(),
                  *analysis.not_before_shift_hours) == profile.validity_shifts_seen.end()) {
      profile.validity_shifts_seen.push_back(*analysis.not_before_shift_hours);
    }
    profile.serial_random_trailing_bits =
        std::max(profile.serial_random_trailing_bits, analysis.serial_trailing_bits_differing);
    const auto key = describe_key(analysis.presented_key);
    if (keys_seen.insert(key).second) profile.key_types.push_back(key);
    spkis.insert(analysis.presented_spki_sha256);
    for (const auto& extension : analysis.extensions_dropped) ++dropped[extension.oid].first;
    for (const auto& extension : analysis.extensions_dropped) ++dropped[extension.oid].second;
    for (const auto& extension : analysis.extensions_kept) ++dropped[extension.oid].second;
    for (const auto& extension : analysis.extensions_added) ++added[extension.oid];
  }
  if (profile.validity_shifts_seen.size() == 1) profile.validity_shift_hours = profile.validity_shifts_seen.front();
  for (const auto& [oid, counts] : dropped) {
    if (counts.first == counts.second) profile.extensions_always_dropped.push_back(oid);
  }
  for (const auto& [oid, count] : added) {
    if (count == analyses.size()) profile.extensions_always_added.push_back(oid);
  }
  profile.distinct_presented_keys = spkis.size();
  return profile;
}

}  // namespace mitmscope
