// Address to autonomous system: the origin AS of the longest matching prefix, from
// either of the two sources researchers have at hand:
//  - a prefix-to-AS table in CAIDA's pfx2as text format ("prefix<TAB>length<TAB>asn",
//    where asn may be a multi-origin set "a_b" or an AS set "a,b"; "prefix/length asn"
//    is accepted too), the format of the lab's table;
//  - a MaxMind DB (GeoLite2-ASN or any MMDB with autonomous_system_number and
//    autonomous_system_organization), read with libmaxminddb.
// Which one is decided by the file's content (the MMDB metadata marker), not its name.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace mitmscope {

struct AsnInfo {
  uint32_t asn = 0;       // the first origin when there are several
  std::string origins;    // as written in the table ("9198", "9198_48716"); the number for MMDB
  std::string name;       // organization (MMDB), empty for pfx2as
  std::string prefix;     // the matching prefix, "a.b.c.d/n"
};

class AsnMap;

// A host's AS as a key, "AS9198": from the table when one is given (empty when no prefix covers the
// address), else from an "ASnnn" column of the hosts file (empty when there is none).
std::string as_key(const std::string& ip, const std::vector<std::string>& tags, const AsnMap* map);

class AsnMap {
 public:
  static Result<AsnMap> load(const std::filesystem::path& file);
  // Longest-prefix match; nullopt when no prefix covers the address or it does not parse.
  std::optional<AsnInfo> lookup(const std::string& ip) const;
  size_t prefixes() const { return entries_.size(); }
  bool is_mmdb() const { return mmdb_ != nullptr; }

  AsnMap(AsnMap&&) noexcept;
  AsnMap& operator=(AsnMap&&) noexcept;
  ~AsnMap();

 private:
  AsnMap() = default;
  static Result<AsnMap> load_pfx2as(const std::filesystem::path& file);
  static Result<AsnMap> load_mmdb(const std::filesystem::path& file);

  struct Entry {
    uint32_t asn;
    std::string origins;
    std::string prefix;
  };
  std::vector<Entry> entries_;
  // Per prefix length: network (masked) to entry index.
  std::array<std::unordered_map<uint32_t, uint32_t>, 33> v4_;
  std::array<std::unordered_map<std::string, uint32_t>, 129> v6_;
  struct Mmdb;
  std::unique_ptr<Mmdb> mmdb_;
};

}  // namespace mitmscope
