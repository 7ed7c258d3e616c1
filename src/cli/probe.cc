// `mitmscope probe ADDRESS[:PORT] --sni NAME`: one handshake, judged.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "detect/chain_verdict.h"
#include "engine/tls_connection.h"
#include "report/json_output.h"
#include "report/text_output.h"

namespace mitmscope::cli {
namespace {

struct ProbeOptions {
  std::string address;
  std::string sni;
  bool no_sni = false;
  std::string tls_min = "1.2";
  std::string tls_max = "1.3";
  double connect_timeout = 5;
  double handshake_timeout = 10;
  int ttl = 0;
  bool allow_private = false;
  bool json = false;
  std::string client_hello = "openssl";
  std::string strategy;
  TrustOptions trust;
};

int run_probe(const ProbeOptions& options) {
  auto endpoint = parse_endpoint(options.address, 443);
  if (!endpoint) return report_error(endpoint.error());
  auto allowed = check_address_policy(*endpoint, options.allow_private);
  if (!allowed) return report_error(allowed.error());
  std::string sni;
  if (!options.no_sni) {
    if (options.sni.empty()) return report_error({ErrorCode::kInvalidArgument, "--sni NAME is required (or --no-sni)"});
    auto checked = check_server_name(options.sni);
    if (!checked) return report_error(checked.error());
    sni = *checked;
  }
  auto min_version = parse_tls_version(options.tls_min);
  auto max_version = parse_tls_version(options.tls_max);
  if (!min_version) return report_error(min_version.error());
  if (!max_version) return report_error(max_version.error());
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());

  TlsClientOptions client_options;
  client_options.min_version = *min_version;
  client_options.max_version = *max_version;
  client_options.connect_timeout = std::chrono::milliseconds(static_cast<long>(options.connect_timeout * 1000));
  client_options.handshake_timeout = std::chrono::milliseconds(static_cast<long>(options.handshake_timeout * 1000));
  if (options.ttl > 0) client_options.ttl = options.ttl;
  auto profile = parse_client_hello_choice(options.client_hello);
  if (!profile) return report_error(profile.error());
  client_options.client_hello = *profile;
  if (!options.strategy.empty()) {
    auto strategy = find_hello_strategy(options.strategy);
    if (!strategy) return report_error({ErrorCode::kInvalidArgument, "--strategy: " + strategy.error().message});
    client_options.strategy = *strategy;
  }
  auto context = TlsClientContext::create(client_options);
  if (!context) return report_error(context.error());

  const Observation observation = TlsConnection::run(*context, *allowed, sni);
  const auto assessment = assess_observation(observation, {trust->trust_store, trust->registry, trust->at, options.trust.foxio});
  if (options.json) {
    fmt::print("{}\n", probe_json(observation, assessment, trust->trust_store, {}).dump());
  } else {
    fmt::print("{}", probe_text(observation, assessment));
  }
  switch (assessment.verdict.kind) {
    case VerdictKind::kClean: return kExitOk;
    case VerdictKind::kUntrusted: return kExitUntrusted;
    case VerdictKind::kIntercepted: return kExitIntercepted;
    case VerdictKind::kError: return kExitProbeFailed;
  }
  return kExitInternal;
}

}  // namespace

void register_probe(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<ProbeOptions>();
  auto* command = app.add_subcommand("probe", "One TLS handshake to an address with a chosen SNI; capture and judge the chain");
  command->add_option("address", options->address, "IP[:PORT] (default port 443); names are not resolved")->required();
  command->add_option("--sni", options->sni, "Server name to send");
  command->add_flag("--no-sni", options->no_sni, "Send no SNI extension");
  command->add_option("--tls-min", options->tls_min, "Lowest TLS version offered (1.0-1.3)")->capture_default_str();
  command->add_option("--tls-max", options->tls_max, "Highest TLS version offered (1.0-1.3)")->capture_default_str();
  add_client_hello_option(*command, options->client_hello, "--tls-min and --tls-max apply to openssl only.");
  command->add_option("--strategy", options->strategy, "Reshape the profile's ClientHello (discover --strategies): "
                      "split-tcp-name, split-record-name, name-upper, name-mixed, pad-1400, alpn-http1");
  command->add_option("--connect-timeout", options->connect_timeout, "Seconds to establish TCP")->capture_default_str();
  command->add_option("--handshake-timeout", options->handshake_timeout, "Seconds for the TLS handshake")->capture_default_str();
  command->add_option("--ttl", options->ttl, "Send the ClientHello with this IP TTL (the TCP handshake uses the normal TTL)")
      ->check(CLI::Range(1, 255));
  command->add_flag("--allow-private", options->allow_private, "Allow reserved/private addresses (loopback, RFC 1918, ...)");
  command->add_flag("--json", options->json, "Print one JSON object (docs/SCHEMA.md)");
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_probe(*options); }); });
}

}  // namespace mitmscope::cli
