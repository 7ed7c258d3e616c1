#include "trace/locate.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "trace/icmp.h"

namespace mitmscope {
namespace {

// Routers 10.200.k.2 at hop k+1 (the lab's addresses), the host at hop `host`.
TraceSeries series(int max_ttl, int answered_at, HopOutcome answer, int host = 7) {
  TraceSeries out;
  for (int ttl = 1; ttl <= max_ttl; ++ttl) {
    HopResult hop;
    hop.ttl = ttl;
    if (ttl < answered_at && ttl < host) {
      hop.outcome = HopOutcome::kTimeExceeded;
      hop.router = "10.200." + std::to_string(ttl - 1) + ".2";
    } else {
      hop.outcome = answer;
    }
    out.push_back(hop);
  }
  return out;
}

TEST(LocateInjection, InPathInjectorBetweenTwoRouters) {
  const auto point = locate_injection(series(10, 4, HopOutcome::kForged), series(10, 7, HopOutcome::kGenuine));
  EXPECT_EQ(point.kind, InjectionKind::kInPath);
  EXPECT_EQ(point.injection_ttl, 4);
  EXPECT_EQ(point.target_terminating_ttl, 4);
  EXPECT_EQ(point.control_terminating_ttl, 7);
  EXPECT_EQ(point.router_before, "10.200.2.2");  // hop 3
  EXPECT_EQ(point.router_after, "10.200.3.2");   // hop 4, met by the control
}

TEST(LocateInjection, TerminatingProxyWhenBothEndBeforeTheAddress) {
  const auto point = locate_injection(series(10, 4, HopOutcome::kForged), series(10, 4, HopOutcome::kGenuine),
                                      series(10, 7, HopOutcome::kReached));
  EXPECT_EQ(point.kind, InjectionKind::kTerminatingProxy);
  EXPECT_EQ(point.address_distance, 7);
  EXPECT_EQ(point.router_before, "10.200.2.2");
  EXPECT_EQ(point.router_after, "10.200.3.2");
}

TEST(LocateInjection, AtServerWhenEverythingEndsAtTheAddress) {
  const auto point = locate_injection(series(10, 7, HopOutcome::kForged), series(10, 7, HopOutcome::kGenuine),
                                      series(10, 7, HopOutcome::kReached));
  EXPECT_EQ(point.kind, InjectionKind::kAtServer);
  const auto undecided = locate_injection(series(10, 7, HopOutcome::kForged), series(10, 7, HopOutcome::kGenuine));
  EXPECT_EQ(undecided.kind, InjectionKind::kProxyOrServer);
}

TEST(LocateInjection, NoForgedAnswerIsNoInterception) {
  const auto point = locate_injection(series(10, 7, HopOutcome::kGenuine), series(10, 7, HopOutcome::kGenuine));
  EXPECT_EQ(point.kind, InjectionKind::kNone);
  EXPECT_FALSE(point.injection_ttl);
  const auto silent = locate_injection(series(5, 99, HopOutcome::kSilence, 99), series(5, 99, HopOutcome::kSilence, 99));
  EXPECT_EQ(silent.kind, InjectionKind::kInconclusive);
}

TEST(LocateInjection, SilentHopsAndUnknownRoutersAreSaidNotGuessed) {
  auto target = series(10, 4, HopOutcome::kForged);
  auto control = series(10, 7, HopOutcome::kGenuine);
  target[2].router.reset();   // hop 3: no raw socket, or the router does not answer
  control[2].router.reset();
  control[3].outcome = HopOutcome::kSilence;  // hop 4 silent for the control
  const auto point = locate_injection(target, control);
  EXPECT_EQ(point.kind, InjectionKind::kInPath);
  EXPECT_FALSE(point.router_before);
  EXPECT_FALSE(point.router_after);
}

std::vector<uint8_t> time_exceeded_packet(uint8_t type = 11, size_t truncate = 0) {
  std::vector<uint8_t> packet = {
      0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0, 10, 200, 2, 2, 10, 200, 0, 1,      // IP: router -> vantage
      type, 0, 0, 0, 0, 0, 0, 0,                                                 // ICMP time exceeded
      0x45, 0, 0, 52, 0, 0, 0x40, 0, 1, 6, 0, 0, 10, 200, 0, 1, 198, 18, 0, 1,   // quoted IP: vantage -> host, TCP
      0xa4, 0x10, 0x01, 0xbb, 0x12, 0x34, 0x56, 0x78};                           // ports 42000 -> 443, seq
  packet.resize(packet.size() - truncate);
  return packet;
}

TEST(TimeExceeded, MatchesTheQuotedTcpHeader) {
  const auto packet = time_exceeded_packet();
  const auto message = parse_time_exceeded(packet);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->router, 0x0ac80202u);
  EXPECT_EQ(message->original_source, 0x0ac80001u);
  EXPECT_EQ(message->original_destination, 0xc6120001u);
  EXPECT_EQ(message->protocol, 6);
  EXPECT_EQ(message->source_port, 42000);
  EXPECT_EQ(message->destination_port, 443);
  EXPECT_EQ(message->sequence, 0x12345678u);
}

TEST(TimeExceeded, RejectsOtherTypesAndTruncatedPackets) {
  EXPECT_FALSE(parse_time_exceeded(time_exceeded_packet(3)));  // destination unreachable
  for (size_t cut = 1; cut <= 30; ++cut) {
    const auto packet = time_exceeded_packet(11, cut);
    EXPECT_FALSE(parse_time_exceeded(packet)) << cut;
  }
  EXPECT_FALSE(parse_time_exceeded({}));
}

}  // namespace
// squid (ssl-bump, intercept) at hop 4 of 7: the control gets an HTTP error at TTL 4, the target a
// chain nothing could call forged (no registry entry, no control certificate): still a device at hop 4.
TEST(LocateInjection, DeviceAnsweringBelowTheAddressWithoutAForgedChain) {
  const auto point = locate_injection(series(10, 4, HopOutcome::kNotTls), series(10, 4, HopOutcome::kNotTls),
                                      series(10, 7, HopOutcome::kReached));
  EXPECT_EQ(point.kind, InjectionKind::kTerminatingProxy);
  EXPECT_EQ(point.injection_ttl, 4);
  EXPECT_EQ(point.router_before, "10.200.2.2");
  ASSERT_FALSE(point.reasons.empty());
  EXPECT_NE(point.reasons.front().find("7 hops away"), std::string::npos) << point.reasons.front();
}

TEST(LocateInjection, ResetBelowTheAddressWhileTheControlGoesOnIsInPath) {
  const auto point = locate_injection(series(10, 3, HopOutcome::kReset), series(10, 7, HopOutcome::kGenuine),
                                      series(10, 7, HopOutcome::kReached));
  EXPECT_EQ(point.kind, InjectionKind::kInPath);
  EXPECT_EQ(point.injection_ttl, 3);
  EXPECT_EQ(point.router_after, "10.200.2.2");  // the control's router at hop 3
}

TEST(LocateInjection, AnswerAtTheAddressWithoutForgeryIsStillNone) {
  // Without the path series the distance is unknown: nothing is claimed from an answer alone.
  const auto unknown = locate_injection(series(10, 4, HopOutcome::kNotTls), series(10, 4, HopOutcome::kNotTls));
  EXPECT_EQ(unknown.kind, InjectionKind::kNone);
  const auto at_address = locate_injection(series(10, 7, HopOutcome::kNotTls), series(10, 7, HopOutcome::kGenuine),
                                           series(10, 7, HopOutcome::kReached));
  EXPECT_EQ(at_address.kind, InjectionKind::kNone);
}

namespace {
// The series with the given TTLs' outcomes replaced (the rest as `series` builds them).
TraceSeries with_outcomes(TraceSeries out, std::initializer_list<std::pair<int, HopOutcome>> changes) {
  for (const auto& [ttl, outcome] : changes) {
    out[ttl - 1].outcome = outcome;
    out[ttl - 1].router.reset();
  }
  return out;
}
}  // namespace

TEST(UnsettledSilences, TheSilenceJustBelowTheFirstAnswerIsProbedAgain) {
  // The 2019 device at hop 4, its probe lost: forged from 5 would read one hop too far.
  const auto target = with_outcomes(series(8, 4, HopOutcome::kForged), {{4, HopOutcome::kSilence}});
  EXPECT_EQ(unsettled_silences(target), std::vector<int>{4});
  EXPECT_EQ(locate_injection(target, series(8, 7, HopOutcome::kGenuine)).injection_ttl, 5);
}

TEST(UnsettledSilences, TheWholeUnbrokenRunBelowTheAnswerNearestFirst) {
  const auto target =
      with_outcomes(series(8, 6, HopOutcome::kForged), {{3, HopOutcome::kSilence}, {4, HopOutcome::kError},
                                                         {5, HopOutcome::kSilence}});
  EXPECT_EQ(unsettled_silences(target), (std::vector<int>{5, 4, 3}));
}

TEST(UnsettledSilences, SilenceBelowAnExpiryIsSettled) {
  // A router that never answers ICMP at hop 2: the probe at 3 expired further on, so 2 was no loss that matters.
  const auto target = with_outcomes(series(8, 4, HopOutcome::kForged), {{2, HopOutcome::kSilence}});
  EXPECT_TRUE(unsettled_silences(target).empty());
}

TEST(UnsettledSilences, NoAnswerAtAllIsAFilterNotALoss) {
  const auto target = with_outcomes(series(8, 9, HopOutcome::kForged),
                                    {{6, HopOutcome::kSilence}, {7, HopOutcome::kSilence}, {8, HopOutcome::kSilence}});
  EXPECT_TRUE(unsettled_silences(target).empty());
}

TEST(UnsettledSilences, HopsInArrivalOrderAndAFirstTtlAboveOne) {
  auto target = with_outcomes(series(8, 4, HopOutcome::kForged), {{4, HopOutcome::kSilence}});
  target.erase(target.begin(), target.begin() + 2);   // probed from TTL 3
  std::ranges::reverse(target);
  EXPECT_EQ(unsettled_silences(target), std::vector<int>{4});
  target = with_outcomes(series(8, 4, HopOutcome::kForged), {{1, HopOutcome::kSilence}, {2, HopOutcome::kSilence},
                                                              {3, HopOutcome::kSilence}});
  EXPECT_EQ(unsettled_silences(target), (std::vector<int>{3, 2, 1}));
}

}  // namespace mitmscope
