// ClickHouse over its HTTP interface (libcurl, one kept-alive connection): queries go in
// the body, INSERT data in the body after the query in the URL; answers are TabSeparated.
// Errors carry the server's own message ("Code: 60, ... Table x doesn't exist").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mitmscope::clickhouse {

class Http {
 public:
  // `base`: http://HOST:PORT; `settings`: extra URL parameters ("database=x&insert_distributed_sync=1").
  Http(std::string base, std::string settings, std::string label);
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  // A statement or a SELECT; the answer's body.
  Result<std::string> query(std::string_view sql);
  // INSERT INTO ... FORMAT TabSeparated, with `rows` as the data.
  Result<void> insert(std::string_view insert_head, std::string_view rows);
  // A SELECT that reads a table sent with it (ClickHouse's external data: `structure` "ip String, port UInt16",
  // `rows` TabSeparated), named `name` in the query ("... IN keys"). Thousands of keys this way cost a TSV read;
  // as literals in the query they cost a parse ten times slower, and over 256 KiB the query is refused.
  Result<std::string> query_with_table(std::string_view sql, std::string_view name, std::string_view structure,
                                       std::string_view rows);

 private:
  Result<std::string> post(const std::string& url, std::string_view body, const void* form = nullptr);
  std::string base_, settings_, label_;
  void* curl_ = nullptr;
};

// TabSeparated text: escape a field, quote a string inside an Array literal, split an answer.
void append_tsv(std::string& out, std::string_view field);
void append_quoted(std::string& out, std::string_view text);      // 'text' with \ and ' escaped
std::string sql_string(std::string_view text);                     // a string literal for a query
// Rows of fields, unescaped.
std::vector<std::vector<std::string>> parse_tsv(std::string_view text);
// ['a','b'] → {a, b}
std::vector<std::string> parse_array(std::string_view text);

std::string hex(std::span<const uint8_t> bytes);
std::vector<uint8_t> unhex(std::string_view text);

}  // namespace mitmscope::clickhouse
