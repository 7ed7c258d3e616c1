// Real interception products as the lab's device: squid (ssl-bump), sslsplit and mitmproxy from
// Debian, configured as their documentation deploys them, run in the interceptor router's
// namespace behind an iptables NAT REDIRECT of port 443 (what each product's transparent or
// intercept mode expects: it reads the original destination from conntrack).
//
// This file is pure: what each product needs on disk, the command that runs it, the packet rules,
// and what it is expected to do with each kind of name (the ground truth measurements are checked
// against). Starting and stopping the processes is lab/device's business.
//
//   squid        peek at step 1, bump targeted names (whatever they resolve to: the bump at step 2
//                comes before any check), splice the rest; a name to be spliced that does not resolve
//                (lab resolver, dnsmasq) to the destination fails squid's host verification and is
//                answered with "HTTP/1.1 409 Conflict" in plaintext, the random controls included
//   squid-mimic  the same, but stares at step 2 and bumps at step 3: the forged certificate mimics
//                the genuine one (server-first). With squid's default upstream checks a genuine
//                certificate that does not name the SNI (any host a remote scan asks for facebook.com)
//                makes squid serve an error certificate for the SNI instead; the deployment accepts
//                upstream errors (sslproxy_cert_error allow all), so the mimic is what is measured
//   sslsplit     forges every name, controls included, copying the genuine subject
//   mitmproxy    mitmdump --mode transparent with --allow-hosts for the targeted names (others pass
//                through untouched), upstream certificate sniffing, ALPN mirrored
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mitmscope::lab {

enum class Product { kLabDevice, kSquid, kSquidMimic, kSslsplit, kMitmproxy };

std::string_view product_name(Product product);                 // "squid", "squid-mimic", ...
std::optional<Product> parse_product(std::string_view name);    // "lab" or a product name
std::vector<std::string> product_names();
// The Debian package and the binary whose version is recorded with the ground truth.
std::string_view product_package(Product product);

// What the device does with one kind of name.
enum class NameFate { kIntercepted, kError, kPassed };
std::string_view name_fate_name(NameFate fate);

struct ProductExpectation {
  NameFate targeted_resolved;       // a targeted name the lab resolver maps to the destination
  NameFate targeted_unresolved;     // a targeted name the resolver does not know
  NameFate untargeted_resolved;     // an untargeted name the resolver maps to the destination
  NameFate untargeted_unresolved;   // an untargeted name nobody resolves (also the scan's random controls)
  NameFate fate(bool targeted, bool resolved) const {
    return targeted ? (resolved ? targeted_resolved : targeted_unresolved)
                    : (resolved ? untargeted_resolved : untargeted_unresolved);
  }
};
ProductExpectation product_expectation(Product product);

inline constexpr uint16_t kProductPort = 3129;

struct ProductInputs {
  Product product = Product::kSquid;
  std::filesystem::path directory;              // configuration and keys, read as root (created)
  // What the product's unprivileged processes use (logs, pid, squid's certificate database, the resolver's
  // hosts file): a directory every user can traverse, which the state directory need not be.
  std::filesystem::path runtime_directory;
  std::filesystem::path ca_certificate;         // PEM: the CA that signs forged leaves
  std::filesystem::path ca_key;                 // PEM: its key
  std::filesystem::path upstream_trust;         // PEM: what the product trusts upstream (the lab's public CA)
  std::vector<std::string> targeted_domains;
  std::filesystem::path resolver_hosts;         // dnsmasq addn-hosts file ("IP name" lines), squid only
};

// One process the device runs, with where its output goes.
struct ProductProcess {
  std::string name;                              // "squid", "dnsmasq"
  std::vector<std::string> argv;
  std::filesystem::path log;
};

struct ProductSetup {
  std::vector<std::vector<std::string>> prepare;  // run once before starting (squid's certificate database)
  std::vector<ProductProcess> processes;          // started in order, resolver first
  uint16_t listen_port = kProductPort;
  std::string config_summary;                     // one line for the ground truth and `lab status`
};

// Writes the configuration files under inputs.directory and says how to run the product.
Result<ProductSetup> write_product_files(const ProductInputs& inputs);

// The runtime directory of a namespace lab's product: namespaces are global, so there is one at a time.
inline constexpr const char* kProductRuntimeDirectory = "/run/mitmscope-lab-device";

// The iptables command (without "ip netns exec") that sends port 443 to the product: -A or -D.
std::vector<std::string> product_redirect_rule(bool add, uint16_t port);

// The squid regular-expression-free domain list: ".facebook.com" matches the name and its subdomains.
std::string squid_domain_list(const std::vector<std::string>& domains);
// mitmproxy's --allow-hosts pattern for the names and their subdomains.
std::string mitmproxy_allow_pattern(const std::vector<std::string>& domains);

}  // namespace mitmscope::lab
