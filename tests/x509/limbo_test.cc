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
    const Chain trusted = pem_list(testcase["trusted_certs"]);
    Chain presented = pem_list(nlohmann::json::array({testcase["peer_certificate"]}));
    const Chain intermediates = pem_list(testcase["untrusted_intermediates"]);
    presented.insert(presented.end(), intermediates.begin(), intermediates.end());
    auto store = TrustStore::from_certificates(trusted, "limbo trusted_certs");
    ASSERT_TRUE(store);
    ValidationOptions options;
    const auto& name = testcase["expected_peer_name"];
    if (name.is_object()) {
      (name["kind"] == "IP" ? options.ip_address : options.hostname) = name["value"].get<std::string>();
    }
    if (testcase["validation_time"].is_string()) options.at = *parse_utc(testcase["validation_time"].get<std::string>());
    if (testcase["max_chain_depth"].is_number()) options.max_depth = testcase["max_chain_depth"].get<int>();
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

}  // namespace
}  // namespace mitmscope
