#include "store/clickhouse_location.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace mitmscope {
namespace {

constexpr std::string_view kScheme = "clickhouse://";
constexpr std::string_view kForm =
    "clickhouse://[USER@]HOST:PORT[,HOST:PORT...]/DATABASE[?cluster=NAME&secure=1&ca=FILE&password_file=FILE]";

bool plain_name(std::string_view name) {
  return !name.empty() && std::ranges::all_of(name, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool host_port(std::string_view server) {
  const size_t colon = server.rfind(':');
  int port = 0;
  return colon != std::string_view::npos && colon != 0 &&
         std::from_chars(server.data() + colon + 1, server.data() + server.size(), port).ec == std::errc() && port >= 1 &&
         port <= 65535;
}

// One name=value of the address's query into `location`; the reason when it is not one it knows.
std::string take_parameter(std::string_view parameter, ClickHouseLocation& location) {
  const size_t equals = parameter.find('=');
  const std::string_view name = parameter.substr(0, equals);
  const std::string_view value = equals == std::string_view::npos ? std::string_view() : parameter.substr(equals + 1);
  if (value.empty()) return fmt::format("'{}' has no value", name);
  if (name == "cluster") {
    if (!plain_name(value)) return "the cluster name must be letters, digits and _";
    location.cluster = value;
  } else if (name == "secure") {
    if (value != "1" && value != "0" && value != "true" && value != "false") return "secure= is 1 or 0";
    location.secure = value == "1" || value == "true";
  } else if (name == "ca") {
    location.ca_file = value;
  } else if (name == "password_file") {
    location.password_file = value;
  } else if (name == "password") {
    return "a password in the address is visible to every user of this machine (ps): put it in a file only you can "
           "read and give password_file=FILE, or set $MITMSCOPE_CLICKHOUSE_PASSWORD";
  } else {
    return fmt::format("unknown parameter '{}' (cluster, secure, ca, password_file)", name);
  }
  return {};
}

// USER@ before the servers; the reason when it holds a password.
std::string take_user(std::string_view& servers, ClickHouseLocation& location) {
  const size_t at = servers.rfind('@');
  if (at == std::string_view::npos) return {};
  const std::string_view user = servers.substr(0, at);
  servers.remove_prefix(at + 1);
  if (user.find(':') != std::string_view::npos) {
    return "USER:PASSWORD@ puts the password where every user of this machine sees it (ps): give only USER@, and the "
           "password in password_file=FILE or $MITMSCOPE_CLICKHOUSE_PASSWORD";
  }
  if (!plain_name(user)) return "the user name must be letters, digits and _";
  location.user = user;
  return {};
}

}  // namespace

Result<ClickHouseLocation> parse_clickhouse_uri(std::string_view uri) {
  auto fail = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("--store {}: {} (expected {})", printable(uri, 300), why, kForm));
  };
  std::string_view rest = uri;
  if (!rest.starts_with(kScheme)) return fail("not a clickhouse:// address");
  rest.remove_prefix(kScheme.size());
  ClickHouseLocation location;
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return fail("no database");
  std::string_view servers = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  if (auto why = take_user(servers, location); !why.empty()) return fail(why);
  const size_t question = rest.find('?');
  location.database = std::string(rest.substr(0, question));
  if (!plain_name(location.database)) return fail("the database name must be letters, digits and _");
  for (std::string_view query = question == std::string_view::npos ? "" : rest.substr(question + 1); !query.empty();) {
    const size_t amp = query.find('&');
    if (auto why = take_parameter(query.substr(0, amp), location); !why.empty()) return fail(why);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  while (!servers.empty()) {
    const size_t comma = servers.find(',');
    const std::string_view server = servers.substr(0, comma);
    if (!host_port(server)) return fail(fmt::format("'{}' is not HOST:PORT", server));
    location.servers.emplace_back(server);
    servers = comma == std::string_view::npos ? std::string_view() : servers.substr(comma + 1);
  }
  if (location.servers.empty()) return fail("no server");
  if (location.servers.size() > 1 && location.cluster.empty()) return fail("several servers need ?cluster=NAME");
  if (!location.ca_file.empty() && !location.secure) return fail("ca= is for secure=1 (HTTPS)");
  return location;
}

Result<std::string> read_password_file(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return make_error(ErrorCode::kFileNotFound, fmt::format("{}: the ClickHouse password file: {}", path, std::strerror(errno)));
  }
  if ((status.st_mode & 077) != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: the ClickHouse password file may be read by others (mode {:03o}): chmod 600 {}", path,
                                  status.st_mode & 0777, path));
  }
  std::ifstream file(path);
  std::string password;
  if (!file || !std::getline(file, password)) {
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: the ClickHouse password file is empty or unreadable", path));
  }
  if (password.ends_with('\r')) password.pop_back();
  return password;
}

Result<std::string> clickhouse_password(const ClickHouseLocation& location, const Environment& environment) {
  if (!location.password_file.empty()) return read_password_file(location.password_file);
  if (const char* file = environment(kClickHousePasswordFileVariable); file && *file) return read_password_file(file);
  if (const char* password = environment(kClickHousePasswordVariable); password) return std::string(password);
  return std::string();
}

ClickHouseAccess clickhouse_access(const ClickHouseLocation& location, const std::string& server, std::string password) {
  return {fmt::format("{}://{}", location.secure ? "https" : "http", server), location.user, std::move(password),
          location.ca_file};
}

}  // namespace mitmscope
