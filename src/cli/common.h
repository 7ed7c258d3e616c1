// What every subcommand shares: the trust store, the registry, --at, exit codes.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "analyze/asn_map.h"
#include "core/error.h"
#include "run/run.h"
#include "engine/engine.h"
#include "engine/targets.h"
#include "x509/registry.h"
#include "x509/trust_store.h"

namespace mitmscope::cli {

// Exit statuses (docs/CLI.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 2,          // bad flags, bad address or name, address refused by policy
  kExitInput = 3,          // a file is missing, unreadable or malformed
  kExitInternal = 4,
  kExitUntrusted = 10,     // probe: the chain is not browser-trusted (no known interceptor)
  kExitIntercepted = 11,   // probe: the chain belongs to a known interceptor
  kExitProbeFailed = 12,   // probe: no certificate (refused, timeout, not TLS, alert...)
  kExitInterrupted = 130,  // SIGINT/SIGTERM: what was measured is written and stored; the run can be resumed
};

int exit_code_for(const Error& error);
int report_error(const Error& error);   // prints "mitmscope: <message>" and returns the exit code

struct TrustOptions {
  std::string trust_store;               // empty: Mozilla roots
  std::vector<std::string> known_roots;  // extra registry directories
  std::string at;                        // validation time
  bool foxio = false;                    // --ja4: JA4S/JA4X (FoxIO licence)
};

void add_trust_options(CLI::App& command, TrustOptions& options);

struct TrustContext {
  TrustStore trust_store;
  InterceptorRegistry registry;
  std::optional<UtcSeconds> at;
};

Result<TrustContext> load_trust_context(const TrustOptions& options);

// The flags of every command that probes many targets (scan, discover): the engine's
// limits and the target policy, with the same names and defaults everywhere.
struct EngineCliOptions {
  size_t concurrency = 1000;
  double rate = 0;
  double host_rate = 5;
  double connect_timeout = 5;
  double handshake_timeout = 10;
  uint64_t seed = 1;
  std::string blocklist;
  std::string allowlist;
  bool allow_private = false;
  std::string client_hello = std::string(kDefaultClientHello);
  // The default profile of the commands that measure many targets: OpenSSL 3.0's hello as Debian's curl sends it.
  // Browser profiles offer X25519MLKEM768, which a server with ML-KEM picks and this client cannot follow
  // (OpenSSL 3.0 has no ML-KEM); this one every server answers with a chain the client reads.
  static constexpr std::string_view kDefaultClientHello = "curl";
};
void add_client_hello_option(CLI::App& command, std::string& choice, std::string_view what);
void add_engine_options(CLI::App& command, EngineCliOptions& options);
EngineOptions engine_options(const EngineCliOptions& options);
Result<TlsClientContext> make_client_context(const EngineCliOptions& options);
Result<TargetOptions> make_target_options(const EngineCliOptions& options, uint32_t shards = 1, uint32_t shard = 0);

// The domain list, with each unusable line reported on stderr (file, line, reason).
Result<std::vector<std::string>> read_domains_reporting(const std::string& file);
// The host lines a command passed over, on stderr (file, line, reason), and how many more were not listed.
void print_skipped(const std::string& hosts_file, const std::vector<SkippedTarget>& listed, size_t count);
// --pfx2as: the prefix table, or nullopt when no file was given.
Result<std::optional<AsnMap>> load_asn_map(const std::string& file);

// What every active command (scan, monitor, discover, trace) reads before it sends anything: the target policy
// (with the shard), the domain list (when the command has one), the prefix table, the trust context and the client.
struct ActiveSetup {
  TargetOptions targets;
  std::vector<std::string> domains;
  std::optional<AsnMap> asn_map;
  TrustContext trust;
  TlsClientContext client;
  const AsnMap* asn() const { return asn_map ? &*asn_map : nullptr; }
};
struct ActiveInputs {
  const EngineCliOptions& engine;
  const TrustOptions& trust;
  std::string domains;                   // empty: none read
  std::string pfx2as;                    // empty: no table
  uint32_t shards = 1, shard = 0;
};
Result<ActiveSetup> load_active_setup(const ActiveInputs& inputs);

// The scan method's flags (scan, monitor): controls, tries, the stateful re-test.
struct ScanMethodOptions {
  int controls = 2;
  int retries = 5;
  double stateful_delay = 120;   // seconds
};
void add_scan_method_options(CLI::App& command, ScanMethodOptions& options);

// Stopping a run: run/run.h (stop_requested, stop_on_signals, default_signals; Runner and StopScope).
using run::stop_requested;
using run::stop_on_signals;
using run::default_signals;

}  // namespace mitmscope::cli
