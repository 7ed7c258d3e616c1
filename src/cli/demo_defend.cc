// `mitmscope demo`, act 3: what defenders do with a finding. `export` turns the interception CAs that acts 1 and 2
// found into the entries browsers ship (CRLSet, OneCRL, Chromium's blocklist); a content provider's `sentinel` in
// the lab sees real clients from Debian (curl and headless Chromium) arrive through the interceptor and beside it,
// and names the network they come from; `audit` on a machine whose system bundle holds the interception root, as
// citizens were told to install it, flags it. Every step is the binary (or the client) run as a child; the checks
// read what each wrote.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "cli/common.h"
#include "cli/demo_story.h"
#include "core/process.h"
#include "lab/lab.h"
#include "lab/topology.h"
#include "x509/trust_store.h"

namespace mitmscope::cli::demo {
namespace {

constexpr const char* kExportCreated = "2026-01-01T00:00:00Z";   // reproducible files
constexpr const char* kVisitorNetwork = "AS64496";                // the vantage's network, for the sentinel
constexpr const char* kTargetedName = "facebook.com";              // targeted by the scenario, on the provider's certificate

std::string read_text(const fs::path& path) {
  std::ifstream file(path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// The exported CAs of one export folder, by role.
std::map<std::string, size_t> exported_roles(const fs::path& folder) {
  std::map<std::string, size_t> roles;
  const Json evidence = read_json(folder / "evidence.json");
  if (evidence.is_discarded()) return roles;
  for (const auto& certificate : evidence.value("certificates", Json::array())) ++roles[certificate.value("role", "")];
  return roles;
}

// Whether `program` is in PATH.
bool in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/bin:/bin";
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    if (::access((fs::path(rest.substr(0, colon)) / program).c_str(), X_OK) == 0) return true;
    rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon + 1);
  }
  return false;
}

// What the sentinel saw at one address: visits with a User-Agent per client, and those flagged.
struct AddressVisits {
  std::map<std::string, size_t> visits, flagged;
};

std::map<std::string, AddressVisits> read_visits(const fs::path& path) {
  std::map<std::string, AddressVisits> by_address;
  std::ifstream visits(path);
  for (std::string line; std::getline(visits, line);) {
    const Json visit = Json::parse(line, nullptr, false);
    if (visit.is_discarded() || !visit.contains("user_agent") || !visit["user_agent"].is_string()) continue;
    AddressVisits& seen = by_address[visit["server"].value("ip", "")];
    const std::string client = visit["user_agent"].get<std::string>().starts_with("curl") ? "curl" : "Chromium";
    ++seen.visits[client];
    if (visit.value("flagged", false)) ++seen.flagged[client];
  }
  return by_address;
}

std::string visits_text(const AddressVisits& seen) {
  std::vector<std::string> parts;
  for (const auto& [client, count] : seen.visits) {
    parts.push_back(fmt::format("{} {} of {} flagged", client, seen.flagged.contains(client) ? seen.flagged.at(client) : 0, count));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

int DemoStory::defend_act() {
  act(3, "What defenders do with it: browser blocklists, a server that recognises intercepted visitors, a user's audit");
  if (options_.act == 3) {
    // Alone, the act brings up the lab itself: the sentinel's visitors need the interceptor.
    if (const int status = prepare(); status != kExitOk) return status;
  }
  for (auto step : {&DemoStory::export_step, &DemoStory::sentinel_step, &DemoStory::audit_step}) {
    if (const int status = (this->*step)(); status != kExitOk) return status;
  }
  headlines_.push_back(fmt::format("\nact 3: blocklists in {}; visits in {}\n", (work_ / "blocklist").string(),
                                   (work_ / "visits.jsonl").string()) + defend_headline_);
  return kExitOk;
}

// export: the CAs of each store as CRLSet, OneCRL and Chromium blocklist entries; without a store (act 3 alone), the
// lab's interception root.
int DemoStory::export_step() {
  say("export: the interception CAs as the entries browsers ship (CRLSet, OneCRL, Chromium's blocklist)");
  std::vector<std::string> summary;
  for (const auto& [name, store, roots] : {std::tuple{"2019", store_, state_ / "known-roots"},
                                          std::tuple{"2021-2024", data_store_, corpus_ / "known-roots"}}) {
    const fs::path out = work_ / "blocklist" / name;
    std::vector<std::string> args = {"export", "--out", out.string(), "--created", kExportCreated, "--known-roots", roots.string(),
                                     "--why", "TLS interception measured by mitmscope demo"};
    if (fs::exists(store)) {
      args.insert(args.end(), {"--store", store});
    } else if (name == std::string("2019") && fs::exists(state_ / "known-roots" / "lab-root.pem")) {
      args.push_back((state_ / "known-roots" / "lab-root.pem").string());
    } else {
      continue;
    }
    if (run_child(args, fmt::format("export-{}.log", name), false) != 0) return fail_step("export", fmt::format("export-{}.log", name));
    const auto roles = exported_roles(out);
    summary.push_back(fmt::format("{}: {} intermediate(s) and {} root(s) blocked", name,
                                  roles.contains("intermediate") ? roles.at("intermediate") : 0, roles.contains("root") ? roles.at("root") : 0));
    const bool files = fs::exists(out / "chromium" / "crlset") && fs::exists(out / "firefox" / "onecrl.json") &&
                       fs::exists(out / "chromium" / "cert_verify_proc_blocklist.inc");
    if (name == std::string("2021-2024") && data_truth_) {
      ok(files && roles.contains("intermediate") && roles.at("intermediate") == data_truth_->issuers.size(),
         fmt::format("2021-2024: the {} intermediates found in the data, each as CRLSet, OneCRL and blocklist entries",
                     data_truth_->issuers.size()));
    } else {
      ok(files && !roles.empty(), fmt::format("{}: the lab interceptor's CAs as CRLSet, OneCRL and blocklist entries", name));
    }
  }
  fmt::print("  {}\n", fmt::join(summary, "; "));
  defend_headline_ = fmt::format("act 3 headline: {}", fmt::join(summary, "; "));
  return kExitOk;
}

// sentinel: a content provider's server on an intercepted host's address and on a bypass host's; curl and headless
// Chromium visit a targeted name on both from the vantage point. Namespace mode only: in loopback mode the lab's own
// servers hold the hosts' addresses.
int DemoStory::sentinel_step() {
  if (loopback_) return kExitOk;
  say("sentinel: a content provider's server behind the interceptor and beside it; curl and headless Chromium visit both");
  const std::string through = truth_["intercepted_hosts"][0], beside = truth_["bypass_hosts"][0];
  std::ofstream(work_ / "visitors-pfx2as.txt") << fmt::format("{}\t32\t{}\n", truth_.value("vantage_address", ""),
                                                               std::string(kVisitorNetwork).substr(2));
  std::ofstream(work_ / "visitor-roots.pem") << read_text(state_ / "public-ca.pem") << read_text(state_ / "known-roots" / "lab-root.pem");
  for (const char* stale : {"visits.jsonl", "visits-summary.json", "sentinel.log"}) fs::remove(work_ / stale);
  auto sentinel = spawn({.argv = {"ip", "netns", "exec", lab::kHostsNamespace, self_.string(), "sentinel", "--listen", through + ":443",
                                  "--listen", beside + ":443", "--cert", (state_ / "provider.pem").string(), "--key",
                                  (state_ / "provider-key.pem").string(), "--pfx2as", (work_ / "visitors-pfx2as.txt").string(),
                                  "--out", (work_ / "visits.jsonl").string(), "--summary", (work_ / "visits-summary.json").string()},
                         .log = work_ / "sentinel.log", .truncate_log = true, .own_process_group = true});
  if (!sentinel) return report_error(sentinel.error());
  background_ = sentinel->pid;
  for (int i = 0; i < 100 && read_text(work_ / "sentinel.log").find("listening on") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const bool chromium = in_path("chromium");
  if (!chromium) fmt::print("  (no chromium in PATH: curl visits alone)\n");
  const auto reset = lab::lab_counters(state_, true);   // the device's counters, from zero for these visits
  for (const auto& address : {through, beside}) visit(address, chromium);
  ::kill(background_, SIGTERM);
  wait_for_exit(background_, std::chrono::milliseconds(5000));
  background_ = 0;
  const auto counters = lab::lab_counters(state_, false);
  const Json device = reset && counters ? Json::parse(*counters, nullptr, false) : Json();
  return sentinel_findings(through, beside, chromium, device.is_object() ? device.value("reassembled", -1) : -1);
}

// One visit of the targeted name at `address` by curl and (when there) headless Chromium, from the vantage point.
void DemoStory::visit(const std::string& address, bool chromium) {
  const std::string url = fmt::format("https://{}/", kTargetedName);
  run_program({"timeout", "60", "curl", "-sS", "--max-time", "20", "--cacert", (work_ / "visitor-roots.pem").string(), "--resolve",
               fmt::format("{}:443:{}", kTargetedName, address), url},
              fmt::format("visit-curl-{}.log", address), true);
  if (!chromium) return;
  // Chromium trusts only its own NSS database: certificate errors are accepted, the visit's ClientHello is what counts.
  run_program({"timeout", "60", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--ignore-certificate-errors", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               fmt::format("--user-data-dir={}", (work_ / fmt::format("chromium-{}", address)).string()),
               fmt::format("--host-resolver-rules=MAP {} {}", kTargetedName, address), "--dump-dom", url},
              fmt::format("visit-chromium-{}.log", address), true);
}

// What the sentinel said of each visit: every visit through the interceptor flagged, none beside it. Chromium's
// ClientHello carries a post-quantum key share (X25519MLKEM768): over 1,500 bytes, it comes in two TCP segments, and
// the name falls in the first or the second at random (Chromium orders its extensions at random). The device
// reassembles it before deciding; `reassembled` is its count of such ClientHellos during the visits (-1: unknown).
int DemoStory::sentinel_findings(const std::string& through, const std::string& beside, bool chromium, int reassembled) {
  auto visits = read_visits(work_ / "visits.jsonl");
  const AddressVisits& in = visits[through];
  const AddressVisits& out = visits[beside];
  fmt::print("  through the interceptor ({}): {}\n  beside it ({}): {}\n", through, visits_text(in), beside, visits_text(out));
  const auto count = [](const std::map<std::string, size_t>& counts, const char* client) {
    return counts.contains(client) ? counts.at(client) : size_t{0};
  };
  for (const char* client : {"curl", "Chromium"}) {
    if (std::string(client) == "Chromium" && !chromium) continue;
    ok(count(in.visits, client) > 0 && count(in.flagged, client) == count(in.visits, client),
       fmt::format("every {} visit through the interceptor is recognised by the server (its ClientHello is the device's)", client));
  }
  if (chromium) {
    fmt::print("  the device reassembled {} ClientHello(s) sent in more than one TCP segment\n", reassembled);
    ok(reassembled >= static_cast<int>(count(in.visits, "Chromium")),
       "each of Chromium's post-quantum ClientHellos (two TCP segments) was reassembled by the device before it decided");
  }
  ok(!out.visits.empty() && out.flagged.empty(), "no visit beside the interceptor is flagged");
  const Json summary = read_json(work_ / "visits-summary.json");
  bool named = false;
  for (const auto& network : summary.value("networks", Json::array())) {
    named = named || (network.value("network", "") == kVisitorNetwork && network.value("flagged_visitors", 0) > 0);
  }
  ok(named, fmt::format("the server names the network its intercepted visitors come from ({})", kVisitorNetwork));
  defend_headline_ += fmt::format("; the provider's server flags the visits through the interceptor ({})", visits_text(in));
  return kExitOk;
}

// audit: a machine whose system bundle holds the lab's interception root, as citizens were told to install it, and
// the same machine without it.
int DemoStory::audit_step() {
  say("audit: a user's machine with the interception root installed, and one without");
  const fs::path root = state_ / "known-roots" / "lab-root.pem";
  if (!fs::exists(root)) return fail_step("the lab's root is not there to install", "lab-up.log");
  // The machine's bundle as Debian builds it from Mozilla's roots (this machine's own may hold more).
  std::string mozilla;
  std::error_code listed;
  for (const auto& entry : fs::directory_iterator(kMozillaRootsDirectory, listed)) {
    if (entry.path().extension() == ".crt") mozilla += read_text(entry.path());
  }
  std::map<std::string, int> status;
  for (const auto& [machine, installed] : {std::pair{"machine-installed", true}, std::pair{"machine-clean", false}}) {
    const fs::path tree = work_ / machine;
    std::error_code error;
    fs::remove_all(tree, error);
    fs::create_directories(tree / "etc" / "ssl" / "certs");
    std::ofstream(tree / "etc" / "ssl" / "certs" / "ca-certificates.crt") << mozilla << (installed ? read_text(root) : "");
    status[machine] = run_child({"audit", "--root", tree.string(), "--no-p11kit", "--known-roots", (state_ / "known-roots").string()},
                                fmt::format("audit-{}.log", machine), false);
  }
  fmt::print("  with the root installed: exit {} ({}); without: exit {}\n", status["machine-installed"],
             status["machine-installed"] == 11 ? "a known interceptor is trusted" : "?", status["machine-clean"]);
  ok(status["machine-installed"] == 11 && status["machine-clean"] == 0,
     "the installed interception root is flagged as a known interceptor (exit 11), the clean machine passes (exit 0)");
  defend_headline_ += "; the installed root flagged by audit\n";
  return kExitOk;
}

}  // namespace mitmscope::cli::demo
