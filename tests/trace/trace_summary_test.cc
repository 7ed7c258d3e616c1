#include <gtest/gtest.h>

#include "report/trace_output.h"
#include "trace/tracer.h"

namespace mitmscope {
namespace {

InjectionPoint point(InjectionKind kind, std::optional<int> ttl, std::string before, std::string after,
                     std::optional<int> distance = 7) {
  InjectionPoint out;
  out.kind = kind;
  out.injection_ttl = ttl;
  if (!before.empty()) out.router_before = before;
  if (!after.empty()) out.router_after = after;
  out.address_distance = distance;
  return out;
}

TraceRun run_with(InjectionPoint p, std::vector<std::pair<int, std::string>> routers = {}) {
  TraceRun run;
  run.point = std::move(p);
  for (const auto& [ttl, router] : routers) {
    HopResult hop;
    hop.ttl = ttl;
    hop.outcome = HopOutcome::kTimeExceeded;
    hop.router = router;
    run.control.push_back(hop);
  }
  return run;
}

TraceResult result_for(std::string ip, std::vector<std::string> tags, std::vector<TraceRun> runs) {
  TraceResult result;
  result.host.endpoint.ip = std::move(ip);
  result.host.tags = std::move(tags);
  result.runs = std::move(runs);
  summarize_runs(result);
  return result;
}

TEST(TraceRuns, ConsensusIsTheMostCommonAnswerAndCountsAgreement) {
  const auto in_path = point(InjectionKind::kInPath, 4, "10.0.2.2", "10.0.3.2");
  const auto other = point(InjectionKind::kInPath, 5, "10.0.3.2", "10.0.4.2");
  auto result = result_for("192.0.2.1", {}, {run_with(other), run_with(in_path), run_with(in_path)});
  EXPECT_EQ(result.agreeing_runs, 2);
  EXPECT_EQ(result.point.injection_ttl, 4);
  EXPECT_EQ(result.point.router_before, "10.0.2.2");
}

TEST(TraceRuns, ATtlAnsweredBySeveralRoutersIsReported) {
  const auto p = point(InjectionKind::kNone, std::nullopt, "", "");
  auto result = result_for("192.0.2.1", {}, {run_with(p, {{1, "10.0.0.2"}, {2, "10.0.1.2"}}),
                                             run_with(p, {{1, "10.0.0.2"}, {2, "10.9.1.2"}})});
  ASSERT_EQ(result.multi_router_ttls.size(), 1u);
  EXPECT_EQ(result.multi_router_ttls[0].ttl, 2);
  EXPECT_EQ(result.multi_router_ttls[0].routers, (std::vector<std::string>{"10.0.1.2", "10.9.1.2"}));
  EXPECT_EQ(result.agreeing_runs, 2);
}

TEST(TraceAggregateTest, SharesPairsHopsAndPerAsFromTags) {
  TraceAggregate aggregate;
  const auto in_path = point(InjectionKind::kInPath, 4, "10.0.2.2", "10.0.3.2");
  const auto proxy = point(InjectionKind::kTerminatingProxy, 5, "10.0.3.2", "10.0.4.2", 9);
  const auto at_server = point(InjectionKind::kAtServer, 7, "10.0.5.2", "", 7);
  const auto none = point(InjectionKind::kNone, std::nullopt, "", "");
  aggregate.add(result_for("192.0.2.1", {"AS9198"}, {run_with(in_path)}), nullptr);
  aggregate.add(result_for("192.0.2.2", {"AS9198"}, {run_with(in_path)}), nullptr);
  aggregate.add(result_for("192.0.2.3", {"AS9198"}, {run_with(none)}), nullptr);
  aggregate.add(result_for("192.0.2.4", {"AS48716"}, {run_with(proxy)}), nullptr);
  aggregate.add(result_for("192.0.2.5", {"untagged"}, {run_with(at_server)}), nullptr);
  const auto json = aggregate.json();
  EXPECT_EQ(json["hosts"], 5);
  EXPECT_EQ(json["intercepted"], 4);
  EXPECT_EQ(json["injection_before_host"], 3);   // at the server is not before the host
  EXPECT_DOUBLE_EQ(json["injection_before_host_share"].get<double>(), 0.75);
  EXPECT_EQ(json["hops_before_host"]["3"], 2);
  EXPECT_EQ(json["hops_before_host"]["4"], 1);
  EXPECT_EQ(json["hops_before_host"]["0"], 1);
  EXPECT_EQ(json["router_pairs"][0]["router_before"], "10.0.2.2");
  EXPECT_EQ(json["router_pairs"][0]["hosts"], 2);
  EXPECT_DOUBLE_EQ(json["router_pairs"][0]["share"].get<double>(), 0.5);
  EXPECT_EQ(json["kinds"]["no_interception"], 1);
  bool saw_9198 = false;
  for (const auto& row : json["per_as"]) {
    if (row["as"] == "AS9198") {
      saw_9198 = true;
      EXPECT_EQ(row["hosts"], 3);
      EXPECT_EQ(row["intercepted"], 2);
    }
    EXPECT_NE(row["as"], "AS");   // "untagged" is not an AS
  }
  EXPECT_TRUE(saw_9198);
  EXPECT_NE(aggregate.text().find("10.0.2.2"), std::string::npos);
}

TEST(TraceAggregateTest, InconsistentRunsAreCounted) {
  TraceAggregate aggregate;
  const auto a = point(InjectionKind::kInPath, 4, "10.0.2.2", "10.0.3.2");
  const auto b = point(InjectionKind::kNone, std::nullopt, "", "");
  aggregate.add(result_for("192.0.2.1", {}, {run_with(a), run_with(b), run_with(a)}), nullptr);
  EXPECT_EQ(aggregate.json()["hosts_with_inconsistent_runs"], 1);
}

TEST(TraceJson, NamesTheInjectionAndSaysWhyRoutersAreUnknown) {
  auto result = result_for("192.0.2.1", {}, {run_with(point(InjectionKind::kInPath, 4, "10.0.2.2", "10.0.3.2"))});
  result.routers_known = false;
  const auto json = trace_result_json(result, nullptr);
  EXPECT_EQ(json["injection"]["kind"], "in_path_injector");
  EXPECT_EQ(json["injection"]["hops_before_address"], 3);
  EXPECT_EQ(json["injection"]["router_before"]["address"], "10.0.2.2");
  EXPECT_TRUE(json.contains("routers_unknown_reason"));
  EXPECT_EQ(json["consistency"]["agreeing_runs"], 1);
}

}  // namespace
}  // namespace mitmscope
