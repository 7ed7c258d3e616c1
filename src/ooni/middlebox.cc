#include "ooni/middlebox.h"

#include <map>
#include <tuple>

namespace mitmscope::ooni {
namespace {

using HandshakeKey = std::tuple<uint32_t, uint64_t, uint32_t, uint16_t>;   // file, line, record, handshake

TraceSeries series_of(const std::vector<KeptHop>& hops, const KeptTrace& trace,
                      const std::map<HandshakeKey, const JudgedHandshake*>& judged) {
  TraceSeries series;
  for (const KeptHop& hop : hops) {
    HopResult result{.ttl = hop.ttl, .outcome = hop.outcome, .detail = std::string(hop.detail)};
    if (!hop.router.empty()) result.router = std::string(hop.router);
    if (hop.handshake) {
      // Kept handshakes were judged; one that was not kept was browser-trusted (clean).
      const auto found = judged.find({trace.file, trace.line, trace.record, *hop.handshake});
      const bool forged = found != judged.end() && found->second->verdict == OoniVerdict::kIntercepted;
      result.outcome = forged ? HopOutcome::kForged : HopOutcome::kGenuine;
      result.verdict = found == judged.end() ? "clean" : std::string(ooni_verdict_name(found->second->verdict));
      if (forged && found->second->root) result.interceptor = found->second->root->id;
    }
    series.push_back(std::move(result));
  }
  return series;
}

}  // namespace

HopOutcome middlebox_hop_outcome(std::string_view failure, std::string_view so_error) {
  if (failure == "generic_timeout_error") {
    return so_error == "host_unreachable" || so_error == "ttl_exceeded" ? HopOutcome::kTimeExceeded : HopOutcome::kSilence;
  }
  if (failure == "connection_reset") return HopOutcome::kReset;
  if (failure == "eof_error") return HopOutcome::kClosed;
  if (failure.starts_with("ssl_")) return HopOutcome::kAlert;
  return HopOutcome::kError;
}

void locate_middlebox(AnalysisResult& result) {
  std::map<HandshakeKey, const JudgedHandshake*> judged;
  for (const auto& entry : result.judged) {
    const KeptHandshake& kept = *entry.handshake;
    if (kept.test_name == "tlsmiddlebox") judged[{kept.file, kept.line, kept.record, kept.handshake}] = &entry;
  }
  result.middlebox.clear();
  for (const KeptTrace& trace : result.traces) {
    const TraceSeries target = series_of(trace.target, trace, judged);
    const TraceSeries control = series_of(trace.control, trace, judged);
    const TraceSeries path = series_of(trace.path, trace, judged);
    result.middlebox.push_back({&trace, locate_injection(target, control, path)});
  }
}

}  // namespace mitmscope::ooni
