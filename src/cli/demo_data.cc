// `mitmscope demo`, act 2: 2021-2024, found in the data. The kz-2021 scenario as OONI web_connectivity measurements
// (lab/ooni_corpus: seven 75-day ISCA intermediates under five roots of one name, used past expiry, 14 domains, 19
// networks, and the traps that are not interception), with a share of the Kazakh measurements recorded instead by
// the other public sources that could have seen it (RIPE Atlas sslcert, Censored Planet Hyperquack v1 and v2,
// ZGrab2), analysed by `mitmscope ooni` exactly as a researcher would analyse the real archives, stored, and reported. Every headline figure is checked against the generator's ground
// truth: the analysis's output for the roots, domains and networks, the store read typed for the uses outside
// validity and the interceptor family.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "analyze/issuer_validity.h"
#include "analyze/stored_families.h"
#include "cli/common.h"
#include "cli/demo_story.h"
#include "lab/ooni_corpus.h"
#include "store/store.h"

namespace mitmscope::cli::demo {
namespace {

constexpr size_t kMeasurements = 20000;
constexpr uint64_t kSeed = 2021;
constexpr double kOtherSources = 0.3;   // of the Kazakh HTTPS measurements

// "C=KZ, O=ISCA, CN=ISCA Intermediate 1 (mitmscope lab)" -> "ISCA Intermediate 1 (mitmscope lab)"
std::string common_name(const std::string& subject) {
  const auto cn = subject.rfind("CN=");
  return cn == std::string::npos ? subject : subject.substr(cn + 3);
}

// The issuers table of `ooni` by SHA-256.
std::map<std::string, Json> issuer_rows(const Json& analysis) {
  std::map<std::string, Json> rows;
  for (const auto& row : analysis["tables"]["issuers"]) rows[row.value("sha256", "")] = row;
  return rows;
}

// A text field of our own JSON output; empty when null or absent.
std::string text_of(const Json& row, const char* field) {
  const auto found = row.find(field);
  return found != row.end() && found->is_string() ? found->get<std::string>() : std::string();
}

template <typename Key>
std::map<std::string, size_t> keyed(const std::map<Key, size_t>& counts, const std::string& prefix) {
  std::map<std::string, size_t> out;
  for (const auto& [key, count] : counts) out[prefix + fmt::format("{}", key)] = count;
  return out;
}

std::map<std::string, size_t> table_counts(const Json& table, const char* key, const char* count) {
  std::map<std::string, size_t> out;
  for (const auto& row : table) out[row.value(key, "")] = row.value(count, size_t{0});
  return out;
}

}  // namespace

int DemoStory::data_act() {
  act(2, "2021-2024, found in the data: the ISCA interception as OONI and the other public sources recorded it (kz-2021)");
  say(fmt::format("lab corpus: the kz-2021 scenario as {} measurements, 2021-06-01 to 2024-12-01: OONI web_connectivity, "
                  "and {:.0f}% of the Kazakh HTTPS ones as RIPE Atlas, Hyperquack v1/v2 and ZGrab2 records",
                  kMeasurements, kOtherSources * 100));
  std::error_code error;
  fs::remove_all(corpus_, error);
  for (const char* stale : {"data.db", "data.db-wal", "data.db-shm"}) fs::remove(work_ / stale, error);
  const lab::OoniCorpusOptions options{.measurements = kMeasurements, .seed = kSeed, .other_sources = kOtherSources};
  auto truth = lab::write_ooni_corpus(corpus_, options);
  if (!truth) return report_error(truth.error());
  data_truth_ = *truth;
  size_t intercepted = 0;
  for (const auto& issuer : truth->issuers) intercepted += issuer.handshakes;
  fmt::print("  {} files under {} (OONI's raw layout) and {}; {} handshakes forged; ground truth in {}\n", truth->files,
             (corpus_ / "raw").string(), (corpus_ / "sources").string(), intercepted, (corpus_ / "ground-truth.json").string());

  say("ooni: the same command a researcher runs on the archives, every source at once, into a store");
  const fs::path out = work_ / "ooni";
  if (run_child({"ooni", (corpus_ / "raw").string(), (corpus_ / "sources").string(), "--known-roots", (corpus_ / "known-roots").string(),
                 "--trust-store", (corpus_ / "trust" / "public-root.pem").string(), "--pfx2as", (corpus_ / "pfx2as.txt").string(),
                 "--store", data_store_, "--out", out.string()},
                "ooni.log", false) != 0) {
    return fail_step("ooni", "ooni.log");
  }
  if (const int status = data_findings(out / "analysis.json"); status != kExitOk) return status;
  return data_report();
}

// The analysis against the ground truth: the intermediates and their roots, their use against their validity, the
// domains and networks, the traps.
int DemoStory::data_findings(const fs::path& analysis_path) {
  const auto& truth = data_truth_;
  const Json analysis = read_json(analysis_path);
  if (!truth || analysis.is_discarded()) return fail_step("the analysis or its ground truth cannot be read", "ooni.log");
  const auto rows = issuer_rows(analysis);
  bool roots_right = rows.size() == truth->issuers.size();
  size_t after = 0, unknown_root = 0;
  std::set<std::string> roots;
  for (const auto& issuer : truth->issuers) {
    const auto row = rows.find(issuer.sha256);
    std::string root = row == rows.end() ? "?" : text_of(row->second, "root_id");
    if (root.empty()) root = "unknown";
    const size_t uses = row == rows.end() ? 0 : row->second.value("handshakes", size_t{0});
    roots_right = roots_right && root == (issuer.root == "unknown" ? "unknown" : issuer.root) && uses == issuer.handshakes;
    roots.insert(issuer.root);
    unknown_root += issuer.root == "unknown";
    after += issuer.used_after_validity;
    fmt::print("  {:<38} root {:<8} valid {} .. {}  used {} .. {}  {:>3} uses after expiry\n", common_name(issuer.subject), root,
               issuer.not_before.substr(0, 10), issuer.not_after.substr(0, 10), issuer.first_seen.substr(0, 10),
               issuer.last_seen.substr(0, 10), issuer.used_after_validity);
  }
  const size_t gaps = analysis["tables"]["gaps"].size();
  fmt::print("  {} gaps where an expired intermediate was still used; {} domains, {} networks\n", gaps,
             analysis["tables"]["domains"].size(), analysis["tables"]["networks"].size());
  ok(roots_right, fmt::format("the {} intermediates, each under its root, told apart by signature among roots of one name "
                              "({} under a root no registry knows), each with its generated uses", truth->issuers.size(), unknown_root));
  ok(table_counts(analysis["tables"]["domains"], "domain", "handshakes") == truth->domains &&
         table_counts(analysis["tables"]["networks"], "asn", "intercepted_measurements") == keyed(truth->networks, "AS"),
     fmt::format("the {} domains and {} networks, each with the generated number of interceptions", truth->domains.size(),
                 truth->networks.size()));
  sources_findings(analysis);
  std::map<std::string, size_t> traps, seen;
  for (const auto& [category, count] : truth->categories) {
    if (category.starts_with("not_intercepted/")) traps[category] = count;
  }
  for (const auto& [category, count] : traps) seen[category] = analysis["summary"]["categories"].value(category, size_t{0});
  ok(seen == traps, "the traps are not interception: the blockpage, the pinned Signal CA, the expired and mismatched servers");
  headlines_.push_back(fmt::format(
      "act 2 headline: {} intermediates under {} roots of one name, used {} times after they expired ({} gaps); {} domains, "
      "{} networks\n", truth->issuers.size(), roots.size(), after, gaps, truth->domains.size(), truth->networks.size()));
  return kExitOk;
}

// Each source's records and interceptions as generated: the same campaign, whoever recorded it.
void DemoStory::sources_findings(const Json& analysis) {
  std::map<std::string, std::pair<size_t, size_t>> generated, found;
  for (const auto& [name, counts] : data_truth_->sources) generated[name] = {counts.records, counts.intercepted};
  std::vector<std::string> parts;
  for (const auto& row : analysis["tables"]["sources"]) {
    const std::string name = row.value("source", "");
    const size_t measurements = row.value("measurements", size_t{0}), intercepted = row.value("intercepted_measurements", size_t{0});
    parts.push_back(fmt::format("{} {} of {}", name, intercepted, measurements));
    if (name != "ooni") found[name] = {measurements, intercepted};
  }
  fmt::print("  intercepted per source: {}\n", fmt::join(parts, ", "));
  ok(!generated.empty() && found == generated,
     fmt::format("the {} other sources' records, each with its interceptions, attributed to the same intermediates as "
                 "OONI's (Hyperquack keeps the leaf alone)", generated.size()));
}

// The stored campaign's report, and what the store says, read typed: uses outside validity, one family.
int DemoStory::data_report() {
  say("report: the stored data's tables and charts (each intermediate's use against its validity, the family)");
  for (const char* name : {"data-report.html", "data-report.json"}) {
    if (run_child({"report", "--store", data_store_, "--known-roots", (corpus_ / "known-roots").string(), "--out",
                   (work_ / name).string(), "--title", "mitmscope demo: the ISCA interception in OONI's data, 2021-2024"},
                  "data-report.log", false) != 0) {
      return fail_step("report", "data-report.log");
    }
  }
  const auto& truth = data_truth_;
  auto store = open_store(data_store_);
  if (!store) return report_error(store.error());
  auto validity = issuer_validity(**store);
  auto members = validity ? family_members(**store, *validity) : Result<std::vector<FamilyMember>>(std::unexpected(validity.error()));
  if (!truth || !validity || !members) return fail_step("the stored data cannot be read", "data-report.log");
  std::map<std::string, size_t> stored_after, generated_after;
  for (const auto& use : *validity) stored_after[use.sha256] = use.used_after.value_or(0);
  for (const auto& issuer : truth->issuers) generated_after[issuer.sha256] = issuer.used_after_validity;
  ok(stored_after == generated_after, "the store counts each intermediate's uses after its expiry as generated");
  const auto families = group_members(*members);
  const size_t sources = truth->sources.size() + 1;   // and OONI
  ok(families.size() == 1 && families.front().members.size() == truth->issuers.size() && families.front().sources.size() == sources,
     fmt::format("one interceptor family of all {} intermediates, seen by all {} sources, with its evidence", truth->issuers.size(), sources));
  if (!families.empty() && !families.front().evidence.empty()) {
    const auto& family = families.front();
    fmt::print("  {}: {} issuers joined by {} links, e.g. {}\n", family.id, family.members.size(), family.evidence.size(),
               family.evidence.front());
  }
  headlines_.back() = fmt::format("\nact 2, report: {}\n       store:  {}\n", (work_ / "data-report.html").string(), data_store_) +
                      headlines_.back();
  return kExitOk;
}

}  // namespace mitmscope::cli::demo
