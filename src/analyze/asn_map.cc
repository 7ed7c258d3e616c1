#include "analyze/asn_map.h"

#include <arpa/inet.h>
#include <maxminddb.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace mitmscope {

struct AsnMap::Mmdb {
  MMDB_s db{};
  bool open = false;
  ~Mmdb() {
    if (open) MMDB_close(&db);
  }
};

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// "9198", "9198_48716", "9198,48716", "AS9198": the first origin.
std::optional<uint32_t> first_origin(std::string_view origins) {
  if (origins.starts_with("AS") || origins.starts_with("as")) origins.remove_prefix(2);
  uint32_t asn = 0;
  const auto [end, error] = std::from_chars(origins.data(), origins.data() + origins.size(), asn);
  if (error != std::errc() || end == origins.data()) return std::nullopt;
  if (end != origins.data() + origins.size() && *end != '_' && *end != ',') return std::nullopt;
  return asn;
}

bool has_mmdb_marker(const std::filesystem::path& file) {
  // The metadata section starts with this marker, within the last 128 KiB of the file.
  static constexpr std::string_view kMarker = "\xab\xcd\xefMaxMind.com";
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(in.tellg());
  const std::streamoff window = std::min<std::streamoff>(size, 128 * 1024);
  in.seekg(size - window);
  std::string tail(static_cast<size_t>(window), '\0');
  in.read(tail.data(), window);
  return tail.find(kMarker) != std::string::npos;
}

}  // namespace

AsnMap::AsnMap(AsnMap&&) noexcept = default;
AsnMap& AsnMap::operator=(AsnMap&&) noexcept = default;
AsnMap::~AsnMap() = default;

Result<AsnMap> AsnMap::load(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    return make_error(ErrorCode::kFileNotFound, fmt::format("{}: no such prefix-to-AS file", file.string()));
  }
  if (has_mmdb_marker(file)) return load_mmdb(file);
  return load_pfx2as(file);
}

Result<AsnMap> AsnMap::load_pfx2as(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot read", file.string()));
  AsnMap map;
  std::string raw;
  size_t line_number = 0;
  while (std::getline(in, raw)) {
    ++line_number;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    auto fields = split_fields(line);
    std::string address;
    std::string_view length_text, origins;
    if (fields.size() == 3) {
      address = std::string(fields[0]);
      length_text = fields[1];
      origins = fields[2];
    } else if (fields.size() == 2 && fields[0].find('/') != std::string_view::npos) {
      const size_t slash = fields[0].find('/');
      address = std::string(fields[0].substr(0, slash));
      length_text = fields[0].substr(slash + 1);
      origins = fields[1];
    } else {
      return make_error(ErrorCode::kParseError,
                        fmt::format("{}: line {}: expected 'prefix<TAB>length<TAB>asn' (pfx2as), got {} fields",
                                    file.string(), line_number, fields.size()));
    }
    int length = -1;
    const auto [end, parse_error] = std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
    const auto asn = first_origin(origins);
    if (!asn) {
      return make_error(ErrorCode::kParseError,
                        fmt::format("{}: line {}: field asn: '{}' is not an AS number", file.string(), line_number, origins));
    }
    in_addr v4{};
    in6_addr v6{};
    const auto index = static_cast<uint32_t>(map.entries_.size());
    if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
      if (parse_error != std::errc() || end != length_text.data() + length_text.size() || length < 0 || length > 32) {
        return make_error(ErrorCode::kParseError,
                          fmt::format("{}: line {}: field length: '{}' is not 0-32", file.string(), line_number, length_text));
      }
      const uint32_t mask = length == 0 ? 0 : ~uint32_t(0) << (32 - length);
      map.v4_[static_cast<size_t>(length)].try_emplace(ntohl(v4.s_addr) & mask, index);
    } else if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
      if (parse_error != std::errc() || end != length_text.data() + length_text.size() || length < 0 || length > 128) {
        return make_error(ErrorCode::kParseError,
                          fmt::format("{}: line {}: field length: '{}' is not 0-128", file.string(), line_number, length_text));
      }
      std::string key(reinterpret_cast<const char*>(v6.s6_addr), 16);
      for (int bit = length; bit < 128; ++bit) key[static_cast<size_t>(bit / 8)] &= static_cast<char>(~(0x80 >> (bit % 8)));
      map.v6_[static_cast<size_t>(length)].try_emplace(std::move(key), index);
    } else {
      return make_error(ErrorCode::kParseError,
                        fmt::format("{}: line {}: field prefix: '{}' is not an IP address", file.string(), line_number, address));
    }
    map.entries_.push_back({*asn, std::string(origins), fmt::format("{}/{}", address, length)});
  }
  if (map.entries_.empty()) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: no prefixes (expected pfx2as lines or an MMDB file)", file.string()));
  }
  return map;
}

Result<AsnMap> AsnMap::load_mmdb(const std::filesystem::path& file) {
  AsnMap map;
  map.mmdb_ = std::make_unique<Mmdb>();
  const int status = MMDB_open(file.c_str(), MMDB_MODE_MMAP, &map.mmdb_->db);
  if (status != MMDB_SUCCESS) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: not a usable MaxMind DB: {}", file.string(), MMDB_strerror(status)));
  }
  map.mmdb_->open = true;
  return map;
}

std::optional<AsnInfo> AsnMap::lookup(const std::string& ip) const {
  if (mmdb_) {
    int gai_error = 0, mmdb_error = 0;
    auto result = MMDB_lookup_string(&mmdb_->db, ip.c_str(), &gai_error, &mmdb_error);
    if (gai_error != 0 || mmdb_error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;
    MMDB_entry_data_s number{}, name{};
    if (MMDB_get_value(&result.entry, &number, "autonomous_system_number", nullptr) != MMDB_SUCCESS || !number.has_data) {
      return std::nullopt;
    }
    AsnInfo info;
    if (number.type == MMDB_DATA_TYPE_UINT32) {
      info.asn = number.uint32;
    } else if (number.type == MMDB_DATA_TYPE_UINT16) {
      info.asn = number.uint16;
    } else if (number.type == MMDB_DATA_TYPE_UINT64) {
      info.asn = static_cast<uint32_t>(number.uint64);
    } else {
      return std::nullopt;
    }
    info.origins = std::to_string(info.asn);
    if (MMDB_get_value(&result.entry, &name, "autonomous_system_organization", nullptr) == MMDB_SUCCESS && name.has_data &&
        name.type == MMDB_DATA_TYPE_UTF8_STRING) {
      info.name.assign(name.utf8_string, name.data_size);
    }
    // An IPv4 address in an IPv6 tree: the netmask counts the 96 bits of the ::/96 mapping.
    const bool v4 = ip.find(':') == std::string::npos;
    int netmask = result.netmask;
    if (v4 && mmdb_->db.metadata.ip_version == 6) netmask = std::max(0, netmask - 96);
    in_addr address{};
    if (v4 && inet_pton(AF_INET, ip.c_str(), &address) == 1) {
      const uint32_t mask = netmask == 0 ? 0 : ~uint32_t(0) << (32 - netmask);
      in_addr network{htonl(ntohl(address.s_addr) & mask)};
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &network, text, sizeof text);
      info.prefix = fmt::format("{}/{}", text, netmask);
    } else {
      info.prefix = fmt::format("{}/{}", ip, netmask);
    }
    return info;
  }
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    const uint32_t address = ntohl(v4.s_addr);
    for (int length = 32; length >= 0; --length) {
      const auto& table = v4_[static_cast<size_t>(length)];
      if (table.empty()) continue;
      const uint32_t mask = length == 0 ? 0 : ~uint32_t(0) << (32 - length);
      if (auto it = table.find(address & mask); it != table.end()) {
        const auto& entry = entries_[it->second];
        return AsnInfo{entry.asn, entry.origins, {}, entry.prefix};
      }
    }
    return std::nullopt;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    std::string key(reinterpret_cast<const char*>(v6.s6_addr), 16);
    for (int length = 128; length >= 0; --length) {
      if (length < 128) key[static_cast<size_t>(length / 8)] &= static_cast<char>(~(0x80 >> (length % 8)));
      const auto& table = v6_[static_cast<size_t>(length)];
      if (table.empty()) continue;
      if (auto it = table.find(key); it != table.end()) {
        const auto& entry = entries_[it->second];
        return AsnInfo{entry.asn, entry.origins, {}, entry.prefix};
      }
    }
  }
  return std::nullopt;
}

std::string as_key(const std::string& ip, const std::vector<std::string>& tags, const AsnMap* map) {
  if (map) {
    const auto asn = map->lookup(ip);
    return asn ? "AS" + std::to_string(asn->asn) : std::string();
  }
  for (const auto& tag : tags) {
    if (tag.size() > 2 && (tag.starts_with("AS") || tag.starts_with("as")) &&
        std::all_of(tag.begin() + 2, tag.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return "AS" + tag.substr(2);
    }
  }
  return {};
}

}  // namespace mitmscope
