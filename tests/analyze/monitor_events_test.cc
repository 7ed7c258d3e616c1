#include "analyze/monitor_events.h"

#include <gtest/gtest.h>

namespace mitmscope {
namespace {

RoundState round_with(int number, std::map<std::string, std::set<std::string>> per_as, std::set<std::string> shifts = {"-6"},
                      std::set<std::string> intermediates = {"aa"}, std::set<std::string> domains = {"facebook.com"}) {
  RoundState state;
  state.round = number;
  state.started_at = "2026-11-21T00:00:00Z";
  for (const auto& [as, hosts] : per_as) {
    if (hosts.empty()) continue;
    state.hosts_per_as[as] = hosts;
    state.intercepted_hosts.insert(hosts.begin(), hosts.end());
  }
  if (!state.intercepted_hosts.empty()) {
    state.validity_shifts = std::move(shifts);
    state.intermediates = std::move(intermediates);
    state.domains = std::move(domains);
    state.roots = {"kz-2019"};
    state.keys = {"RSA-2048 e=3"};
  }
  return state;
}

std::vector<std::string> types(const std::vector<MonitorEvent>& events) {
  std::vector<std::string> out;
  for (const auto& event : events) out.push_back(event.type + " " + event.scope);
  return out;
}

// Runs rounds through derive/remember, as the monitor does, with a save and reload of the memory
// after every round (a restart between any two rounds must not change anything).
std::vector<std::string> replay(const std::vector<RoundState>& rounds) {
  MonitorMemory memory;
  std::vector<std::string> all;
  for (const auto& round : rounds) {
    for (const auto& event : derive_events(memory, round)) all.push_back(std::to_string(round.round) + " " + event.type + " " + event.scope);
    remember(memory, round);
    memory = MonitorMemory::from_json(nlohmann::json::parse(memory.json().dump()));
  }
  return all;
}

TEST(MonitorEvents, PauseResumeWithChangedRulesIsExactlyThreeEvents) {
  const std::set<std::string> hosts = {"198.18.0.1:443", "198.18.0.2:443"};
  const auto events = replay({round_with(1, {{"AS9198", hosts}}), round_with(2, {{"AS9198", hosts}}),
                              round_with(3, {}), round_with(4, {}), round_with(5, {{"AS9198", hosts}}, {"-24"})});
  EXPECT_EQ(events, (std::vector<std::string>{"1 baseline global", "3 interception_stopped global",
                                              "5 interception_started global", "5 rules_changed global"}));
}

TEST(MonitorEvents, SpreadPerAsAndNewCertificatesAndDomains) {
  MonitorMemory memory;
  const auto first = round_with(1, {{"AS9198", {"a:443"}}});
  derive_events(memory, first);
  remember(memory, first);
  const auto second = round_with(2, {{"AS9198", {"a:443"}}, {"AS29555", {"b:443", "c:443"}}}, {"-6"}, {"aa", "bb"},
                                 {"facebook.com", "vk.com"});
  const auto events = derive_events(memory, second);
  EXPECT_EQ(types(events), (std::vector<std::string>{"hosts_started AS29555", "new_intermediate bb", "new_domain vk.com"}));
  EXPECT_EQ(events[0].detail["hosts"].size(), 2u);
  EXPECT_EQ(events[0].detail["before"], 0);
}

TEST(MonitorEvents, ShrinkingIsHostsStoppedAndAKnownIntermediateIsNotNewAgain) {
  const auto events = replay({round_with(1, {{"AS9198", {"a:443", "b:443"}}}, {"-6"}, {"aa"}),
                              round_with(2, {{"AS9198", {"a:443"}}}, {"-6"}, {"bb"}),
                              round_with(3, {{"AS9198", {"a:443"}}}, {"-6"}, {"aa"})});
  EXPECT_EQ(events, (std::vector<std::string>{"1 baseline global", "2 hosts_stopped AS9198", "2 new_intermediate bb"}));
}

TEST(MonitorEvents, RulesAreComparedWithTheLastRoundThatSawInterception) {
  // Off rounds in between do not hide a change, and no change is not an event.
  const std::set<std::string> hosts = {"a:443"};
  EXPECT_EQ(replay({round_with(1, {{"AS1", hosts}}), round_with(2, {}), round_with(3, {{"AS1", hosts}})}),
            (std::vector<std::string>{"1 baseline global", "2 interception_stopped global", "3 interception_started global"}));
}

TEST(MonitorEvents, RoundStateRoundTripsThroughJson) {
  const auto state = round_with(7, {{"AS9198", {"a:443"}}}, {"-24"});
  const auto back = RoundState::from_json(nlohmann::json::parse(state.json().dump()));
  EXPECT_EQ(back.round, 7);
  EXPECT_EQ(back.hosts_per_as, state.hosts_per_as);
  EXPECT_EQ(back.validity_shifts, state.validity_shifts);
  EXPECT_EQ(back.keys, state.keys);
}

}  // namespace
}  // namespace mitmscope
