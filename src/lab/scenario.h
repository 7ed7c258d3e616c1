// A lab scenario: the emulated country's network as data (docs/LAB.md).
//
// It says which ASes and prefixes exist and how many TLS hosts each holds, which
// prefixes are routed through the interceptor, which bypass it and which switch
// between the two on a schedule (BRIEF's evening rise), the targeted SNIs, the
// forging rules and their phases, and when the interceptor is on. The planner
// turns it into concrete addresses, so tests can compare measurements with the
// scenario's ground truth.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "lab/forger.h"
#include "lab/product.h"

namespace mitmscope::lab {

enum class PathKind { kInterceptor, kBypass, kEvening };

struct PrefixSpec {
  size_t hosts = 0;
  PathKind path = PathKind::kBypass;
};

struct AsSpec {
  uint32_t asn = 0;
  std::string name;
  std::vector<PrefixSpec> prefixes;
};

using Subject = std::vector<std::pair<std::string, std::string>>;

// The interceptor's CA: a root and the intermediates that sign forged leaves, with
// validity windows relative to `lab up` (BRIEF 2021-2024: 75-day intermediates, used
// also after they expired).
struct IntermediateSpec {
  Subject subject;
  int from_days = -30;
  int days = 1095;
};

struct IssuerSpec {
  Subject root_subject = {{"C", "KZ"}, {"O", "mitmscope lab"}, {"CN", "Qaznet Trust Network (mitmscope lab)"}};
  int root_bits = 4096;
  int root_years = 30;
  int root_from_days = -365;
  std::vector<IntermediateSpec> intermediates = {IntermediateSpec{{{"C", "KZ"}, {"CN", "Security Certificate"}}, -30, 1095}};
  size_t initial_intermediate = 0;
};

// "C=KZ, O=ISCA, CN=..." -> pairs, in order.
Result<Subject> parse_subject(std::string_view text);

// A change at a time offset from `lab up`; unset fields are unchanged.
struct ScheduleEvent {
  long at_seconds = 0;
  std::optional<bool> interceptor_on;
  std::optional<bool> evening_through_interceptor;
  std::optional<int> validity_shift_hours;
  std::optional<int> key_bits;
  std::optional<size_t> intermediate;   // index into IssuerSpec::intermediates
};

struct Schedule {
  bool interceptor_on = true;
  bool evening_through_interceptor = false;
  std::vector<ScheduleEvent> events;   // sorted by at_seconds
  long repeat_every_seconds = 0;       // 0: events happen once
};

enum class InterceptorMode { kInPath, kTerminatingProxy };

struct Scenario {
  std::string name;
  std::string description;
  size_t hosts_total = 0;
  size_t default_size = 0;
  int routers = 6;
  int interceptor_router = 4;          // the device sits at this router (1-based)
  InterceptorMode mode = InterceptorMode::kInPath;
  // The device: the lab's own (the rules below) or a real product (lab/product), which is always a
  // terminating proxy and signs with the root.
  Product product = Product::kLabDevice;
  ForgingRules forging;
  IssuerSpec issuer;
  std::vector<std::string> targeted_domains;
  // Names the device leaves alone, scanned beside the targeted ones (domains.txt holds both).
  std::vector<std::string> untargeted_domains;
  // Targeted names the lab's resolver does not know (a product that checks DNS answers them with an error).
  std::vector<std::string> unresolved_domains;
  std::vector<AsSpec> ases;
  size_t untrusted_hosts_every = 0;    // every Nth host serves a self-signed certificate (0: none)
  Schedule schedule;
};

Result<Scenario> parse_scenario(std::string_view json_text, std::string_view source);
// NAME (a shipped scenario: kz-2019, kz-2021) or a path to a file.
Result<Scenario> load_scenario(std::string_view name_or_path);
std::vector<std::string> shipped_scenarios();

// Concrete addresses for a scenario at a size.
struct PlannedPrefix {
  uint32_t asn = 0;
  std::string as_name;
  std::string cidr;                    // "198.18.4.0/22"
  uint32_t network = 0;                // host byte order
  int length = 0;
  PathKind path = PathKind::kBypass;
  std::vector<uint32_t> hosts;         // addresses, host byte order
};

struct Plan {
  std::vector<PlannedPrefix> prefixes;
  size_t host_count = 0;
  std::set<uint32_t> untrusted_hosts;  // serve a self-signed certificate (ineligible hosts)
  bool is_untrusted_host(uint32_t address) const { return untrusted_hosts.contains(address); }
};

// Host counts are scaled to `size` (default_size when 0); every prefix keeps at least one host.
Result<Plan> plan_scenario(const Scenario& scenario, size_t size);

std::string ipv4_to_string(uint32_t address);
std::string_view path_kind_name(PathKind path);

}  // namespace mitmscope::lab
