#include "cli/common.h"

#include <csignal>

#include <fmt/format.h>

namespace mitmscope::cli {

int exit_code_for(const Error& error) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kAddressRefused: return kExitUsage;
    case ErrorCode::kFileNotFound:
    case ErrorCode::kFileUnreadable:
    case ErrorCode::kFileUnwritable:
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

void add_client_hello_option(CLI::App& command, std::string& choice, std::string_view what) {
  command.add_option("--client-hello", choice,
                     fmt::format("The ClientHello to send: a profile (chromium, firefox-esr, safari, curl, kz-2019, minimal: "
                                 "`mitmscope client-hello` shows them), read up to the certificate chain; or openssl, "
                                 "OpenSSL's own whole handshake. {}", what))
      ->capture_default_str();
}

void add_engine_options(CLI::App& command, EngineCliOptions& options) {
  add_client_hello_option(command, options.client_hello, "Recorded in each result as client_hello");
  command.add_option("--concurrency", options.concurrency, "Handshakes in flight")->capture_default_str();
  command.add_option("--rate", options.rate, "New connections per second overall (0: unlimited)")->capture_default_str();
  command.add_option("--host-rate", options.host_rate, "New connections per second to one address (a cap no other flag lifts)")
      ->capture_default_str();
  command.add_option("--connect-timeout", options.connect_timeout, "Seconds")->capture_default_str();
  command.add_option("--handshake-timeout", options.handshake_timeout, "Seconds")->capture_default_str();
  command.add_option("--seed", options.seed, "Seed of the host order and control names")->capture_default_str();
  command.add_option("--blocklist", options.blocklist, "CIDR prefixes never to probe");
  command.add_option("--allowlist", options.allowlist, "Only probe addresses in these CIDR prefixes");
  command.add_flag("--allow-private", options.allow_private, "Allow reserved/private addresses (the lab needs it)");
}

Result<std::vector<std::string>> read_domains_reporting(const std::string& file) {
  std::vector<SkippedTarget> skipped;
  auto domains = read_domains(file, skipped);
  for (const auto& line : skipped) fmt::print(stderr, "mitmscope: {}: line {}: skipped: {}\n", file, line.line, line.reason);
  if (domains && domains->empty()) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: no usable domain ({} lines skipped)", file, skipped.size()));
  }
  return domains;
}

void print_skipped(const std::string& hosts_file, const std::vector<SkippedTarget>& listed, size_t count) {
  for (const auto& skipped : listed) {
    fmt::print(stderr, "mitmscope: {}: line {}: skipped: {}\n", hosts_file, skipped.line, skipped.reason);
  }
  if (count > listed.size()) {
    fmt::print(stderr, "mitmscope: {}: {} more lines skipped (the first {} are listed)\n", hosts_file,
               count - listed.size(), listed.size());
  }
}

Result<std::optional<AsnMap>> load_asn_map(const std::string& file) {
  if (file.empty()) return std::optional<AsnMap>();
  auto loaded = AsnMap::load(file);
  if (!loaded) return std::unexpected(loaded.error());
  return std::optional<AsnMap>(std::move(*loaded));
}

void add_scan_method_options(CLI::App& command, ScanMethodOptions& options) {
  command.add_option("--controls", options.controls, "Control SNIs per host")->capture_default_str();
  command.add_option("--retries", options.retries, "Tries per test domain before it counts as an anomaly")->capture_default_str();
  command.add_option("--stateful-delay", options.stateful_delay, "Seconds before the second control re-test")->capture_default_str();
}

EngineOptions engine_options(const EngineCliOptions& options) {
  return {.concurrency = options.concurrency, .rate = options.rate, .host_rate = options.host_rate};
}

Result<TlsClientContext> make_client_context(const EngineCliOptions& options) {
  if (options.host_rate <= 0) return make_error(ErrorCode::kInvalidArgument, "--host-rate must be above 0");
  if (options.rate < 0) return make_error(ErrorCode::kInvalidArgument, "--rate must be 0 (unlimited) or above");
  if (options.concurrency == 0) return make_error(ErrorCode::kInvalidArgument, "--concurrency must be at least 1");
  TlsClientOptions client_options;
  client_options.connect_timeout = std::chrono::milliseconds(static_cast<long>(options.connect_timeout * 1000));
  client_options.handshake_timeout = std::chrono::milliseconds(static_cast<long>(options.handshake_timeout * 1000));
  auto profile = parse_client_hello_choice(options.client_hello);
  if (!profile) return std::unexpected(profile.error());
  client_options.client_hello = *profile;
  return TlsClientContext::create(client_options);
}

Result<TargetOptions> make_target_options(const EngineCliOptions& options, uint32_t shards, uint32_t shard) {
  TargetOptions target_options{.seed = options.seed, .shards = shards, .shard = shard, .allow_private = options.allow_private};
  if (!options.blocklist.empty()) {
    auto blocklist = PrefixSet::load(options.blocklist);
    if (!blocklist) return std::unexpected(blocklist.error());
    target_options.blocklist = std::move(*blocklist);
  }
  if (!options.allowlist.empty()) {
    auto allowlist = PrefixSet::load(options.allowlist);
    if (!allowlist) return std::unexpected(allowlist.error());
    target_options.allowlist = std::move(*allowlist);
  }
  return target_options;
}

Result<ActiveSetup> load_active_setup(const ActiveInputs& inputs) {
  auto targets = make_target_options(inputs.engine, inputs.shards, inputs.shard);
  if (!targets) return std::unexpected(targets.error());
  std::vector<std::string> domains;
  if (!inputs.domains.empty()) {
    auto read = read_domains_reporting(inputs.domains);
    if (!read) return std::unexpected(read.error());
    domains = std::move(*read);
  }
  auto asn_map = load_asn_map(inputs.pfx2as);
  if (!asn_map) return std::unexpected(asn_map.error());
  auto trust = load_trust_context(inputs.trust);
  if (!trust) return std::unexpected(trust.error());
  auto client = make_client_context(inputs.engine);
  if (!client) return std::unexpected(client.error());
  return ActiveSetup{std::move(*targets), std::move(domains), std::move(*asn_map), std::move(*trust), std::move(*client)};
}

}  // namespace mitmscope::cli
