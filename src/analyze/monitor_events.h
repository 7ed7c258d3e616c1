// What changed between two monitor rounds, as events (a pure function, tested without a network).
//
// A round is condensed into a RoundState: which hosts and domains were intercepted, per AS, the
// certificates that signed the forged leaves (intermediates) and the roots they were attributed to,
// and the forging rules seen (validity shift, key). The monitor's memory is the last round, the last
// round that saw interception, and everything ever seen; it is stored after every round, so a
// monitor that is stopped and started again derives the next events exactly as if it had not stopped.
//
// Events (type, scope):
//   baseline              global  the first round: what is there (no per-item events)
//   interception_started  global  nothing intercepted in the previous round, something now
//   interception_stopped  global  the reverse
//   hosts_started         ASnnn   more hosts of an AS intercepted while interception went on elsewhere
//   hosts_stopped         ASnnn   fewer (the per-AS spread of BRIEF's evening rise)
//   new_intermediate      SHA-256 a signing certificate never seen before
//   new_root              id      a root (registry id or SHA-256) never seen before
//   rules_changed         global  validity shift or key of the forged certificates differs from the
//                                 last round that saw interception
//   new_domain            domain  a domain intercepted for the first time (after the baseline)
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "detect/scan.h"

namespace mitmscope {

struct RoundState {
  int round = 0;
  std::string started_at;
  std::set<std::string> intercepted_hosts;                      // "ip:port"
  std::map<std::string, std::set<std::string>> hosts_per_as;    // intercepted hosts per "ASnnn"
  std::set<std::string> domains;                                // intercepted domains
  std::set<std::string> intermediates;                          // SHA-256 of the forged leaves' signers
  std::set<std::string> roots;                                  // attributed roots (registry id)
  std::set<std::string> validity_shifts;                        // "-6", "-24" (hours, not_before)
  std::set<std::string> keys;                                   // "RSA-2048 e=3"

  // An intercepted result of the round; `as_key` "AS9198" (or empty when unknown).
  void add(const ScanResult& result, const std::string& as_key);
  nlohmann::json json() const;
  static RoundState from_json(const nlohmann::json& json);
};

struct MonitorEvent {
  int round = 0;
  std::string time;
  std::string type;
  std::string scope;
  nlohmann::json detail;
  nlohmann::json json() const;
};

// The event in words, for people: "interception stopped on 4 hosts in AS9198 (7 -> 3)". Reads only what it
// needs from `detail` and says less, never throws, when a stored detail lacks a field.
std::string event_sentence(std::string_view type, std::string_view scope, const nlohmann::json& detail);

struct MonitorMemory {
  std::optional<RoundState> last;
  std::optional<RoundState> last_intercepting;
  std::set<std::string> intermediates_seen, roots_seen, domains_seen;

  nlohmann::json json() const;
  static MonitorMemory from_json(const nlohmann::json& json);
};

// The events `current` brings after `memory`, in a fixed order (global first).
std::vector<MonitorEvent> derive_events(const MonitorMemory& memory, const RoundState& current);
// Updates the memory with a finished round.
void remember(MonitorMemory& memory, const RoundState& current);

}  // namespace mitmscope
