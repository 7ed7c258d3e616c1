// Interceptor families: the issuers that sign certificates for many unrelated names, grouped even when no registry
// entry knows them, so that an unknown product or a new national root shows up as one family with its evidence.
//
// A candidate is an issuer (as the analysis groups them: its key, or its key identifier or name when never archived)
// of untrusted leaves for at least `min_domains` unrelated registrable domains, or of any intercepted leaf. Two
// candidates are one family when one of these holds, each a pure rule with its sentence of evidence:
//  - the same key: both issuer certificates carry one public key (a CA re-issued);
//  - near-duplicates: one subject name, made less than a day apart (the seven ISCA roots of 2020-2024 share one
//    name and differ by minutes), or both signed by CAs of one name;
//  - one generation profile: their leaves share key type and size (and RSA exponent), validity length, serial length
//    and certificate shape (the attribute types and extensions in order), which is what the software that mints
//    them fixes.
// Families are numbered by first use; the report lists each with first and last seen, networks, names and sources.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/time.h"
#include "x509/certificate.h"

namespace mitmscope::ooni {

struct AnalysisResult;

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
  std::string issuer_key;          // as the analysis groups issuers
  std::string name;                // the issuer's subject
  std::string spki;                // the issuer certificate's key (SHA-256 hex); empty when never archived
  std::string parent;              // the name of the CA above the issuer; empty when unknown
  std::optional<UtcSeconds> made;  // the issuer certificate's notBefore
  std::optional<LeafProfile> profile;  // its leaves' most common profile
};

struct FamilyLink {
  size_t a = 0, b = 0;             // candidate indexes
  std::string evidence;
};

// Every pair the rules join, with why.
std::vector<FamilyLink> family_links(const std::vector<FamilyCandidate>& candidates);
// Connected groups of candidates (each sorted, groups by their first member).
std::vector<std::vector<size_t>> family_groups(size_t candidates, const std::vector<FamilyLink>& links);

struct IssuerFamily {
  std::string id;                  // "family-1", by first use
  std::vector<std::string> issuer_keys, issuer_names;
  std::vector<std::string> registry;   // registry entries its members were attributed to; empty: an unknown family
  std::vector<std::string> evidence;   // why the members are one family
  std::vector<std::string> profiles;   // their leaves' profiles
  std::vector<uint32_t> certificates;  // certificate ids of the members and the CAs above them that the input holds
  UtcSeconds first_seen{}, last_seen{};
  size_t handshakes = 0, intercepted = 0;
  std::set<std::string> domains;
  std::set<uint32_t> networks;
  std::map<std::string, size_t> sources;   // handshakes per public data source
};

// The families of an analysis (after its judgement), largest first use first.
std::vector<IssuerFamily> find_families(const AnalysisResult& result, size_t min_domains);

}  // namespace mitmscope::ooni
