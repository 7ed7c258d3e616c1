#include "store/sqlite_statement.h"

#include <fmt/format.h>

namespace mitmscope {
namespace {

// The statement's first words, for messages: "INSERT INTO results", "SELECT der FROM certificates".
std::string sql_head(const char* sql) {
  const std::string_view text = sql ? sql : "";
  return std::string(text.substr(0, std::min<size_t>(text.size(), 48)));
}

}  // namespace

Result<SqliteStatement> SqliteStatement::prepare(sqlite3* database, std::string_view sql, std::string_view where) {
  sqlite3_stmt* handle = nullptr;
  if (sqlite3_prepare_v2(database, sql.data(), static_cast<int>(sql.size()), &handle, nullptr) != SQLITE_OK) {
    sqlite3_finalize(handle);
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot prepare '{}': {}", where,
                                                              sql.substr(0, std::min<size_t>(sql.size(), 48)),
                                                              sqlite3_errmsg(database)));
  }
  return SqliteStatement(database, handle, std::string(where));
}

Error SqliteStatement::failure(std::string_view what) const {
  return {ErrorCode::kFileUnreadable,
          fmt::format("{}: {} '{}': {}", where_, what, sql_head(sqlite3_sql(handle_)), sqlite3_errmsg(database_))};
}

void SqliteStatement::check_bind(int code, int index) {
  if (code != SQLITE_OK && !bind_error_) bind_error_ = failure(fmt::format("cannot bind parameter {} of", index));
}

SqliteStatement& SqliteStatement::bind(int index, int64_t value) {
  check_bind(sqlite3_bind_int64(handle_, index, value), index);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::string_view text) {
  check_bind(sqlite3_bind_text(handle_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT), index);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::span<const uint8_t> blob) {
  check_bind(sqlite3_bind_blob(handle_, index, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT), index);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value) {
  check_bind(sqlite3_bind_double(handle_, index, value), index);
  return *this;
}

SqliteStatement& SqliteStatement::bind_null(int index) {
  check_bind(sqlite3_bind_null(handle_, index), index);
  return *this;
}

Result<bool> SqliteStatement::step() {
  if (bind_error_) return std::unexpected(*bind_error_);
  switch (sqlite3_step(handle_)) {
    case SQLITE_ROW: return true;
    case SQLITE_DONE: return false;
    default: return std::unexpected(failure("cannot run"));
  }
}

Result<void> SqliteStatement::run() {
  auto stepped = step();
  if (!stepped) return std::unexpected(stepped.error());
  if (*stepped) return std::unexpected(failure("rows from a statement that should return none:"));
  return {};
}

void SqliteStatement::reset() {
  sqlite3_reset(handle_);
  bind_error_.reset();
}

std::string SqliteStatement::column_text(int column) const {
  const auto* text = sqlite3_column_text(handle_, column);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(handle_, column)))
              : std::string();
}

std::vector<uint8_t> SqliteStatement::column_blob(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(handle_, column));
  return data ? std::vector<uint8_t>(data, data + sqlite3_column_bytes(handle_, column)) : std::vector<uint8_t>();
}

}  // namespace mitmscope
