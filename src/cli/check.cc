// `mitmscope check [--sites FILE]`: is my own connection intercepted? One handshake to each of a list of
// popular sites from this machine, each answer judged in plain words: genuine (trusted by Mozilla's roots),
// forged by a known interceptor, forged under a root installed on this machine (one `audit` finds), or
// untrusted for another reason. This is the one command that resolves names: the person asks about sites, not
// addresses. Resolved addresses still pass the reserved/private-range policy (a resolver answering with a
// private address is refused unless --allow-private), and `--resolve NAME=ADDRESS[:PORT]` skips DNS.
// Exit 11: some answer is forged by a known interceptor; 10: some answer is untrusted or forged under a local
// root; 12: no site could be reached; 0: every reached site answered genuinely.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analyze/local_roots.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "detect/chain_verdict.h"
#include "engine/tls_connection.h"

namespace mitmscope::cli {
namespace {

// Popular sites, and those the 2019 and 2020 Kazakh interceptions targeted.
const std::vector<std::string> kDefaultSites = {
    "google.com", "youtube.com", "facebook.com", "instagram.com", "twitter.com", "wikipedia.org", "vk.com",
    "ok.ru", "mail.ru", "yandex.ru", "microsoft.com", "apple.com", "amazon.com", "github.com", "mozilla.org",
    "cloudflare.com", "telegram.org", "whatsapp.com", "netflix.com", "linkedin.com"};

struct CheckOptions {
  std::string sites;
  std::vector<std::string> resolve;
  uint16_t port = 443;
  double connect_timeout = 5;
  double handshake_timeout = 10;
  size_t parallel = 8;
  bool allow_private = false;
  std::string root = "/";
  bool json = false;
  TrustOptions trust;
};

struct SiteResult {
  std::string site;
  std::string address;               // ip:port, empty when not resolved
  std::string kind;                  // genuine, forged_known_interceptor, forged_local_root, untrusted, unreachable
  std::string words;                 // what it means, for people
  std::string detail;                // the error, the issuer, the root
};

Result<std::vector<Endpoint>> resolve(const std::string& site, const CheckOptions& options,
                                      const std::map<std::string, Endpoint>& overrides) {
  if (auto it = overrides.find(site); it != overrides.end()) return std::vector<Endpoint>{it->second};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(site.c_str(), nullptr, &hints, &found);
  if (status != 0) return make_error(ErrorCode::kHostUnreachable, fmt::format("{}: cannot resolve: {}", site, gai_strerror(status)));
  std::vector<Endpoint> out;
  for (auto* entry = found; entry; entry = entry->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* address = entry->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(entry->ai_addr)->sin_addr)
                                                      : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(entry->ai_addr)->sin6_addr);
    if (!inet_ntop(entry->ai_family, address, text, sizeof text)) continue;
    auto endpoint = parse_endpoint(text, options.port);
    if (endpoint) out.push_back(*endpoint);
  }
  ::freeaddrinfo(found);
  std::stable_sort(out.begin(), out.end(), [](const Endpoint& a, const Endpoint& b) { return a.family == AF_INET && b.family != AF_INET; });
  if (out.empty()) return make_error(ErrorCode::kHostUnreachable, fmt::format("{}: no address", site));
  return out;
}

SiteResult check_site(const std::string& site, const CheckOptions& options, const std::map<std::string, Endpoint>& overrides,
                      const TlsClientContext& context, const TrustContext& trust, const std::optional<TrustStore>& local) {
  SiteResult result{.site = site};
  auto addresses = resolve(site, options, overrides);
  if (!addresses) {
    result.kind = "unreachable";
    result.words = "could not be looked up, so it was not checked";
    result.detail = addresses.error().message;
    return result;
  }
  auto allowed = check_address_policy(addresses->front(), options.allow_private);
  if (!allowed) {
    result.kind = "unreachable";
    result.words = "resolved to an address this tool does not contact (a private or reserved range), so it was not checked";
    result.detail = allowed.error().message;
    return result;
  }
  result.address = allowed->to_string();
  const Observation observation = TlsConnection::run(context, *allowed, site);
  const auto assessment = assess_observation(observation, {trust.trust_store, trust.registry, trust.at});
  switch (assessment.verdict.kind) {
    case VerdictKind::kClean:
      result.kind = "genuine";
      result.words = "answered with a certificate your browser's roots trust: not intercepted";
      break;
    case VerdictKind::kIntercepted:
      result.kind = "forged_known_interceptor";
      result.words = fmt::format("answered with a certificate forged by a known interceptor ({}): someone on the path can read "
                                 "and change what you send to this site",
                                 assessment.attribution ? assessment.attribution.entry->name : "registry");
      result.detail = assessment.chain.empty() ? "" : "issuer: " + assessment.chain.front().issuer();
      break;
    case VerdictKind::kUntrusted: {
      std::optional<ValidationResult> locally;
      if (local && !assessment.chain.empty()) locally = local->validate(assessment.chain, {.hostname = site, .at = trust.at});
      if (locally && locally->browser_trusted) {
        result.kind = "forged_local_root";
        result.words = "answered with a certificate that only a root installed on this machine vouches for: a proxy, "
                       "antivirus or interceptor is reading this connection (run `mitmscope audit`)";
        result.detail = "root: " + (locally->path.empty() ? std::string("?") : locally->path.back().subject());
      } else {
        result.kind = "untrusted";
        result.words = "answered with a certificate your browser would reject: it may be forged, or the site is misconfigured";
        result.detail = assessment.validation.browser_error +
                        (assessment.chain.empty() ? "" : "; issuer: " + assessment.chain.front().issuer());
      }
      break;
    }
    case VerdictKind::kError:
      result.kind = "unreachable";
      result.words = "could not be reached, so it was not checked";
      result.detail = observation.error ? observation.error->message : "no certificate";
      break;
  }
  return result;
}

int run_check(const CheckOptions& options) {
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  std::vector<std::string> sites = kDefaultSites;
  if (!options.sites.empty()) {
    auto read = read_domains_reporting(options.sites);
    if (!read) return report_error(read.error());
    sites = std::move(*read);
  }
  std::map<std::string, Endpoint> overrides;
  for (const auto& entry : options.resolve) {
    const auto equals = entry.find('=');
    if (equals == std::string::npos) return report_error({ErrorCode::kInvalidArgument, "--resolve " + entry + ": expected NAME=ADDRESS[:PORT]"});
    auto endpoint = parse_endpoint(entry.substr(equals + 1), options.port);
    if (!endpoint) return report_error({ErrorCode::kInvalidArgument, "--resolve " + entry + ": " + endpoint.error().message});
    overrides[entry.substr(0, equals)] = *endpoint;
  }
  for (const auto& site : sites) {
    if (auto checked = check_server_name(site); !checked) return report_error(checked.error());
  }
  // The roots this machine trusts beyond the browser's: an answer that only they validate was forged locally.
  std::optional<TrustStore> local;
  {
    const auto roots = collect_local_roots({.root = options.root, .p11kit = options.root == "/"});
    Chain extra = anchors_beyond(roots, trust->trust_store);
    if (!extra.empty()) {
      auto store = TrustStore::from_certificates(std::move(extra), "this machine's roots beyond the browser's");
      if (store) local = std::move(*store);
    }
  }
  TlsClientOptions client_options;
  client_options.connect_timeout = std::chrono::milliseconds(static_cast<long>(options.connect_timeout * 1000));
  client_options.handshake_timeout = std::chrono::milliseconds(static_cast<long>(options.handshake_timeout * 1000));
  auto context = TlsClientContext::create(client_options);
  if (!context) return report_error(context.error());

  std::vector<SiteResult> results(sites.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (size_t i = 0; i < std::min(std::max<size_t>(options.parallel, 1), sites.size()); ++i) {
    workers.emplace_back([&] {
      for (size_t at = next++; at < sites.size(); at = next++) {
        results[at] = check_site(sites[at], options, overrides, *context, *trust, local);
      }
    });
  }
  for (auto& worker : workers) worker.join();

  std::map<std::string, size_t> counts;
  for (const auto& result : results) ++counts[result.kind];
  if (options.json) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& result : results) {
      list.push_back({{"site", result.site}, {"address", result.address}, {"kind", result.kind}, {"words", result.words},
                      {"detail", result.detail}});
    }
    fmt::print("{}\n", nlohmann::ordered_json{{"sites", list}, {"counts", counts}}.dump());
  } else {
    for (const auto& result : results) {
      fmt::print("{:<9} {} {}{}\n", result.kind == "genuine" ? "ok" : (result.kind == "unreachable" ? "skipped" : "WARNING"),
                 result.site, result.words, result.detail.empty() ? "" : " (" + result.detail + ")");
    }
    const size_t forged = counts["forged_known_interceptor"] + counts["forged_local_root"];
    if (forged > 0) {
      fmt::print("\nYour connection is intercepted: {} of {} sites answered with forged certificates.\n", forged, sites.size());
    } else if (counts["untrusted"] > 0) {
      fmt::print("\n{} sites answered with certificates your browser would reject; none matched a known interceptor or a "
                 "root of this machine.\n", counts["untrusted"]);
    } else if (counts["genuine"] > 0) {
      fmt::print("\nNo interception seen: {} sites answered genuinely{}.\n", counts["genuine"],
                 counts["unreachable"] ? fmt::format(", {} could not be checked", counts["unreachable"]) : "");
    } else {
      fmt::print("\nNo site could be reached: nothing was checked.\n");
    }
  }
  if (counts["forged_known_interceptor"] > 0) return kExitIntercepted;
  if (counts["forged_local_root"] + counts["untrusted"] > 0) return kExitUntrusted;
  if (counts["genuine"] == 0) return kExitProbeFailed;
  return kExitOk;
}

}  // namespace

void register_check(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<CheckOptions>();
  auto* command = app.add_subcommand("check", "Is my connection intercepted? Probe popular sites from here and say, in plain "
                                              "words, whether any answer is forged");
  command->add_option("--sites", options->sites, "One site name per line (default: 20 popular sites)");
  command->add_option("--resolve", options->resolve, "NAME=ADDRESS[:PORT]: use this address instead of DNS (repeatable)");
  command->add_option("--port", options->port, "Port to connect to")->capture_default_str();
  command->add_option("--connect-timeout", options->connect_timeout, "Seconds to establish TCP")->capture_default_str();
  command->add_option("--handshake-timeout", options->handshake_timeout, "Seconds for the TLS handshake")->capture_default_str();
  command->add_option("--parallel", options->parallel, "Sites checked at once")->capture_default_str();
  command->add_flag("--allow-private", options->allow_private, "Allow reserved/private addresses (loopback, RFC 1918, ...)");
  command->add_option("--root", options->root, "Where this machine's roots are (as for audit)")->capture_default_str();
  command->add_flag("--json", options->json, "One JSON object");
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_check(*options); }); });
}

}  // namespace mitmscope::cli
