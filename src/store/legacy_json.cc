#include "store/legacy_json.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mitmscope {
namespace {

using Json = nlohmann::json;

std::string text_at(const Json& object, std::string_view pointer) {
  const Json::json_pointer at{std::string(pointer)};
  if (!object.contains(at)) return {};
  const Json& value = object[at];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  return {};
}

std::optional<double> number_at(const Json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
}

// The shared outcome of a verdict as a scan or `ooni` wrote it.
Outcome outcome_of_verdict_name(std::string_view verdict) {
  if (verdict == "intercepted") return Outcome::kIntercepted;
  if (verdict == "mismatch") return Outcome::kSuspicious;
  if (verdict == "clean" || verdict == "not_intercepted") return Outcome::kNotIntercepted;
  if (verdict == "error" || verdict == "failed" || verdict.empty()) return Outcome::kError;
  return Outcome::kInconclusive;   // control_failed, stateful, ineligible, inconclusive
}

ForgingFacts forging_from(const Json& forging) {
  ForgingFacts facts;
  facts.not_before_shift_hours = number_at(forging, "not_before_shift_hours");
  facts.not_after_shift_hours = number_at(forging, "not_after_shift_hours");
  facts.serial_leading_bits_kept = static_cast<int>(number_at(forging, "serial_leading_bits_kept").value_or(0));
  facts.serial_trailing_bits_differing = static_cast<int>(number_at(forging, "serial_trailing_bits_differing").value_or(0));
  facts.serial_length_changed = forging.value("serial_length_changed", false);
  facts.key_type = text_at(forging, "/presented_key/type");
  if (const auto key = forging.find("presented_key"); key != forging.end() && key->is_object()) {
    facts.key_bits = static_cast<int>(number_at(*key, "bits").value_or(0));
  }
  facts.key_exponent = text_at(forging, "/presented_key/exponent");
  if (const auto dropped = forging.find("extensions_dropped"); dropped != forging.end() && dropped->is_array()) {
    for (const auto& extension : *dropped) {
      if (extension.is_object() && extension.contains("name") && extension["name"].is_string()) {
        facts.extensions_dropped.push_back(extension["name"].get<std::string>());
      }
    }
  }
  return facts;
}

}  // namespace

ResultFacts facts_from_result_json(std::string_view text) {
  const Json json = Json::parse(text, nullptr, false);
  ResultFacts facts;
  if (!json.is_object()) return facts;
  facts.outcome = outcome_of_verdict_name(text_at(json, "/verdict"));
  if (const std::string asn = text_at(json, "/asn/number"); !asn.empty()) facts.networks.push_back("AS" + asn);
  if (const std::string asn = text_at(json, "/probe_asn"); !asn.empty()) facts.networks.push_back(asn);
  if (const auto tags = json.find("tags"); tags != json.end() && tags->is_array()) {
    for (const auto& tag : *tags) {
      if (tag.is_string()) facts.networks.push_back(tag.get<std::string>());
    }
  }
  facts.interceptor = text_at(json, "/interception/known_interceptor/id");
  if (facts.interceptor.empty()) facts.interceptor = text_at(json, "/known_interceptor/id");   // OONI
  facts.issuer = text_at(json, "/server_certificates/certificate/issuer");
  if (facts.issuer.empty()) facts.issuer = text_at(json, "/certificates/0/issuer");             // OONI
  facts.ja3s = text_at(json, "/server_hello/ja3s");
  facts.ja4s = text_at(json, "/server_hello/ja4s");
  facts.ja4x = text_at(json, "/server_certificates/certificate/ja4x");
  if (const auto forging = json.find("forging"); forging != json.end() && forging->is_object()) {
    facts.forging = forging_from(*forging);
  }
  return facts;
}

namespace {

void add_groups(ScanTally& tally, const Json& summary) {
  auto counts = [](TallyKind kind, std::string key, std::string name, const Json& row) {
    return TallyGroup{kind, std::move(key), std::move(name), row.value("hosts", size_t{0}), row.value("eligible", size_t{0}),
                      row.value("intercepted", size_t{0})};
  };
  if (const auto ases = summary.find("per_as"); ases != summary.end() && ases->is_array()) {
    for (const auto& row : *ases) {
      if (!row.is_object()) continue;
      const auto name = row.find("name");
      tally.groups.push_back(counts(TallyKind::kAs, fmt::format("AS{}", row.value("asn", 0)),
                                    name != row.end() && name->is_string() ? name->get<std::string>() : "", row));
    }
  }
  if (const auto tags = summary.find("per_tag"); tags != summary.end() && tags->is_object()) {
    for (const auto& [tag, row] : tags->items()) {
      if (row.is_object()) tally.groups.push_back(counts(TallyKind::kTag, tag, "", row));
    }
  }
  if (const auto domains = summary.find("intercepted_hosts_per_domain"); domains != summary.end() && domains->is_object()) {
    for (const auto& [domain, hosts] : domains->items()) {
      if (hosts.is_number_unsigned()) tally.groups.push_back({TallyKind::kDomain, domain, "", 0, 0, hosts.get<size_t>()});
    }
  }
}

}  // namespace

std::optional<ScanTally> tally_from_summary_json(std::string_view text) {
  const Json summary = Json::parse(text, nullptr, false);
  if (!summary.is_object()) return std::nullopt;
  ScanTally tally;
  if (summary.value("source", std::string()) == "ooni") {
    tally.source = ScanSource::kOoni;
    return tally;
  }
  tally.hosts = summary.value("hosts", size_t{0});
  tally.eligible = summary.value("eligible", size_t{0});
  tally.results = summary.value("results", size_t{0});
  tally.intercepted_hosts = summary.value("intercepted_hosts", size_t{0});
  add_groups(tally, summary);
  return tally;
}

}  // namespace mitmscope
