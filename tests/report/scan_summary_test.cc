#include "report/scan_output.h"

#include <gtest/gtest.h>

namespace mitmscope {
namespace {

HostTarget host(const std::string& ip, const std::string& tag) {
  HostTarget target;
  target.endpoint.ip = ip;
  target.endpoint.port = 443;
  target.tags = {tag};
  return target;
}

TEST(ScanSummary, CountsHostsPerTagAndPerAsOnceEachAndInterceptionPerDomain) {
  const auto a = host("198.18.0.1", "AS9198"), b = host("198.18.0.2", "AS9198"), c = host("198.18.1.1", "AS206026"),
             d = host("198.18.2.1", "AS9198");
  const AsnInfo kazakhtelecom{9198, "9198", "JSC Kazakhtelecom", "198.18.0.0/23"};
  const AsnInfo other{206026, "206026", "", "198.18.1.0/24"};
  const AsnInfo unmapped{0, "0", "(not in the prefix table)", ""};
  ScanSummary summary;
  auto result = [](const HostTarget& target, const std::string& sni, ScanVerdict verdict) {
    ScanResult r;
    r.host = &target;
    r.sni = sni;
    r.verdict = verdict;
    return r;
  };
  // a: intercepted on two domains; b: clean; c: intercepted on one; d: ineligible.
  summary.add(result(a, "facebook.com", ScanVerdict::kIntercepted));
  summary.add(result(a, "vk.com", ScanVerdict::kIntercepted));
  summary.add(result(b, "facebook.com", ScanVerdict::kClean));
  summary.add(result(c, "vk.com", ScanVerdict::kIntercepted));
  summary.add(result(d, "vk.com", ScanVerdict::kIneligible));
  summary.add_host({&a, true, true}, &kazakhtelecom);
  summary.add_host({&b, true, false}, &kazakhtelecom);
  summary.add_host({&c, true, true}, &other);
  summary.add_host({&d, false, false}, &unmapped);
  ScanCounters counters;
  counters.hosts = 4;
  counters.eligible = 3;
  const ScanOverview overview = summary.overview(counters);
  const auto json = scan_summary_json(overview);
  EXPECT_EQ(json["intercepted_hosts"], 2);
  EXPECT_DOUBLE_EQ(json["intercepted_share"].get<double>(), 2.0 / 3.0);
  EXPECT_EQ(json["intercepted_hosts_per_domain"]["facebook.com"], 1);
  EXPECT_EQ(json["intercepted_hosts_per_domain"]["vk.com"], 2);
  EXPECT_EQ(json["per_tag"]["AS9198"]["hosts"], 3);
  EXPECT_EQ(json["per_tag"]["AS9198"]["eligible"], 2);
  EXPECT_EQ(json["per_tag"]["AS9198"]["intercepted"], 1);
  ASSERT_EQ(json["per_as"].size(), 3u);
  EXPECT_EQ(json["per_as"][0]["asn"], 0);
  EXPECT_EQ(json["per_as"][0]["eligible"], 0);
  EXPECT_EQ(json["per_as"][1]["asn"], 9198);
  EXPECT_EQ(json["per_as"][1]["name"], "JSC Kazakhtelecom");
  EXPECT_EQ(json["per_as"][1]["hosts"], 2);
  EXPECT_EQ(json["per_as"][1]["intercepted"], 1);
  EXPECT_DOUBLE_EQ(json["per_as"][1]["intercepted_share"].get<double>(), 0.5);
  EXPECT_EQ(json["per_as"][2]["asn"], 206026);
  EXPECT_TRUE(json["per_as"][2]["name"].is_null());
  const std::string text = scan_summary_text(overview);
  EXPECT_NE(text.find("AS9198"), std::string::npos) << text;
  EXPECT_NE(text.find("JSC Kazakhtelecom"), std::string::npos) << text;
  // The store's tally is the same values the JSON renders.
  EXPECT_EQ(overview.tally.intercepted_hosts, 2u);
  EXPECT_EQ(overview.tally.eligible, 3u);
  const auto ases = overview.groups(TallyKind::kAs);
  ASSERT_EQ(ases.size(), 3u);
  EXPECT_EQ(ases[1]->key, "AS9198");
  EXPECT_EQ(ases[1]->name, "JSC Kazakhtelecom");
  EXPECT_EQ(ases[1]->intercepted, 1u);
  const auto domains = overview.groups(TallyKind::kDomain);
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[1]->key, "vk.com");
  EXPECT_EQ(domains[1]->intercepted, 2u) << "intercepted hosts, not results";
  EXPECT_EQ(overview.interceptors.at("(unknown: untrusted changed chain)"), 3u);
}

TEST(ScanSummary, NoPerAsSectionWithoutAPrefixTable) {
  const auto a = host("198.18.0.1", "AS9198");
  ScanSummary summary;
  summary.add_host({&a, true, false});
  const auto json = scan_summary_json(summary.overview({}));
  EXPECT_FALSE(json.contains("per_as"));
  EXPECT_EQ(json["per_tag"]["AS9198"]["hosts"], 1);
}

}  // namespace
}  // namespace mitmscope
