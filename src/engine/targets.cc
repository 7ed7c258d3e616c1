#include "engine/targets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <random>
#include <utility>

#include <fmt/format.h>

namespace mitmscope {
namespace {

// The modulus is a prime just above the number of lines, far below 2^32, so products fit in 64 bits.
uint64_t multiply_mod(uint64_t a, uint64_t b, uint64_t modulus) { return (a % modulus) * (b % modulus) % modulus; }

uint64_t power_mod(uint64_t base, uint64_t exponent, uint64_t modulus) {
  uint64_t result = 1;
  base %= modulus;
  while (exponent) {
    if (exponent & 1) result = multiply_mod(result, base, modulus);
    base = multiply_mod(base, base, modulus);
    exponent >>= 1;
  }
  return result;
}

bool is_prime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

std::vector<uint64_t> prime_factors(uint64_t n) {
  std::vector<uint64_t> factors;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) {
      factors.push_back(d);
      while (n % d == 0) n /= d;
    }
  }
  if (n > 1) factors.push_back(n);
  return factors;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

}  // namespace

Result<void> PrefixSet::add(std::string_view cidr) {
  const size_t slash = cidr.find('/');
  const std::string address(cidr.substr(0, slash));
  int length = -1;
  if (slash != std::string_view::npos) {
    auto [end, error] = std::from_chars(cidr.data() + slash + 1, cidr.data() + cidr.size(), length);
    if (error != std::errc() || end != cidr.data() + cidr.size()) length = -2;
  }
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    if (length == -1) length = 32;
    if (length < 0 || length > 32) return make_error(ErrorCode::kParseError, fmt::format("'{}': bad prefix length", cidr));
    v4_.emplace_back(ntohl(v4.s_addr), length);
    return {};
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    if (length == -1) length = 128;
    if (length < 0 || length > 128) return make_error(ErrorCode::kParseError, fmt::format("'{}': bad prefix length", cidr));
    std::array<uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), &v6, 16);
    v6_.emplace_back(bytes, length);
    return {};
  }
  return make_error(ErrorCode::kParseError, fmt::format("'{}' is not an address or CIDR prefix", printable(cidr)));
}

Result<PrefixSet> PrefixSet::load(const std::filesystem::path& file) {
  std::ifstream stream(file);
  if (!stream) return make_error(ErrorCode::kFileNotFound, fmt::format("{}: cannot open", file.string()));
  PrefixSet set;
  std::string line;
  for (size_t number = 1; std::getline(stream, line); ++number) {
    std::string_view text = trim(line);
    if (const size_t hash = text.find('#'); hash != std::string_view::npos) text = trim(text.substr(0, hash));
    if (text.empty()) continue;
    if (auto added = set.add(text); !added) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: line {}: {}", file.string(), number, added.error().message));
    }
  }
  return set;
}

bool PrefixSet::contains(const Endpoint& endpoint) const {
  if (endpoint.family == AF_INET) {
    const uint32_t address = ntohl(reinterpret_cast<const sockaddr_in*>(&endpoint.address)->sin_addr.s_addr);
    for (const auto& [network, length] : v4_) {
      const uint32_t mask = length == 0 ? 0 : ~0u << (32 - length);
      if ((address & mask) == (network & mask)) return true;
    }
    return false;
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&endpoint.address)->sin6_addr);
  for (const auto& [network, length] : v6_) {
    int remaining = length;
    bool match = true;
    for (int i = 0; i < 16 && remaining > 0 && match; ++i, remaining -= 8) {
      const uint8_t mask = remaining >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - remaining));
      match = (bytes[i] & mask) == (network[static_cast<size_t>(i)] & mask);
    }
    if (match) return true;
  }
  return false;
}

HostList::~HostList() = default;

HostList::HostList(HostList&& other) noexcept
    : path_(std::move(other.path_)), options_(std::move(other.options_)), offsets_(std::move(other.offsets_)),
      lines_(other.lines_), fd_(std::move(other.fd_)), prime_(other.prime_), generator_(other.generator_), first_(other.first_),
      current_(other.current_), position_(other.position_), started_(other.started_), skipped_(std::move(other.skipped_)),
      skipped_count_(other.skipped_count_) {}

Result<HostList> HostList::open(const std::filesystem::path& file, TargetOptions options) {
  if (options.shards == 0 || options.shard >= options.shards) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("--shard {} is not below --shards {}", options.shard, options.shards));
  }
  HostList list;
  list.path_ = file;
  list.options_ = std::move(options);
  list.fd_.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!list.fd_) return make_error(ErrorCode::kFileNotFound, fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno)));
  // Index: the offset of every kIndexStride-th line, and the count of lines.
  char buffer[1 << 16];
  uint64_t offset = 0;
  bool at_line_start = true;
  ssize_t count;
  while ((count = ::read(list.fd_.get(), buffer, sizeof buffer)) > 0) {
    for (ssize_t i = 0; i < count; ++i) {
      if (at_line_start && list.lines_++ % kIndexStride == 0) list.offsets_.push_back(offset + static_cast<uint64_t>(i));
      at_line_start = buffer[i] == '\n';
    }
    offset += static_cast<uint64_t>(count);
  }
  const uint64_t n = list.lines_;
  if (n >= (1ull << 32) - 100) return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: too many lines", file.string()));
  uint64_t prime = std::max<uint64_t>(n + 1, 3);
  while (!is_prime(prime)) ++prime;
  list.prime_ = prime;
  const auto factors = prime_factors(prime - 1);
  std::mt19937_64 random(list.options_.seed);
  for (;;) {
    const uint64_t candidate = 2 + random() % (prime - 2 > 0 ? prime - 2 : 1);
    bool primitive = true;
    for (uint64_t factor : factors) primitive = primitive && power_mod(candidate, (prime - 1) / factor, prime) != 1;
    if (primitive || prime == 3) {
      list.generator_ = prime == 3 ? 2 : candidate;
      break;
    }
  }
  list.first_ = 1 + random() % (prime - 1);
  return list;
}

size_t HostList::shard_size() const {
  const size_t n = lines_;
  // The walk visits prime-1 elements; element k belongs to shard k mod shards. Values above n are
  // skipped, so the exact count needs the walk: estimate evenly (used for progress only).
  return (n + options_.shards - 1 - options_.shard) / options_.shards;
}

// Line `index`: from the indexed line before it, past the newlines between, up to its own newline.
std::optional<std::string> HostList::read_line(size_t index) {
  uint64_t offset = offsets_[index / kIndexStride];
  size_t to_pass = index % kIndexStride;
  std::string line;
  char buffer[4096];
  for (;;) {
    const ssize_t count = ::pread(fd_.get(), buffer, sizeof buffer, static_cast<off_t>(offset));
    if (count <= 0) break;
    const char* at = buffer;
    const char* const end = buffer + count;
    while (to_pass > 0) {
      const auto* newline = static_cast<const char*>(std::memchr(at, '\n', static_cast<size_t>(end - at)));
      if (!newline) break;
      at = newline + 1;
      --to_pass;
    }
    offset += static_cast<uint64_t>(count);
    if (to_pass > 0) continue;   // the newlines to pass go on in the next block
    const auto* newline = static_cast<const char*>(std::memchr(at, '\n', static_cast<size_t>(end - at)));
    line.append(at, static_cast<size_t>((newline ? newline : end) - at));
    if (newline) break;
    if (line.size() > 65536) return std::nullopt;  // a line that long is no host entry
  }
  return line;
}

void HostList::skip(size_t line, std::string reason) {
  if (skipped_count_++ < kSkippedKept) skipped_.push_back({line, std::move(reason)});
}

std::optional<HostTarget> HostList::next() {
  const uint64_t n = lines_;
  while (n > 0) {
    if (!started_) {
      current_ = first_;
      started_ = true;
    } else {
      current_ = multiply_mod(current_, generator_, prime_);
      if (current_ == first_) return std::nullopt;  // the cycle is complete
    }
    const uint64_t position = position_++;
    if (current_ > n) continue;  // outside the list: skipped, but still counted for shard assignment
    if (position % options_.shards != options_.shard) continue;
    const size_t index = static_cast<size_t>(current_ - 1);
    const size_t line_number = index + 1;
    auto line = read_line(index);
    if (!line) {
      skip(line_number, "line longer than 64 KiB");
      continue;
    }
    std::string_view text = trim(*line);
    if (const size_t hash = text.find('#'); hash != std::string_view::npos) text = trim(text.substr(0, hash));
    if (text.empty()) continue;
    std::vector<std::string> fields;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find_first_of(" \t,", start);
      if (end == std::string_view::npos) end = text.size();
      if (end > start) fields.emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
    auto endpoint = parse_endpoint(fields.front(), options_.default_port);
    if (!endpoint) {
      skip(line_number, endpoint.error().message);
      continue;
    }
    if (auto allowed = check_address_policy(*endpoint, options_.allow_private); !allowed) {
      skip(line_number, allowed.error().message);
      continue;
    }
    if (options_.blocklist && options_.blocklist->contains(*endpoint)) {
      skip(line_number, fmt::format("{} is in the blocklist", endpoint->ip));
      continue;
    }
    if (options_.allowlist && !options_.allowlist->contains(*endpoint)) {
      skip(line_number, fmt::format("{} is not in the allowlist", endpoint->ip));
      continue;
    }
    HostTarget target{std::move(*endpoint), {fields.begin() + 1, fields.end()}, line_number};
    return target;
  }
  return std::nullopt;
}

Result<std::vector<std::string>> read_domains(const std::filesystem::path& file, std::vector<SkippedTarget>& skipped) {
  std::ifstream stream(file);
  if (!stream) return make_error(ErrorCode::kFileNotFound, fmt::format("{}: cannot open", file.string()));
  std::vector<std::string> domains;
  std::string line;
  for (size_t number = 1; std::getline(stream, line); ++number) {
    std::string_view text = trim(line);
    if (const size_t hash = text.find('#'); hash != std::string_view::npos) text = trim(text.substr(0, hash));
    // Top lists come as "rank,domain": take the last comma-separated field.
    if (const size_t comma = text.rfind(','); comma != std::string_view::npos) text = trim(text.substr(comma + 1));
    if (text.empty()) continue;
    auto name = check_server_name(text);
    if (!name) {
      skipped.push_back({number, name.error().message});
      continue;
    }
    domains.push_back(std::move(*name));
  }
  if (domains.empty()) return make_error(ErrorCode::kParseError, fmt::format("{}: no usable domain", file.string()));
  return domains;
}

}  // namespace mitmscope
