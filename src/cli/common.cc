#include "cli/common.h"

#include <fmt/format.h>

namespace mitmscope::cli {

int exit_code_for(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kAddressRefused: return kExitUsage;
    case ErrorCode::kFileNotFound:
    case ErrorCode::kFileUnreadable:
    case ErrorCode::kParseError: return kExitInput;
    case ErrorCode::kCryptoError: return kExitInternal;
    default: return kExitProbeFailed;
  }
}

int report_error(const Error& error) {
  fmt::print(stderr, "mitmscope: {}\n", error.message);
  return exit_code_for(error);
}

void add_trust_options(CLI::App& command, TrustOptions& options) {
  command.add_option("--trust-store", options.trust_store,
                     "Roots to validate against: a PEM/DER file or a directory of them "
                     "(default: the Mozilla roots in /usr/share/ca-certificates/mozilla)");
  command.add_option("--known-roots", options.known_roots,
                     "Extra known-interceptor certificates: a directory of PEM files, optionally with a registry.json")
      ->take_all();
  command.add_option("--at", options.at, "Validate as of this UTC time (YYYY-MM-DD[THH:MM:SSZ]); default: now");
  command.add_flag("--ja4", options.foxio,
                   "Also compute JA4S/JA4X (FoxIO License 1.1: non-commercial use only)");
}

Result<TrustContext> load_trust_context(const TrustOptions& options) {
  auto store = options.trust_store.empty() ? TrustStore::load_mozilla_default() : TrustStore::load(options.trust_store);
  if (!store) return std::unexpected(store.error());
  auto registry = InterceptorRegistry::builtin();
  if (!registry) return std::unexpected(registry.error());
  for (const auto& directory : options.known_roots) {
    auto extra = InterceptorRegistry::load_directory(directory);
    if (!extra) return std::unexpected(extra.error());
    registry->merge(*extra);
  }
  std::optional<UtcSeconds> at;
  if (!options.at.empty()) {
    auto parsed = parse_utc(options.at);
    if (!parsed) return make_error(ErrorCode::kInvalidArgument, "--at: " + parsed.error().message);
    at = *parsed;
  }
  return TrustContext{std::move(*store), std::move(*registry), at};
}

}  // namespace mitmscope::cli
