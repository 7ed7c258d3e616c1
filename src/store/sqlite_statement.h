// SqliteStatement: one prepared SQLite statement whose every call is checked. Preparing fails with the
// SQL and SQLite's message; a bind that fails is remembered and reported by the next step, so a store never
// writes a row with a value silently missing; a step says row, done or why not. Column readers turn NULL
// into empty values, so a column written by an older version reads as absent rather than crashing.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace mitmscope {

class SqliteStatement {
 public:
  // `where` names the store in messages (its path).
  static Result<SqliteStatement> prepare(sqlite3* database, std::string_view sql, std::string_view where);

  SqliteStatement(SqliteStatement&& other) noexcept
      : database_(other.database_), handle_(std::exchange(other.handle_, nullptr)), where_(std::move(other.where_)),
        bind_error_(std::move(other.bind_error_)) {}
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  ~SqliteStatement() { sqlite3_finalize(handle_); }

  // Parameters by position, from 1. Text and blobs are copied (SQLITE_TRANSIENT).
  SqliteStatement& bind(int index, int64_t value);
  SqliteStatement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  SqliteStatement& bind(int index, std::string_view text);
  SqliteStatement& bind(int index, std::span<const uint8_t> blob);
  SqliteStatement& bind(int index, double value);
  SqliteStatement& bind(int index, const std::optional<double>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }
  SqliteStatement& bind_null(int index);
  // Every parameter in order from 1.
  template <typename... Values>
  SqliteStatement& bind_all(const Values&... values) {
    int index = 0;
    (bind(++index, values), ...);
    return *this;
  }

  // true: a row is ready; false: done.
  Result<bool> step();
  // Runs a statement that returns no rows.
  Result<void> run();
  // Ready to run again with new parameters (keeps the statement prepared).
  void reset();

  int64_t column_int64(int column) const { return sqlite3_column_int64(handle_, column); }
  int column_int(int column) const { return sqlite3_column_int(handle_, column); }
  double column_double(int column) const { return sqlite3_column_double(handle_, column); }
  std::optional<double> column_optional_double(int column) const {
    return column_is_null(column) ? std::nullopt : std::optional<double>(column_double(column));
  }
  bool column_is_null(int column) const { return sqlite3_column_type(handle_, column) == SQLITE_NULL; }
  std::string column_text(int column) const;
  std::vector<uint8_t> column_blob(int column) const;

 private:
  SqliteStatement(sqlite3* database, sqlite3_stmt* handle, std::string where)
      : database_(database), handle_(handle), where_(std::move(where)) {}
  void check_bind(int code, int index);
  Error failure(std::string_view what) const;

  sqlite3* database_;
  sqlite3_stmt* handle_;
  std::string where_;
  std::optional<Error> bind_error_;
};

}  // namespace mitmscope
