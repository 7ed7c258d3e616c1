#include "analyze/issuer_validity.h"

namespace mitmscope {

Result<std::vector<IssuerValidity>> issuer_validity(Store& store, size_t min_results) {
  auto issuers = store.intercepting_issuers();
  if (!issuers) return std::unexpected(issuers.error());
  std::vector<IssuerValidity> out;
  for (const auto& use : *issuers) {
    if (use.results < min_results) continue;
    IssuerValidity row{.sha256 = use.sha256, .results = use.results, .first_seen = use.first_seen, .last_seen = use.last_seen};
    auto certificate = Certificate::from_der(use.der);
    if (!certificate) {
      row.parse_error = certificate.error().message;
      out.push_back(std::move(row));
      continue;
    }
    row.not_before = certificate->not_before();
    row.not_after = certificate->not_after();
    if (row.not_before && row.not_after) {
      auto outside = store.uses_outside(use.sha256, format_utc(*row.not_before), format_utc(*row.not_after));
      if (!outside) return std::unexpected(outside.error());
      row.used_before = outside->first;
      row.used_after = outside->second;
    }
    row.certificate = std::move(*certificate);
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace mitmscope
