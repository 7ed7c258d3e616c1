// Where a ClickHouse store is, and who mitmscope is there, from the address given as --store:
//   clickhouse://[USER@]HOST:PORT[,HOST:PORT...]/DATABASE[?cluster=NAME&secure=1&ca=FILE&password_file=FILE]
// The password is never part of the address: a command line is visible to every user of the machine (ps). It is
// read from password_file=FILE (or $MITMSCOPE_CLICKHOUSE_PASSWORD_FILE), a file its owner alone may read, or from
// $MITMSCOPE_CLICKHOUSE_PASSWORD. secure=1 speaks HTTPS to the servers' https_port and verifies each server's
// certificate and name against ca=FILE (without it, against the system's roots). Pure but for reading that file.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mitmscope {

struct ClickHouseLocation {
  std::vector<std::string> servers;   // HOST:PORT (HTTP or HTTPS), the first takes the queries
  std::string database;
  std::string cluster;                // empty: one server
  std::string user;                   // empty: the server's default user
  bool secure = false;                // HTTPS, the certificate verified
  std::string ca_file;                // the CA that signs the servers' certificates; empty: the system's roots
  std::string password_file;
};

// How mitmscope reaches one server of a location: its base URL and credentials.
struct ClickHouseAccess {
  std::string base_url;               // http://HOST:PORT or https://HOST:PORT
  std::string user, password;
  std::string ca_file;
};

inline constexpr const char* kClickHousePasswordVariable = "MITMSCOPE_CLICKHOUSE_PASSWORD";
inline constexpr const char* kClickHousePasswordFileVariable = "MITMSCOPE_CLICKHOUSE_PASSWORD_FILE";

Result<ClickHouseLocation> parse_clickhouse_uri(std::string_view uri);

// The password for `location`: its password_file, else the file named by $MITMSCOPE_CLICKHOUSE_PASSWORD_FILE, else
// $MITMSCOPE_CLICKHOUSE_PASSWORD, else none. `environment` reads a variable (std::getenv; tests pass their own).
using Environment = std::function<const char*(const char*)>;
Result<std::string> clickhouse_password(const ClickHouseLocation& location, const Environment& environment);

// The first line of `path`; refused when the file's group or others may read it (as ssh refuses such a key).
Result<std::string> read_password_file(const std::string& path);

ClickHouseAccess clickhouse_access(const ClickHouseLocation& location, const std::string& server, std::string password);

}  // namespace mitmscope
