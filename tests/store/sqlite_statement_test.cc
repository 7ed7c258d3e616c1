#include "store/sqlite_statement.h"

#include <gtest/gtest.h>

#include <memory>

namespace mitmscope {
namespace {

struct Database {
  Database() {
    sqlite3_open(":memory:", &handle);
    sqlite3_exec(handle, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB)", nullptr, nullptr, nullptr);
  }
  ~Database() { sqlite3_close(handle); }
  sqlite3* handle = nullptr;
};

TEST(SqliteStatement, APrepareErrorNamesTheStoreAndTheSql) {
  Database database;
  auto statement = SqliteStatement::prepare(database.handle, "SELECT name FROM nowhere", "test.db");
  ASSERT_FALSE(statement);
  EXPECT_NE(statement.error().message.find("test.db"), std::string::npos);
  EXPECT_NE(statement.error().message.find("SELECT name FROM nowhere"), std::string::npos);
  EXPECT_NE(statement.error().message.find("no such"), std::string::npos) << statement.error().message;
}

TEST(SqliteStatement, RoundTripsTextBlobsAndNulls) {
  Database database;
  auto insert = SqliteStatement::prepare(database.handle, "INSERT INTO t (id, name, data) VALUES (?, ?, ?)", "test.db");
  ASSERT_TRUE(insert);
  const std::vector<uint8_t> blob = {0, 1, 2, 0};
  insert->bind_all(int64_t{7}, std::string_view("with\0zero", 9), std::span<const uint8_t>(blob));
  ASSERT_TRUE(insert->run());
  insert->reset();
  insert->bind_all(int64_t{8}, std::string_view("second"));
  insert->bind_null(3);
  ASSERT_TRUE(insert->run());

  auto select = SqliteStatement::prepare(database.handle, "SELECT id, name, data FROM t ORDER BY id", "test.db");
  ASSERT_TRUE(select);
  auto row = select->step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(select->column_int64(0), 7);
  EXPECT_EQ(select->column_text(1), std::string("with\0zero", 9));
  EXPECT_EQ(select->column_blob(2), blob);
  row = select->step();
  ASSERT_TRUE(row && *row);
  EXPECT_TRUE(select->column_is_null(2));
  EXPECT_TRUE(select->column_blob(2).empty());
  row = select->step();
  ASSERT_TRUE(row);
  EXPECT_FALSE(*row);
}

TEST(SqliteStatement, AFailedBindIsReportedByTheStepAndNothingIsWritten) {
  Database database;
  auto insert = SqliteStatement::prepare(database.handle, "INSERT INTO t (id, name) VALUES (?, ?)", "test.db");
  ASSERT_TRUE(insert);
  insert->bind_all(int64_t{1}, std::string_view("a"), std::string_view("one too many"));
  auto ran = insert->run();
  ASSERT_FALSE(ran);
  EXPECT_NE(ran.error().message.find("cannot bind parameter 3"), std::string::npos);
  auto count = SqliteStatement::prepare(database.handle, "SELECT COUNT(*) FROM t", "test.db");
  ASSERT_TRUE(count && count->step().value_or(false));
  EXPECT_EQ(count->column_int64(0), 0);
}

TEST(SqliteStatement, AConstraintFailureSaysWhichStatement) {
  Database database;
  auto insert = SqliteStatement::prepare(database.handle, "INSERT INTO t (id) VALUES (?)", "test.db");
  ASSERT_TRUE(insert);
  insert->bind(1, int64_t{3});
  auto ran = insert->run();
  ASSERT_FALSE(ran);
  EXPECT_NE(ran.error().message.find("INSERT INTO t"), std::string::npos);
  EXPECT_NE(ran.error().message.find("NOT NULL"), std::string::npos);
}

}  // namespace
}  // namespace mitmscope
