// Where the interception happens, from TTL-limited probes (a pure function of their outcomes).
//
// A trace is three series indexed by TTL: the target SNI's ClientHello sent with TTL k on a
// connection set up normally, the same for a control SNI, and optionally a path series (the
// TCP SYN itself sent with TTL k to another port of the address) that measures how far the
// address really is. The answers at each TTL are compared:
//  - the target is forged at TTL k while the control still expires there and goes further:
//    an in-path injector at hop k, between the router that answered at k-1 and the one the
//    control met at k (BRIEF: between two specific routers, 3-4 hops before the hosts);
//  - both end at the same TTL k, the target forged: a device that terminates the connection
//    for any name (a terminating proxy) when the address is further than k, the server itself
//    when it is at k, undecided without a path series;
//  - no forged answer, but the target is answered (TLS or not, reset, alert) at a TTL below the
//    address's distance: a device answers for the address there; the control, answered at the
//    same TTL or not, says terminating proxy or in-path device (squid's HTTP error is such an answer);
//  - no forged answer and nothing before the address: no interception seen on this path.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mitmscope {

enum class HopOutcome {
  kTimeExceeded,   // the probe expired in transit (router known when the ICMP was read)
  kForged,         // a TLS answer with a chain judged intercepted
  kGenuine,        // a TLS answer with any other chain
  kReached,        // path series: the TCP handshake reached the address (or it refused)
  kReset,          // RST
  kClosed,         // FIN without an answer
  kAlert,          // a TLS alert instead of a certificate
  kNotTls,         // an answer that is not TLS (a block page, ...)
  kSilence,        // nothing within the timeout
  kError,          // anything else (local errors)
};
std::string_view hop_outcome_name(HopOutcome outcome);

struct HopResult {
  int ttl = 0;
  HopOutcome outcome = HopOutcome::kSilence;
  std::optional<std::string> router;   // ICMP sender, for kTimeExceeded when known
  std::string detail;
  // A TLS answer's leaf and its verdict (intercepted / untrusted / clean), for the record.
  std::string leaf_sha256;
  std::string verdict;
  std::string interceptor;             // the known interceptor's id, when attributed
  uint16_t source_port = 0;
  double milliseconds = 0;
  int attempts = 1;                    // probes sent at this TTL (silence just below the end is probed again)
};

// One series: results in TTL order.
using TraceSeries = std::vector<HopResult>;

// An answer from where the probe ended (anything but expiry, silence and local errors).
bool hop_terminates(HopOutcome outcome);
// The result at this TTL, or null.
const HopResult* hop_at(const TraceSeries& series, int ttl);
// The TTLs whose silence (or local error) leaves open where the series ends: the unbroken run of
// them just below the first answered TTL. A lost probe there would move the injection point
// later (a forged answer at k+1 after silence at k), so they are worth probing again; silence
// with an expiry above it is settled (that flow went further), and silence with no answer above
// it at all is a filter, not a loss. Hops may be in any order.
std::vector<int> unsettled_silences(const TraceSeries& series);

enum class InjectionKind { kInPath, kTerminatingProxy, kAtServer, kProxyOrServer, kNone, kInconclusive };
std::string_view injection_kind_name(InjectionKind kind);

struct InjectionPoint {
  InjectionKind kind = InjectionKind::kInconclusive;
  std::optional<int> target_terminating_ttl;    // first TTL with an answer other than expiry/silence
  std::optional<int> control_terminating_ttl;
  std::optional<int> address_distance;          // from the path series
  // First TTL answered with a forged chain; without one, the TTL at which a device answers the
  // target (anything but expiry or silence) before the address's distance.
  std::optional<int> injection_ttl;
  std::optional<std::string> router_before;     // the last router before the injection point
  std::optional<std::string> router_after;      // the first router after it (the control's, at the same TTL)
  std::vector<std::string> reasons;
};

InjectionPoint locate_injection(const TraceSeries& target, const TraceSeries& control, const TraceSeries& path = {});

}  // namespace mitmscope
