// Runs the validator against x509-limbo (tests/data/peer-suites), a path-validation
// suite written by others. Every case where our answer differs from the suite's must
// be listed, with the reason, in limbo-disagreements.tsv; an unexplained
// disagreement or a listed case that now agrees fails the test.
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include "support/test_pki.h"
#include "x509/certificate_reader.h"
#include "x509/trust_store.h"

namespace mitmscope {
namespace {

Chain pem_list(const nlohmann::json& list) {
  Chain chain;
  for (const auto& pem : list) {
    const std::string text = pem.get<std::string>();
    auto parsed = parse_certificates(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), "limbo");
    if (parsed) chain.insert(chain.end(), parsed->begin(), parsed->end());
  }
  return chain;
}

// A case's trust store, presented chain (leaf, then the untrusted intermediates) and time and depth; not its name.
struct LimboCase {
  Result<TrustStore> store;
  Chain presented;
  ValidationOptions options;
};

LimboCase limbo_case(const nlohmann::json& testcase) {
  LimboCase out{TrustStore::from_certificates(pem_list(testcase["trusted_certs"]), "limbo trusted_certs"),
                pem_list(nlohmann::json::array({testcase["peer_certificate"]})), {}};
  const Chain intermediates = pem_list(testcase["untrusted_intermediates"]);
  out.presented.insert(out.presented.end(), intermediates.begin(), intermediates.end());
  if (testcase["validation_time"].is_string()) out.options.at = *parse_utc(testcase["validation_time"].get<std::string>());
  if (testcase["max_chain_depth"].is_number()) out.options.max_depth = testcase["max_chain_depth"].get<int>();
  return out;
}

std::map<std::string, std::string> documented_disagreements() {
  std::map<std::string, std::string> out;
  std::ifstream stream(testing::test_data("peer-suites/limbo-disagreements.tsv"));
  std::string line;
  while (std::getline(stream, line)) {
    if (line.empty() || line.front() == '#') continue;
    const auto tab = line.find('\t');
    out[line.substr(0, tab)] = tab == std::string::npos ? "" : line.substr(tab + 1);
  }
  return out;
}

TEST(X509Limbo, EveryDisagreementWithThePeerSuiteIsExplained) {
  std::ifstream stream(testing::test_data("peer-suites/x509-limbo-2023-12.json"));
  const auto suite = nlohmann::json::parse(stream);
  size_t agree = 0;
  std::map<std::string, std::string> disagreements;
  for (const auto& testcase : suite["testcases"]) {
    const std::string id = testcase["id"];
    auto [store, presented, options] = limbo_case(testcase);
    ASSERT_TRUE(store);
    const auto& name = testcase["expected_peer_name"];
    if (name.is_object()) {
      (name["kind"] == "IP" ? options.ip_address : options.hostname) = name["value"].get<std::string>();
    }
    const auto result = store->validate(presented, options);
    const std::string ours = result.browser_trusted ? "SUCCESS" : "FAILURE";
    if (ours == testcase["expected_result"]) {
      ++agree;
    } else {
      disagreements[id] = fmt::format("expected {} got {} ({})", testcase["expected_result"].get<std::string>(), ours,
                                      result.browser_error);
    }
  }
  const auto documented = documented_disagreements();
  fmt::print("x509-limbo: {} of {} cases agree; {} disagree\n", agree, suite["testcases"].size(), disagreements.size());
  for (const auto& [id, what] : disagreements) {
    const auto reason = documented.find(id);
    EXPECT_NE(reason, documented.end()) << "unexplained disagreement: " << id << ": " << what;
    if (reason != documented.end()) fmt::print("  {}: {} -- {}\n", id, what, reason->second);
  }
  for (const auto& [id, reason] : documented) {
    EXPECT_TRUE(disagreements.contains(id)) << "documented disagreement no longer happens: " << id;
  }
}

template <typename A, typename B>
std::vector<std::pair<A, B>> pairs_of(const std::vector<A>& as, const std::vector<B>& bs) {
  std::vector<std::pair<A, B>> out;
  for (const auto& a : as) {
    for (const auto& b : bs) out.emplace_back(a, b);
  }
  return out;
}

std::string describe(const ValidationResult& result) {
  std::string out = fmt::format("trusted {} error '{}' checked {} matches {} at {}; issues:", result.browser_trusted,
                                result.browser_error, result.hostname_checked, result.hostname_matches,
                                result.validated_at.time_since_epoch().count());
  for (const auto& issue : result.issues) {
    out += fmt::format(" [{} {} {} '{}']", issue.depth, issue.openssl_code, issue.name, issue.message);
  }
  out += "; path:";
  for (const auto& certificate : result.path) out += " " + certificate.sha256_hex().substr(0, 12);
  return out;
}

// The validation cache (the path once per chain and second, the name apart) against OpenSSL's own validation with
// the name in it, on every chain of the suite: with the suite's name, a name the leaf does not hold, and none; at
// the case's time and in 2100 (expired: issues of the signature and time checks after the name's). Each is asked
// twice, so the second answer comes from the cache.
TEST(X509Limbo, TheCachedValidationEqualsOpenSslsWholeValidationOnEveryCase) {
  std::ifstream stream(testing::test_data("peer-suites/x509-limbo-2023-12.json"));
  const auto suite = nlohmann::json::parse(stream);
  const UtcSeconds now = now_utc();
  size_t compared = 0, name_issue_between = 0;
  uint64_t from_cache = 0;
  for (const auto& testcase : suite["testcases"]) {
    auto [store, presented, options] = limbo_case(testcase);
    ASSERT_TRUE(store);
    if (!options.at) options.at = now;
    std::vector<std::optional<std::string>> names = {std::nullopt, "not-the-leaf.example"};
    const auto& name = testcase["expected_peer_name"];
    if (name.is_object() && name["kind"] == "DNS") names.push_back(name["value"].get<std::string>());
    const UtcSeconds case_time = *options.at;
    for (const auto& [hostname, when] : pairs_of(names, std::vector{case_time, *parse_utc("2100-01-01T00:00:00Z")})) {
      options.hostname = hostname;
      options.at = when;
      const std::string reference = describe(store->validate_uncached(presented, options));
      for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(describe(store->validate(presented, options)), reference)
            << testcase["id"] << " name " << hostname.value_or("(none)") << " round " << round;
      }
      const auto issues = store->validate(presented, options).issues;
      const auto at = std::ranges::find(issues, std::string("hostname_mismatch"), &ValidationIssue::name);
      name_issue_between += at != issues.end() && at != issues.begin() && at + 1 != issues.end();
      ++compared;
    }
    from_cache += store->cached_validations();
  }
  fmt::print("validation cache: {} (case, name) pairs equal to OpenSSL's whole validation; in {} the name's issue "
             "sits between others; {} answers came from the cache\n", compared, name_issue_between, from_cache);
  EXPECT_GT(compared, 700u);
  // Each pair is asked three times after its reference: at least the last two come from the cache, but for the
  // chains the cache rightly leaves to OpenSSL (IP names, a chain that matches the marker name).
  EXPECT_GT(from_cache, compared) << "the cache answered (equal results alone would hold with no cache at all)";
  EXPECT_GT(name_issue_between, 0u) << "the place of the name's issue was put to the test";
}

}  // namespace
}  // namespace mitmscope
