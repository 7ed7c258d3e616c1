#include "store/clickhouse_http.h"

#include "core/hex.h"
#include "store/curl_api.h"

#include <cctype>
#include <charconv>
#include <memory>

#include <fmt/format.h>

namespace mitmscope::clickhouse {
namespace {

static_assert(CURL_ERROR_SIZE <= sizeof(Http::ErrorText), "libcurl's error text fits");

size_t collect(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The first line of the server's message is what a user needs.
std::string first_line(std::string text) {
  if (const auto newline = text.find('\n'); newline != std::string::npos) text.resize(newline);
  if (text.size() > 600) {
    text.resize(600);
    text += "...";
  }
  return text;
}

}  // namespace

int server_code(std::string_view body) {
  constexpr std::string_view kCode = "Code: ";
  const size_t at = body.find(kCode);
  int code = 0;
  if (at != std::string_view::npos) std::from_chars(body.data() + at + kCode.size(), body.data() + body.size(), code);
  return code;
}

std::string server_error_hint(std::string_view body, std::string_view user) {
  const std::string who = user.empty() ? std::string("the default user") : fmt::format("user {}", user);
  switch (server_code(body)) {
    case 192: case 193: case 194: case 516:   // unknown user, wrong password, password required, authentication failed
      return fmt::format("the server did not accept {} with this password (the password comes from password_file=FILE, "
                         "${} or ${})", who, kClickHousePasswordFileVariable, kClickHousePasswordVariable);
    case 195: return fmt::format("the server does not let {} in from this address (<networks> in its users.xml)", who);
    case 291: return fmt::format("{} may not use this database (<allow_databases> in the server's users.xml)", who);
    case 392:
      return fmt::format("{} may not create or change tables (allow_ddl=0): a store's tables are made once by a user "
                         "that may (docs/CLI.md, \"A ClickHouse store with users\")", who);
    case 164: return fmt::format("{} may only read (readonly): it can serve report, not scan", who);
    default: return {};
  }
}

std::string transport_hint(int curl_code, bool secure) {
  switch (curl_code) {
    case CURLE_PEER_FAILED_VERIFICATION:
      return "the server's certificate is not signed by the CA given with ca=FILE (or, without ca=, by a root of this "
             "system), or does not name the host of the address";
    case CURLE_SSL_CACERT_BADFILE: return "the CA file of ca=FILE cannot be read as PEM certificates";
    case CURLE_SSL_CONNECT_ERROR:
      return secure ? "no TLS there: is it the server's https_port (secure=1 needs the HTTPS port, not the HTTP one)?"
                    : "TLS failed";
    case CURLE_GOT_NOTHING: case CURLE_RECV_ERROR:
      return secure ? "the server closed the connection" : "the server closed the connection: is it an https_port (then add secure=1)?";
    default: return "is clickhouse-server running there?";
  }
}

Http::Http(ClickHouseAccess access, std::string settings, std::string label)
    : access_(std::move(access)), settings_(std::move(settings)), label_(std::move(label)) {
  if (const auto api = curl_api()) {
    api_ = *api;
    curl_ = api_->easy_init();
  }
}

Http::~Http() {
  if (api_) api_->easy_cleanup(static_cast<CURL*>(curl_));
}

Result<void> Http::usable() const {
  if (!api_) {
    const Error why = curl_api().error();
    return make_error(why.code, fmt::format("{}: {}", label_, why.message));
  }
  if (!curl_) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot start an HTTP client", label_));
  return {};
}

Result<std::string> Http::post(const std::string& url, std::string_view body, const void* form) {
  if (auto ready = usable(); !ready) return std::unexpected(ready.error());
  auto* curl = static_cast<CURL*>(curl_);
  std::string answer;
  api_->easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (form) {
    api_->easy_setopt(curl, CURLOPT_MIMEPOST, static_cast<const curl_mime*>(form));
  } else {
    api_->easy_setopt(curl, CURLOPT_MIMEPOST, static_cast<curl_mime*>(nullptr));
    api_->easy_setopt(curl, CURLOPT_POST, 1L);
    api_->easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    api_->easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  api_->easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  api_->easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  api_->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  api_->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  api_->easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);   // never anywhere it was not told
  api_->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!access_.user.empty() || !access_.password.empty()) {
    api_->easy_setopt(curl, CURLOPT_USERNAME, access_.user.empty() ? "default" : access_.user.c_str());
    api_->easy_setopt(curl, CURLOPT_PASSWORD, access_.password.c_str());
  }
  if (!access_.ca_file.empty()) api_->easy_setopt(curl, CURLOPT_CAINFO, access_.ca_file.c_str());
  // No Expect: 100-continue round trip on large inserts.
  curl_slist* headers = api_->slist_append(nullptr, "Expect:");
  api_->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  detail_.fill(0);
  api_->easy_setopt(curl, CURLOPT_ERRORBUFFER, detail_.data());
  const CURLcode code = api_->easy_perform(curl);
  api_->slist_free_all(headers);
  if (code != CURLE_OK) return std::unexpected(failure(code, detail_.data()));
  long status = 0;
  api_->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    const std::string hint = server_error_hint(answer, access_.user);
    return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: HTTP {}: {}{}{}", label_, status, first_line(answer),
                                                              hint.empty() ? "" : ": ", hint));
  }
  return answer;
}

Error Http::failure(int curl_code, const char* detail) const {
  const auto code = static_cast<CURLcode>(curl_code);
  return {ErrorCode::kFileUnreadable, fmt::format("{}: {} ({})", label_, *detail ? detail : api_->easy_strerror(code),
                                                  transport_hint(code, access_.base_url.starts_with("https:")))};
}

Result<std::string> Http::query(std::string_view sql) {
  return post(fmt::format("{}/?{}", access_.base_url, settings_), sql);
}

Result<std::string> Http::query_with_table(std::string_view sql, std::string_view name, std::string_view structure,
                                           std::string_view rows) {
  if (auto ready = usable(); !ready) return std::unexpected(ready.error());
  std::unique_ptr<curl_mime, decltype(api_->mime_free)> form(api_->mime_init(static_cast<CURL*>(curl_)), api_->mime_free);
  if (!form) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot build an HTTP form", label_));
  curl_mimepart* part = api_->mime_addpart(form.get());
  const std::string part_name(name);
  api_->mime_name(part, part_name.c_str());
  api_->mime_filename(part, part_name.c_str());   // the server reads a table from a file part only
  api_->mime_data(part, rows.data(), rows.size());
  const std::string url = fmt::format("{}/?{}query={}&{}_structure={}&{}_format=TabSeparated", access_.base_url,
                                      settings_.empty() ? "" : settings_ + "&", url_encode(sql), name,
                                      url_encode(structure), name);
  return post(url, {}, form.get());
}

Result<void> Http::insert(std::string_view insert_head, std::string_view rows) {
  if (rows.empty()) return {};
  auto answer = post(fmt::format("{}/?{}query={}", access_.base_url, settings_.empty() ? "" : settings_ + "&", url_encode(insert_head)), rows);
  if (!answer) return std::unexpected(answer.error());
  return {};
}

void append_tsv(std::string& out, std::string_view field) {
  for (char c : field) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      default: out += c;
    }
  }
}

void append_quoted(std::string& out, std::string_view text) {
  out += '\'';
  for (char c : text) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
}

std::string sql_string(std::string_view text) {
  std::string out;
  append_quoted(out, text);
  return out;
}

std::vector<std::vector<std::string>> parse_tsv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\t') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
    } else if (c == '\\' && i + 1 < text.size()) {
      const char next = text[++i];
      switch (next) {
        case 't': field += '\t'; break;
        case 'n': field += '\n'; break;
        case 'r': field += '\r'; break;
        case '0': field += '\0'; break;
        case 'b': field += '\b'; break;
        case 'f': field += '\f'; break;
        default: field += next;   // \\, \', and anything else stands for itself
      }
    } else {
      field += c;
    }
  }
  if (!field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> parse_array(std::string_view text) {
  std::vector<std::string> out;
  bool inside = false;
  std::string item;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!inside) {
      if (c == '\'') inside = true;
      continue;
    }
    if (c == '\\' && i + 1 < text.size()) {
      item += text[++i];
    } else if (c == '\'') {
      out.push_back(std::move(item));
      item.clear();
      inside = false;
    } else {
      item += c;
    }
  }
  return out;
}

std::string hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t byte : bytes) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 15];
  }
  return out;
}

std::vector<uint8_t> unhex(std::string_view text) { return from_hex(text); }

}  // namespace mitmscope::clickhouse
