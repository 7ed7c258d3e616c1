// ClickHouse over its HTTP interface (libcurl, one kept-alive connection): queries go in
// the body, INSERT data in the body after the query in the URL; answers are TabSeparated.
// libcurl is loaded on first use (store/curl_api.h); without it every call is an error that says so.
// Errors carry the server's own message ("Code: 60, ... Table x doesn't exist"), and for the errors a user meets
// when setting a store up (a wrong password, a user without the right, an untrusted certificate, HTTP to an HTTPS
// port) what to do about it. Over HTTPS the server's certificate and name are always verified.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/clickhouse_location.h"

namespace mitmscope::clickhouse {

struct CurlApi;

class Http {
 public:
  using ErrorText = std::array<char, 256>;
  // `settings`: extra URL parameters ("insert_distributed_sync=1"); `label` names the store in errors.
  Http(ClickHouseAccess access, std::string settings, std::string label);
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
  Result<void> usable() const;   // libcurl loaded and a transfer handle made
  Error failure(int curl_code, const char* detail) const;
  ErrorText detail_{};   // libcurl's words for the last failed transfer
  ClickHouseAccess access_;
  std::string settings_, label_;
  const CurlApi* api_ = nullptr;
  void* curl_ = nullptr;
};

// The server's error number in a text that holds its answer ("Code: 193, e.displayText() = ..." → 193); 0: none.
int server_code(std::string_view text);
// What to do about the server's answer `body` ("Code: 193, ... Wrong password for user x"), for `user`; empty when
// nothing better than the server's message can be said.
std::string server_error_hint(std::string_view body, std::string_view user);
// What to do about a transfer that failed with libcurl's `curl_code`, over HTTPS when `secure`.
std::string transport_hint(int curl_code, bool secure);

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
