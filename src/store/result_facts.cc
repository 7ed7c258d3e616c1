#include "store/result_facts.h"

namespace mitmscope {

std::string_view tally_kind_name(TallyKind kind) {
  switch (kind) {
    case TallyKind::kAs: return "as";
    case TallyKind::kTag: return "tag";
    case TallyKind::kDomain: return "domain";
    case TallyKind::kSource: return "source";
  }
  return "tag";
}

std::optional<TallyKind> tally_kind_from_name(std::string_view name) {
  for (TallyKind kind : {TallyKind::kAs, TallyKind::kTag, TallyKind::kDomain, TallyKind::kSource}) {
    if (tally_kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string_view scan_source_name(ScanSource source) { return source == ScanSource::kOoni ? "ooni" : "scan"; }

std::optional<ScanSource> scan_source_from_name(std::string_view name) {
  if (name == "scan") return ScanSource::kScan;
  if (name == "ooni") return ScanSource::kOoni;
  return std::nullopt;
}

std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += '\n';
    out += item;
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    out.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace mitmscope
