// What every subcommand shares: the trust store, the registry, --at, exit codes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/error.h"
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

}  // namespace mitmscope::cli
