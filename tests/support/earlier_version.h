// What the version before typed facts stored: a scan result's JSON and a finished scan's summary, as the
// migration tests of both stores write them into a store of that version.
#pragma once

#include <gtest/gtest.h>

#include "store/result_facts.h"

namespace mitmscope::testing {

inline constexpr const char* kEarlierSummaryJson =
    R"({"hosts":6,"eligible":5,"results":30,"intercepted_hosts":4,"per_as":[{"asn":9198,"name":"JSC Kazakhtelecom","hosts":6,)"
    R"("eligible":5,"intercepted":4}],"per_tag":{"kz":{"hosts":6,"eligible":5,"intercepted":4}},"intercepted_hosts_per_domain":{"vk.com":4}})";

inline constexpr const char* kEarlierResultJson =
    R"({"ip":"10.0.0.1","verdict":"intercepted","tags":["kz"],"asn":{"number":9198},"server_hello":{"ja3s":"abc"},)"
    R"("server_certificates":{"certificate":{"issuer":"C=KZ, CN=Security Certificate"}},)"
    R"("interception":{"known_interceptor":{"id":"qaznet-2019"}},"forging":{"not_before_shift_hours":-6.0,)"
    R"("not_after_shift_hours":null,"serial_leading_bits_kept":95,"serial_trailing_bits_differing":32,)"
    R"("serial_length_changed":false,"presented_key":{"type":"RSA","bits":2048,"exponent":"3"},)"
    R"("extensions_dropped":[{"oid":"2.5.29.15","name":"keyUsage","critical":true}]}})";

// The facts and tally `store migrate` must read from the two above.
inline void expect_migrated(const ResultFacts& facts) {
  EXPECT_EQ(facts.outcome, Outcome::kIntercepted) << "from the stored verdict";
  EXPECT_EQ(facts.networks, (std::vector<std::string>{"AS9198", "kz"}));
  EXPECT_EQ(facts.interceptor, "qaznet-2019");
  EXPECT_EQ(facts.issuer, "C=KZ, CN=Security Certificate");
  EXPECT_EQ(facts.ja3s, "abc");
  ASSERT_TRUE(facts.forging);
  EXPECT_EQ(facts.forging->not_before_shift_hours, -6.0);
  EXPECT_FALSE(facts.forging->not_after_shift_hours);
  EXPECT_EQ(facts.forging->serial_trailing_bits_differing, 32);
  EXPECT_EQ(facts.forging->key_bits, 2048);
  EXPECT_EQ(facts.forging->key_exponent, "3");
  EXPECT_EQ(facts.forging->extensions_dropped, std::vector<std::string>{"keyUsage"});
}

inline void expect_migrated(const ScanTally& tally) {
  EXPECT_EQ(tally.eligible, 5u);
  EXPECT_EQ(tally.intercepted_hosts, 4u);
  ASSERT_EQ(tally.groups.size(), 3u) << "per AS, per tag, per domain";
  for (const auto& group : tally.groups) {
    if (group.kind == TallyKind::kAs) {
      EXPECT_EQ(group.name, "JSC Kazakhtelecom");
    }
    if (group.kind == TallyKind::kDomain) {
      EXPECT_EQ(group.intercepted, 4u);
    }
  }
}

}  // namespace mitmscope::testing
