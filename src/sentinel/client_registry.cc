#include "sentinel/client_registry.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/embedded_files.h"

namespace mitmscope {
namespace {

using Json = nlohmann::json;

std::optional<uint16_t> parse_version(const Json& value) {
  if (value.is_number_unsigned()) return static_cast<uint16_t>(value.get<unsigned>());
  if (!value.is_string()) return std::nullopt;
  const std::string text = value.get<std::string>();
  try {
    size_t used = 0;
    const unsigned long number = std::stoul(text, &used, 0);
    if (used != text.size() || number > 0xffff) return std::nullopt;
    return static_cast<uint16_t>(number);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Error field_error(std::string_view origin, std::string_view where, std::string_view why) {
  return Error{ErrorCode::kParseError, fmt::format("{}: {}: {}", origin, where, why)};
}

std::vector<std::string> strings(const Json& object, const char* key) {
  std::vector<std::string> out;
  if (auto it = object.find(key); it != object.end() && it->is_array()) {
    for (const auto& item : *it) {
      if (item.is_string()) out.push_back(item.get<std::string>());
    }
  }
  return out;
}

Result<InterceptorFingerprint> interceptor_from_json(const Json& item, std::string_view origin, size_t index) {
  const std::string where = fmt::format("interceptors[{}]", index);
  if (!item.is_object()) return std::unexpected(field_error(origin, where, "not an object"));
  InterceptorFingerprint entry;
  entry.id = item.value("id", "");
  entry.name = item.value("name", entry.id);
  entry.ja4 = item.value("ja4", "");
  entry.ja3 = item.value("ja3", "");
  entry.ja4_bc = item.value("ja4_bc", "");
  entry.ja4_c = item.value("ja4_c", "");
  entry.provenance = item.value("provenance", "");
  entry.references = strings(item, "references");
  entry.origin = std::string(origin);
  if (entry.id.empty()) return std::unexpected(field_error(origin, where, "\"id\" is missing"));
  if (entry.provenance.empty()) return std::unexpected(field_error(origin, where + ".provenance", "every fingerprint needs its provenance"));
  if (auto shape = item.find("shape"); shape != item.end()) {
    if (!shape->is_object()) return std::unexpected(field_error(origin, where + ".shape", "not an object"));
    ClientHelloShape parsed;
    const auto record = parse_version(shape->value("record_version", Json()));
    const auto legacy = parse_version(shape->value("legacy_version", Json()));
    const auto highest = parse_version(shape->value("highest_version", Json()));
    const Json suites = shape->value("cipher_suites", Json());
    if (!record || !legacy || !highest || !suites.is_number_unsigned()) {
      return std::unexpected(field_error(origin, where + ".shape",
                                         "needs record_version, legacy_version, highest_version (\"0x0303\") and cipher_suites (a count)"));
    }
    parsed.record_version = *record;
    parsed.legacy_version = *legacy;
    parsed.highest_version = *highest;
    parsed.cipher_suites = suites.get<size_t>();
    entry.shape = parsed;
  }
  if (entry.ja4.empty() && entry.ja3.empty() && entry.ja4_bc.empty() && entry.ja4_c.empty() && !entry.shape) {
    return std::unexpected(field_error(origin, where, "needs \"ja4\", \"ja3\", \"ja4_bc\", \"ja4_c\" or \"shape\""));
  }
  return entry;
}

Result<BrowserRule> browser_from_json(const Json& item, std::string_view origin, size_t index) {
  const std::string where = fmt::format("browsers[{}]", index);
  if (!item.is_object()) return std::unexpected(field_error(origin, where, "not an object"));
  BrowserRule rule;
  rule.family = item.value("family", "");
  rule.token = item.value("token", "");
  rule.unless = strings(item, "unless");
  rule.also_requires = strings(item, "also_requires");
  rule.since = item.value("since", 0);
  rule.reference = item.value("reference", "");
  if (rule.family.empty() || rule.token.empty()) return std::unexpected(field_error(origin, where, "needs \"family\" and \"token\""));
  if (rule.reference.empty()) return std::unexpected(field_error(origin, where + ".reference", "every rule needs its reference"));
  for (const std::string& feature : strings(item, "requires")) {
    if (feature == "tls13") {
      rule.requires_features.push_back(BrowserRequirement::kTls13);
    } else if (feature == "grease") {
      rule.requires_features.push_back(BrowserRequirement::kGrease);
    } else if (feature == "alpn_h2") {
      rule.requires_features.push_back(BrowserRequirement::kAlpnH2);
    } else {
      return std::unexpected(field_error(origin, where + ".requires", fmt::format("unknown feature \"{}\" (tls13, grease, alpn_h2)", feature)));
    }
  }
  return rule;
}

// The major version after `token` in the User-Agent, or nullopt when the token is absent.
std::optional<int> major_after(std::string_view user_agent, std::string_view token) {
  const size_t at = user_agent.find(token);
  if (at == std::string_view::npos) return std::nullopt;
  int major = 0;
  size_t i = at + token.size();
  size_t digits = 0;
  while (i < user_agent.size() && user_agent[i] >= '0' && user_agent[i] <= '9' && digits < 6) {
    major = major * 10 + (user_agent[i] - '0');
    ++i;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  return major;
}

std::string missing(BrowserRequirement requirement, const BrowserRule& rule) {
  switch (requirement) {
    case BrowserRequirement::kTls13:
      return fmt::format("offers no TLS 1.3 (every {} since {} does)", rule.family, rule.since);
    case BrowserRequirement::kGrease:
      return fmt::format("sends no GREASE values (every {} since {} does)", rule.family, rule.since);
    case BrowserRequirement::kAlpnH2:
      return fmt::format("offers no HTTP/2 in ALPN (every {} since {} does)", rule.family, rule.since);
  }
  return {};
}

bool has(const ClientHello& hello, BrowserRequirement requirement) {
  switch (requirement) {
    case BrowserRequirement::kTls13: return highest_offered_version(hello) == 0x0304;
    case BrowserRequirement::kGrease: return sends_grease(hello);
    case BrowserRequirement::kAlpnH2: return std::ranges::find(hello.alpn, "h2") != hello.alpn.end();
  }
  return false;
}

}  // namespace

ClientHelloShape shape_of(const ClientHello& hello) {
  return {hello.record_version, hello.legacy_version, highest_offered_version(hello),
          static_cast<size_t>(std::ranges::count_if(hello.cipher_suites, [](uint16_t suite) { return !is_grease(suite); }))};
}

Result<ClientRegistry> ClientRegistry::parse(std::string_view text, std::string_view origin) {
  const Json document = Json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return std::unexpected(Error{ErrorCode::kParseError, fmt::format("{}: not a JSON object", origin)});
  }
  if (document.value("format", "") != "mitmscope-client-fingerprints/1") {
    return std::unexpected(field_error(origin, "format", "expected \"mitmscope-client-fingerprints/1\""));
  }
  ClientRegistry registry;
  const Json interceptors = document.value("interceptors", Json::array());
  for (size_t i = 0; i < interceptors.size(); ++i) {
    auto entry = interceptor_from_json(interceptors[i], origin, i);
    if (!entry) return std::unexpected(entry.error());
    registry.interceptors_.push_back(std::move(*entry));
  }
  const Json browsers = document.value("browsers", Json::array());
  for (size_t i = 0; i < browsers.size(); ++i) {
    auto rule = browser_from_json(browsers[i], origin, i);
    if (!rule) return std::unexpected(rule.error());
    registry.browsers_.push_back(std::move(*rule));
  }
  return registry;
}

Result<ClientRegistry> ClientRegistry::builtin() {
  ClientRegistry registry;
  for (const auto& file : embedded_fingerprint_files()) {
    auto parsed = parse(file.content, fmt::format("builtin {}", file.name));
    if (!parsed) return std::unexpected(parsed.error());
    registry.merge(*parsed);
  }
  for (auto& entry : registry.interceptors_) entry.origin = "builtin";
  return registry;
}

Result<ClientRegistry> ClientRegistry::load(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) return std::unexpected(Error{ErrorCode::kFileUnreadable, fmt::format("{}: cannot read", file.string())});
  const std::string text((std::istreambuf_iterator<char>(stream)), {});
  return parse(text, file.string());
}

void ClientRegistry::merge(const ClientRegistry& other) {
  interceptors_.insert(interceptors_.end(), other.interceptors_.begin(), other.interceptors_.end());
  browsers_.insert(browsers_.end(), other.browsers_.begin(), other.browsers_.end());
}

std::optional<InterceptorMatch> ClientRegistry::match(const ClientHello& hello, const Ja3& ja3, const Ja4& ja4) const {
  for (const auto& entry : interceptors_) {
    if (!entry.ja4.empty() && entry.ja4 == ja4.fingerprint) return InterceptorMatch{&entry, "ja4"};
  }
  for (const auto& entry : interceptors_) {
    if (!entry.ja3.empty() && entry.ja3 == ja3.hash) return InterceptorMatch{&entry, "ja3"};
  }
  // JA4 is "a_b_c": a (version, SNI, counts, ALPN) is what devices mirror; b and c are their own.
  const std::string_view fingerprint = ja4.fingerprint;
  const size_t first = fingerprint.find('_');
  const std::string_view bc = first == std::string_view::npos ? std::string_view() : fingerprint.substr(first + 1);
  const size_t second = bc.find('_');
  const std::string_view c = second == std::string_view::npos ? std::string_view() : bc.substr(second + 1);
  for (const auto& entry : interceptors_) {
    if (!entry.ja4_bc.empty() && entry.ja4_bc == bc) return InterceptorMatch{&entry, "ja4_bc"};
  }
  for (const auto& entry : interceptors_) {
    if (!entry.ja4_c.empty() && entry.ja4_c == c) return InterceptorMatch{&entry, "ja4_c"};
  }
  const ClientHelloShape shape = shape_of(hello);
  for (const auto& entry : interceptors_) {
    if (!entry.shape) continue;
    const ClientHelloShape& want = *entry.shape;
    if (want.record_version == shape.record_version && want.legacy_version == shape.legacy_version &&
        want.highest_version == shape.highest_version && want.cipher_suites == shape.cipher_suites) {
      return InterceptorMatch{&entry, "shape"};
    }
  }
  return std::nullopt;
}

UserAgentJudgement ClientRegistry::judge_user_agent(std::string_view user_agent, const ClientHello& hello) const {
  UserAgentJudgement judgement;
  for (const auto& rule : browsers_) {
    const auto major = major_after(user_agent, rule.token);
    if (!major) continue;
    if (std::ranges::any_of(rule.unless, [&](const std::string& token) { return user_agent.find(token) != std::string_view::npos; })) continue;
    if (!std::ranges::all_of(rule.also_requires, [&](const std::string& token) { return user_agent.find(token) != std::string_view::npos; })) continue;
    judgement.browser = rule.family;
    judgement.major = *major;
    if (*major < rule.since) return judgement;  // too old for the rule: not judged
    judgement.judged = true;
    for (BrowserRequirement requirement : rule.requires_features) {
      if (!has(hello, requirement)) judgement.reasons.push_back(missing(requirement, rule));
    }
    judgement.consistent = judgement.reasons.empty();
    return judgement;
  }
  return judgement;
}

}  // namespace mitmscope
