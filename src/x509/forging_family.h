// Which kind of product forged a certificate, when its CA is unknown: the traits real interception
// products show, measured in the lab (docs/LAB.md, "Real products") or published, held against what
// was presented. A trait is a yes/no fact of one answer:
//   issuer_key     the leaf carries its issuer's own public key (squid and mitmproxy sign every
//                  leaf for the CA's key; sslsplit and the 2019 device mint their own)
//   naming         copies the genuine subject and names | the genuine names plus the SNI | the SNI alone
//   validity       the genuine certificate's | the issuer's | its own
//   chain_length   how many certificates were sent
// A family matches when no trait known on both sides differs; it says which agreed. The families are
// data (data/fingerprints/forging-families.json, compiled in), each with its provenance.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "x509/certificate.h"

namespace mitmscope {

enum class LeafNaming { kCopiesGenuine, kGenuinePlusSni, kSniOnly, kOther, kUnknown };
enum class LeafValidity { kGenuine, kIssuer, kOwn, kUnknown };
std::string_view leaf_naming_name(LeafNaming naming);     // "copies_genuine", "genuine_plus_sni", "sni_only", ...
std::string_view leaf_validity_name(LeafValidity validity);  // "genuine", "issuer", "own", "unknown"

struct ForgeryTraits {
  std::optional<bool> issuer_key;
  LeafNaming naming = LeafNaming::kUnknown;
  LeafValidity validity = LeafValidity::kUnknown;
  size_t chain_length = 0;
};

// `genuine`: the host's own leaf when known (the scan's template); `issuer`: the certificate that signed
// the presented leaf (sent with it, or the registry's), when known.
ForgeryTraits forgery_traits(const Chain& presented, std::string_view sni, const Certificate* genuine,
                             const Certificate* issuer);

struct ForgingFamily {
  std::string id;
  std::string name;
  std::optional<bool> issuer_key;
  std::optional<LeafNaming> naming;
  std::optional<LeafValidity> validity;
  std::optional<size_t> chain_length;
  std::string provenance;
};

struct FamilyMatch {
  const ForgingFamily* family = nullptr;
  std::vector<std::string> agreed;   // "issuer_key", "naming sni_only", ...
};

// The families none of whose known traits differ, most traits agreeing first; none agreeing is no match.
std::vector<FamilyMatch> matching_families(const ForgeryTraits& traits, const std::vector<ForgingFamily>& families);

Result<std::vector<ForgingFamily>> parse_forging_families(std::string_view json_text, std::string_view origin);
// The shipped families (embedded at build time); parsed once.
const std::vector<ForgingFamily>& builtin_forging_families();

}  // namespace mitmscope
