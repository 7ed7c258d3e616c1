// Interceptor families: the issuers that sign certificates for many unrelated names, grouped even when no registry
// entry knows them, so that an unknown product or a new national root shows up as one family with its evidence.
//
// A candidate is an issuer (as the analysis groups them: its key, or its key identifier or name when never archived)
// of untrusted leaves for at least `min_domains` unrelated registrable domains, or of any intercepted leaf. The rules
// that join two candidates into one family are analyze/family_rules's, shared with the stored campaign report.
// Families are numbered by first use; the report lists each with first and last seen, networks, names and sources.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analyze/family_rules.h"
#include "core/time.h"

namespace mitmscope::ooni {

struct AnalysisResult;

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
