// Interceptor families over a store: every issuer of intercepted results, whatever measured them (scan, monitor,
// discover, or any public source of an ooni ingest), grouped by the rules of analyze/family_rules, with where each
// family was seen. The stored campaign report's `families` table renders these (`ooni` finds the same families in
// one pass over its input: ooni/families).
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "analyze/family_rules.h"
#include "analyze/issuer_validity.h"
#include "core/error.h"
#include "store/store.h"

namespace mitmscope {

// One issuer of intercepted results, as the store knows it.
struct FamilyMember {
  FamilyCandidate candidate;        // issuer_key: the certificate's SHA-256
  std::string known_as;             // the registry entry its results were attributed to; empty: none
  IssuerUse use;                    // sha256, results, first and last seen (der left empty)
  IssuerReach reach;                // names, networks, sources
};

struct StoredFamily {
  std::string id;                   // "family-1", by first use
  std::vector<const FamilyMember*> members;   // by first use
  std::vector<std::string> evidence;          // why the members are one family (one fewer than the members)
  std::set<std::string> known_as;             // empty: a family no registry entry knows
  std::string first_seen, last_seen;
  size_t results = 0;
  std::set<std::string> names, networks;
  std::map<std::string, size_t> sources;
  std::vector<std::string> profiles;          // the members' leaf profiles, distinct
};

// Pure: the members grouped into families, by first use. The families point into `members`.
std::vector<StoredFamily> group_members(const std::vector<FamilyMember>& members);

// Every intercepting issuer as a member: its certificate described (one that does not parse is described by its
// SHA-256 alone), its reach, its leaves' profile and attribution from its latest intercepted result. `issuers` is
// issuer_validity(store), which the report reads once for its intermediates table too.
Result<std::vector<FamilyMember>> family_members(Store& store, const std::vector<IssuerValidity>& issuers);

}  // namespace mitmscope
