// One vocabulary across sources: every source's verdict maps to an Outcome, and the mapping is what the docs say
// (docs/SCHEMA.md, "outcome").
#include <gtest/gtest.h>

#include "core/verdict.h"
#include "detect/scan_result.h"
#include "ooni/verdict_rules.h"
#include "sentinel/visit.h"

namespace mitmscope {
namespace {

TEST(Outcome, NamesRoundTrip) {
  for (Outcome outcome : {Outcome::kIntercepted, Outcome::kSuspicious, Outcome::kNotIntercepted, Outcome::kInconclusive,
                          Outcome::kError}) {
    EXPECT_EQ(outcome_from_name(outcome_name(outcome)), outcome);
  }
  EXPECT_FALSE(outcome_from_name("mismatch")) << "a source's own verdict is not an outcome";
}

TEST(Outcome, AChainVerdict) {
  EXPECT_EQ(outcome_of(VerdictKind::kIntercepted), Outcome::kIntercepted);
  EXPECT_EQ(outcome_of(VerdictKind::kUntrusted), Outcome::kSuspicious);
  EXPECT_EQ(outcome_of(VerdictKind::kClean), Outcome::kNotIntercepted);
  EXPECT_EQ(outcome_of(VerdictKind::kError), Outcome::kError);
}

TEST(Outcome, AScanVerdict) {
  EXPECT_EQ(scan_outcome(ScanVerdict::kIntercepted), Outcome::kIntercepted);
  EXPECT_EQ(scan_outcome(ScanVerdict::kMismatch), Outcome::kSuspicious) << "a changed but trusted chain: a CDN, or not";
  EXPECT_EQ(scan_outcome(ScanVerdict::kClean), Outcome::kNotIntercepted);
  EXPECT_EQ(scan_outcome(ScanVerdict::kError), Outcome::kError);
  for (ScanVerdict verdict : {ScanVerdict::kControlFailed, ScanVerdict::kStateful, ScanVerdict::kIneligible}) {
    EXPECT_EQ(scan_outcome(verdict), Outcome::kInconclusive) << scan_verdict_name(verdict);
  }
}

TEST(Outcome, AnOoniVerdict) {
  EXPECT_EQ(ooni::ooni_outcome(ooni::OoniVerdict::kIntercepted), Outcome::kIntercepted);
  EXPECT_EQ(ooni::ooni_outcome(ooni::OoniVerdict::kNotIntercepted), Outcome::kNotIntercepted)
      << "untrusted, but explained otherwise (the server's own certificate)";
  EXPECT_EQ(ooni::ooni_outcome(ooni::OoniVerdict::kClean), Outcome::kNotIntercepted);
  EXPECT_EQ(ooni::ooni_outcome(ooni::OoniVerdict::kInconclusive), Outcome::kInconclusive);
  EXPECT_EQ(ooni::ooni_outcome(ooni::OoniVerdict::kFailed), Outcome::kError);
}

TEST(Outcome, ASentinelVisit) {
  EXPECT_EQ(visit_outcome(VisitVerdict::kKnownInterceptor), Outcome::kIntercepted);
  EXPECT_EQ(visit_outcome(VisitVerdict::kInterceptorShape), Outcome::kIntercepted);
  EXPECT_EQ(visit_outcome(VisitVerdict::kInconsistent), Outcome::kSuspicious);
  EXPECT_EQ(visit_outcome(VisitVerdict::kConsistent), Outcome::kNotIntercepted);
  EXPECT_EQ(visit_outcome(VisitVerdict::kUnjudged), Outcome::kInconclusive);
}

}  // namespace
}  // namespace mitmscope
