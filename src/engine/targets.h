// Target planning: the hosts file, read in a pseudo-random order, split into shards,
// filtered by the address policy, the blocklist and the allowlist (ZMap's conventions).
//
// The file is indexed once (8 bytes per line) and lines are read back on demand, so
// a million hosts cost 8 MB, not a million parsed records. The order is a walk of a
// cyclic multiplicative group modulo a prime above the host count, seeded: every
// host exactly once, neighbours in the file far apart in time, and shard i of n takes
// every n-th element of the same walk, so shards are disjoint and their union is
// the whole list for any n.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "engine/endpoint.h"

namespace mitmscope {

struct HostTarget {
  Endpoint endpoint;
  std::vector<std::string> tags;   // the extra columns of the line, kept in the output
  size_t line = 0;
};

// CIDR ranges from a file (one per line, # comments), or from text.
class PrefixSet {
 public:
  static Result<PrefixSet> load(const std::filesystem::path& file);
  Result<void> add(std::string_view cidr);
  bool contains(const Endpoint& endpoint) const;
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  std::vector<std::pair<uint32_t, int>> v4_;
  std::vector<std::pair<std::array<uint8_t, 16>, int>> v6_;
};

struct TargetOptions {
  uint64_t seed = 1;
  uint32_t shards = 1;
  uint32_t shard = 0;
  bool allow_private = false;
  std::optional<PrefixSet> blocklist;
  std::optional<PrefixSet> allowlist;
  uint16_t default_port = 443;
};

struct SkippedTarget {
  size_t line = 0;
  std::string reason;
};

class HostList {
 public:
  static Result<HostList> open(const std::filesystem::path& file, TargetOptions options);
  // The next host of this shard, in the seeded order; nullopt at the end. Lines that
  // cannot be used are passed over and reported through skipped().
  std::optional<HostTarget> next();
  size_t total_lines() const { return lines_; }
  // The first kSkippedKept lines passed over, with why; skipped_count() counts them all.
  const std::vector<SkippedTarget>& skipped() const { return skipped_; }
  size_t skipped_count() const { return skipped_count_; }
  static constexpr size_t kSkippedKept = 1000;
  // One line offset is kept per kIndexStride lines (a file of 10^9 targets indexes in 125 MB, not 8 GB);
  // a line is found from the nearest one before it.
  static constexpr size_t kIndexStride = 64;
  // How many hosts this shard holds in all (for progress); counted from the index, so exact.
  size_t shard_size() const;

 private:
  std::optional<std::string> read_line(size_t index);
  void skip(size_t line, std::string reason);
  std::filesystem::path path_;
  TargetOptions options_;
  std::vector<uint64_t> offsets_;   // of lines 0, kIndexStride, 2 kIndexStride, ...
  size_t lines_ = 0;
  UniqueFd fd_;
  // The cyclic walk.
  uint64_t prime_ = 0, generator_ = 0, first_ = 0, current_ = 0, position_ = 0;
  bool started_ = false;
  std::vector<SkippedTarget> skipped_;
  size_t skipped_count_ = 0;

 public:
  ~HostList();
  HostList(HostList&& other) noexcept;
  HostList& operator=(HostList&&) = delete;
  HostList(const HostList&) = delete;

 private:
  HostList() = default;
};

// Domain names, one per line (# comments); bad lines are reported with their line number.
Result<std::vector<std::string>> read_domains(const std::filesystem::path& file, std::vector<SkippedTarget>& skipped);

}  // namespace mitmscope
