// Interceptor families, the pure rules: when two CAs that sign certificates for many unrelated names are one
// interceptor, even when no registry entry knows them. Both `ooni` (over public measurements, ooni/families) and the
// stored campaign report (report/campaign_report, over any store) group their issuers with these rules.
//
// Two candidates are one family when one of these holds, each with its sentence of evidence:
//  - the same key: both issuer certificates carry one public key (a CA re-issued);
//  - near-duplicates: one subject name, made less than a day apart (the seven ISCA roots of 2020-2024 share one
//    name and differ by minutes), or both signed by CAs of one name;
//  - one generation profile: their leaves share key type and size (and RSA exponent), validity length, serial length
//    and certificate shape (the attribute types and extensions in order), which is what the software that mints
//    them fixes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "x509/certificate.h"

namespace mitmscope {

// How the software that minted a leaf shows in it.
struct LeafProfile {
  std::string key;                 // "RSA 2048 e=65537", "EC prime256v1"
  int64_t validity_days = 0;
  size_t serial_bytes = 0;
  std::string shape;               // x509/shape's shape_id
  bool operator==(const LeafProfile&) const = default;
  auto operator<=>(const LeafProfile&) const = default;
};
LeafProfile leaf_profile(const Certificate& leaf);
std::string profile_text(const LeafProfile& profile);  // "RSA 2048 e=65537, 365 days, 16-byte serials, shape 0123.."

struct FamilyCandidate {
  std::string issuer_key;          // how the caller names the issuer (a SHA-256, the analysis's issuer key)
  std::string name;                // the issuer's subject
  std::string spki;                // the issuer certificate's key (SHA-256 hex); empty when never archived
  std::string parent;              // the name of the CA above the issuer; empty when unknown or self-signed
  std::optional<UtcSeconds> made;  // the issuer certificate's notBefore
  std::optional<LeafProfile> profile;  // its leaves' most common profile
};

// name, spki, parent (none for a root: self-issued and self-signed) and made of an issuer certificate (issuer_key
// and profile are the caller's).
FamilyCandidate describe_ca(const Certificate& issuer);

struct FamilyLink {
  size_t a = 0, b = 0;             // candidate indexes
  std::string evidence;
};

// Every pair the rules join, with why.
std::vector<FamilyLink> family_links(const std::vector<FamilyCandidate>& candidates);
// Connected groups of candidates (each sorted, groups by their first member).
std::vector<std::vector<size_t>> family_groups(size_t candidates, const std::vector<FamilyLink>& links);
// The links that joined one group, one fewer than its members: why each member belongs, without every pair.
std::vector<std::string> spanning_evidence(const std::vector<size_t>& group, const std::vector<FamilyLink>& links);

}  // namespace mitmscope
