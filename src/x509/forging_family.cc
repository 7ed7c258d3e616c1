#include "x509/forging_family.h"

#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/embedded_files.h"

namespace mitmscope {
namespace {

constexpr std::array kNamings = {std::pair{LeafNaming::kCopiesGenuine, "copies_genuine"},
                                 std::pair{LeafNaming::kGenuinePlusSni, "genuine_plus_sni"},
                                 std::pair{LeafNaming::kSniOnly, "sni_only"}, std::pair{LeafNaming::kOther, "other"},
                                 std::pair{LeafNaming::kUnknown, "unknown"}};
constexpr std::array kValidities = {std::pair{LeafValidity::kGenuine, "genuine"}, std::pair{LeafValidity::kIssuer, "issuer"},
                                    std::pair{LeafValidity::kOwn, "own"}, std::pair{LeafValidity::kUnknown, "unknown"}};

template <typename Enum, size_t N>
std::optional<Enum> by_name(const std::array<std::pair<Enum, const char*>, N>& table, std::string_view name) {
  for (const auto& [value, text] : table) {
    if (name == text) return value;
  }
  return std::nullopt;
}

std::set<std::string> dns_set(const Certificate& certificate) {
  const auto names = certificate.dns_names();
  return {names.begin(), names.end()};
}

LeafNaming naming_of(const Certificate& leaf, std::string_view sni, const Certificate* genuine) {
  const auto names = dns_set(leaf);
  const bool sni_only = leaf.common_name() == std::string(sni) && (names.empty() || names == std::set<std::string>{std::string(sni)});
  if (genuine && genuine->subject() == leaf.subject()) {
    auto with_sni = dns_set(*genuine);
    if (with_sni == names) return LeafNaming::kCopiesGenuine;
    with_sni.insert(std::string(sni));
    if (std::includes(names.begin(), names.end(), with_sni.begin(), with_sni.end())) return LeafNaming::kGenuinePlusSni;
    return LeafNaming::kOther;
  }
  if (sni_only) return LeafNaming::kSniOnly;
  if (!genuine) return names.contains(std::string(sni)) && names.size() > 1 ? LeafNaming::kGenuinePlusSni : LeafNaming::kUnknown;
  return LeafNaming::kOther;
}

LeafValidity validity_of(const Certificate& leaf, const Certificate* genuine, const Certificate* issuer) {
  const auto same = [&](const Certificate& other) {
    return leaf.not_before() == other.not_before() && leaf.not_after() == other.not_after();
  };
  if (genuine && same(*genuine)) return LeafValidity::kGenuine;
  if (issuer && same(*issuer)) return LeafValidity::kIssuer;
  return genuine || issuer ? LeafValidity::kOwn : LeafValidity::kUnknown;
}

Result<ForgingFamily> family_from_json(const nlohmann::json& item, std::string_view origin, size_t index) {
  const auto fail = [&](std::string_view why) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: families[{}]: {}", origin, index, why));
  };
  if (!item.is_object() || !item.value("id", nlohmann::json()).is_string()) return fail("needs a string \"id\"");
  ForgingFamily family;
  family.id = item["id"].get<std::string>();
  family.name = item.value("name", family.id);
  family.provenance = item.value("provenance", "");
  if (family.provenance.empty()) return fail("needs its \"provenance\"");
  if (item.contains("issuer_key")) family.issuer_key = item["issuer_key"].get<bool>();
  if (item.contains("chain_length")) family.chain_length = item["chain_length"].get<size_t>();
  if (item.contains("naming")) {
    family.naming = by_name(kNamings, item["naming"].get<std::string>());
    if (!family.naming) return fail("unknown \"naming\"");
  }
  if (item.contains("validity")) {
    family.validity = by_name(kValidities, item["validity"].get<std::string>());
    if (!family.validity) return fail("unknown \"validity\"");
  }
  return family;
}

}  // namespace

std::string_view leaf_naming_name(LeafNaming naming) {
  for (const auto& [value, text] : kNamings) {
    if (value == naming) return text;
  }
  return "unknown";
}

std::string_view leaf_validity_name(LeafValidity validity) {
  for (const auto& [value, text] : kValidities) {
    if (value == validity) return text;
  }
  return "unknown";
}

ForgeryTraits forgery_traits(const Chain& presented, std::string_view sni, const Certificate* genuine,
                             const Certificate* issuer) {
  ForgeryTraits traits;
  traits.chain_length = presented.size();
  if (presented.empty()) return traits;
  const Certificate& leaf = presented.front();
  if (!issuer && presented.size() > 1) issuer = &presented[1];
  if (issuer) traits.issuer_key = leaf.spki_sha256() == issuer->spki_sha256();
  traits.naming = naming_of(leaf, sni, genuine);
  traits.validity = validity_of(leaf, genuine, issuer);
  return traits;
}

std::vector<FamilyMatch> matching_families(const ForgeryTraits& traits, const std::vector<ForgingFamily>& families) {
  std::vector<FamilyMatch> out;
  for (const auto& family : families) {
    FamilyMatch match{&family, {}};
    bool differs = false;
    const auto compare = [&](bool known, bool same, std::string what) {
      if (!known) return;
      if (same) match.agreed.push_back(std::move(what));
      differs = differs || !same;
    };
    compare(family.issuer_key && traits.issuer_key, family.issuer_key == traits.issuer_key,
            traits.issuer_key.value_or(false) ? "leaf carries the issuer's key" : "leaf has a key of its own");
    compare(family.naming && traits.naming != LeafNaming::kUnknown, family.naming == traits.naming,
            fmt::format("naming {}", leaf_naming_name(traits.naming)));
    compare(family.validity && traits.validity != LeafValidity::kUnknown, family.validity == traits.validity,
            fmt::format("validity {}", leaf_validity_name(traits.validity)));
    compare(family.chain_length.has_value(), family.chain_length == traits.chain_length,
            fmt::format("{} certificates sent", traits.chain_length));
    if (!differs && !match.agreed.empty()) out.push_back(std::move(match));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.agreed.size() > b.agreed.size(); });
  return out;
}

Result<std::vector<ForgingFamily>> parse_forging_families(std::string_view json_text, std::string_view origin) {
  const auto document = nlohmann::json::parse(json_text, nullptr, false);
  if (!document.is_object() || document.value("format", "") != "mitmscope-forging-families/1") {
    return make_error(ErrorCode::kParseError, fmt::format("{}: not a mitmscope-forging-families/1 document", origin));
  }
  std::vector<ForgingFamily> families;
  const auto list = document.value("families", nlohmann::json::array());
  for (size_t i = 0; i < list.size(); ++i) {
    try {
      auto family = family_from_json(list[i], origin, i);
      if (!family) return std::unexpected(family.error());
      families.push_back(std::move(*family));
    } catch (const nlohmann::json::exception& error) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: families[{}]: {}", origin, i, error.what()));
    }
  }
  return families;
}

const std::vector<ForgingFamily>& builtin_forging_families() {
  static const std::vector<ForgingFamily> families = [] {
    std::vector<ForgingFamily> all;
    for (const auto& file : embedded_forging_files()) {
      auto parsed = parse_forging_families(file.content, file.name);
      if (parsed) all.insert(all.end(), parsed->begin(), parsed->end());  // a unit test keeps the shipped file valid
    }
    return all;
  }();
  return families;
}

}  // namespace mitmscope
