// Which certificates signed intercepted leaves, and were they used outside their validity? The question every
// user of a campaign asks first (the OONI 2024 report's chart: each ISCA intermediate's 75 days against the days
// it was used). Answered once here from a Store, for the report's `intermediates` table and for `export`'s
// evidence. (`ooni` answers it in the same pass as its verdicts, from data it never stores whole:
// ooni/tables.)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "store/store.h"
#include "x509/certificate.h"

namespace mitmscope {

struct IssuerValidity {
  std::string sha256;
  std::optional<Certificate> certificate;   // nullopt: the stored bytes do not parse (`parse_error` says why)
  std::string parse_error;
  std::optional<UtcSeconds> not_before, not_after;
  size_t results = 0;                       // intercepted results it signed
  std::string first_seen, last_seen;        // UTC text, as stored
  std::optional<size_t> used_before, used_after;   // results before notBefore, after notAfter (unknown validity: nullopt)
};

// By first use, then SHA-256; issuers with fewer than `min_results` results are left out.
Result<std::vector<IssuerValidity>> issuer_validity(Store& store, size_t min_results = 1);

}  // namespace mitmscope
