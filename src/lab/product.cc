#include "lab/product.h"

#include <array>
#include <fstream>

#include <fmt/format.h>

#include "core/private_file.h"

namespace mitmscope::lab {
namespace {

struct ProductInfo {
  Product product;
  std::string_view name;
  std::string_view package;
  ProductExpectation expectation;
};

using enum NameFate;
constexpr std::array kProducts = {
    ProductInfo{Product::kLabDevice, "lab", "mitmscope", {kIntercepted, kIntercepted, kPassed, kPassed}},
    ProductInfo{Product::kSquid, "squid", "squid-openssl", {kIntercepted, kIntercepted, kPassed, kError}},
    ProductInfo{Product::kSquidMimic, "squid-mimic", "squid-openssl", {kIntercepted, kIntercepted, kPassed, kError}},
    ProductInfo{Product::kSslsplit, "sslsplit", "sslsplit", {kIntercepted, kIntercepted, kIntercepted, kIntercepted}},
    ProductInfo{Product::kMitmproxy, "mitmproxy", "mitmproxy", {kIntercepted, kIntercepted, kPassed, kPassed}},
};

const ProductInfo& info(Product product) {
  for (const auto& entry : kProducts) {
    if (entry.product == product) return entry;
  }
  return kProducts.front();
}

Result<void> write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream << text;
  if (!stream) return make_error(ErrorCode::kFileUnwritable, fmt::format("{}: cannot write", path.string()));
  return {};
}

// squid's ssl-bump in intercept mode (wiki "SslPeekAndSplice", "ConfigExamples/Intercept/SslBumpExplicit").
std::string squid_config(const ProductInputs& in, bool mimic) {
  std::string rules = mimic ? "ssl_bump peek step1\nssl_bump splice !targeted\nssl_bump stare step2\nssl_bump bump step3\n"
                              "sslproxy_cert_error allow all\n"
                            : "ssl_bump peek step1\nssl_bump bump targeted\nssl_bump splice all\n";
  return fmt::format(
      "# squid-openssl ssl-bump, intercept mode: written by mitmscope lab up\n"
      "pid_filename {0}/squid.pid\ncache_log {0}/cache.log\naccess_log stdio:{0}/access.log\n"
      "cache deny all\ncache_mem 8 MB\ncoredump_dir {0}\ncache_effective_user proxy\nshutdown_lifetime 1 seconds\n"
      "http_port 127.0.0.1:3128\n"
      "https_port {1} intercept ssl-bump tls-cert={2} tls-key={3} generate-host-certificates=on "
      "dynamic_cert_mem_cache_size=4MB\n"
      "sslcrtd_program /usr/lib/squid/security_file_certgen -s {0}/ssl_db -M 4MB\n"
      "sslcrtd_children 4 startup=1 idle=1\n"
      "tls_outgoing_options cafile={4}\n"
      "dns_nameservers 127.0.0.1\nhosts_file none\n"
      "acl step1 at_step SslBump1\nacl step2 at_step SslBump2\nacl step3 at_step SslBump3\n"
      "acl targeted ssl::server_name \"{5}/targeted.txt\"\n{6}"
      "http_access allow all\n",
      in.runtime_directory.string(), kProductPort, in.ca_certificate.string(), in.ca_key.string(),
      in.upstream_trust.string(), in.directory.string(), rules);
}

Result<ProductSetup> squid_setup(const ProductInputs& in, bool mimic) {
  const auto& d = in.directory;
  const auto& run = in.runtime_directory;
  if (auto written = write_file(d / "squid.conf", squid_config(in, mimic)); !written) return std::unexpected(written.error());
  if (auto written = write_file(d / "targeted.txt", squid_domain_list(in.targeted_domains)); !written) {
    return std::unexpected(written.error());
  }
  ProductSetup setup;
  setup.prepare = {{"/usr/lib/squid/security_file_certgen", "-c", "-s", (run / "ssl_db").string(), "-M", "4MB"},
                   {"chown", "-R", "proxy:proxy", run.string()}};
  setup.processes = {
      {"dnsmasq",
       {"dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--addn-hosts=" + in.resolver_hosts.string(),
        "--listen-address=127.0.0.1", "--bind-interfaces", "--user=nobody", "--group=nogroup", "--pid-file",
        "--log-facility=" + (run / "dnsmasq.log").string()},
       d / "dnsmasq.out"},
      {"squid", {"squid", "-N", "-f", (d / "squid.conf").string()}, d / "squid.out"}};
  setup.config_summary = mimic ? "ssl-bump intercept: peek step 1, splice untargeted, stare step 2, bump step 3 (mimic)"
                               : "ssl-bump intercept: peek step 1, bump targeted, splice the rest";
  return setup;
}

Result<ProductSetup> sslsplit_setup(const ProductInputs& in) {
  ProductSetup setup;
  setup.processes = {{"sslsplit",
                      {"sslsplit", "-k", in.ca_key.string(), "-c", in.ca_certificate.string(), "ssl", "0.0.0.0",
                       std::to_string(kProductPort)},
                      in.directory / "sslsplit.out"}};
  setup.config_summary = "ssl 0.0.0.0 (netfilter NAT engine): every TLS connection split";
  return setup;
}

Result<ProductSetup> mitmproxy_setup(const ProductInputs& in) {
  const auto confdir = in.directory / "mitmproxy";
  std::filesystem::create_directories(confdir);
  std::ifstream key(in.ca_key), certificate(in.ca_certificate);
  const std::string key_pem(std::istreambuf_iterator<char>(key), {});
  const std::string certificate_pem(std::istreambuf_iterator<char>(certificate), {});
  // mitmproxy's CA file is the key followed by the certificate (docs: "Using a custom certificate authority").
  // The first holds the CA's private key: its owner's alone (mitmdump runs as root in the lab).
  if (auto written = write_private_file(confdir / "mitmproxy-ca.pem", key_pem + certificate_pem); !written) {
    return std::unexpected(written.error());
  }
  if (auto written = write_file(confdir / "mitmproxy-ca-cert.pem", certificate_pem); !written) return std::unexpected(written.error());
  ProductSetup setup;
  setup.processes = {{"mitmdump",
                      {"mitmdump", "--mode", "transparent", "--listen-port", std::to_string(kProductPort), "--set",
                       "confdir=" + confdir.string(), "--set", "ssl_verify_upstream_trusted_ca=" + in.upstream_trust.string(),
                       "--allow-hosts", mitmproxy_allow_pattern(in.targeted_domains), "--set", "flow_detail=0"},
                      in.directory / "mitmdump.out"}};
  setup.config_summary = "--mode transparent --allow-hosts (targeted names), upstream_cert on, ALPN mirrored";
  return setup;
}

}  // namespace

std::string_view product_name(Product product) { return info(product).name; }
std::string_view product_package(Product product) { return info(product).package; }
ProductExpectation product_expectation(Product product) { return info(product).expectation; }

std::optional<Product> parse_product(std::string_view name) {
  for (const auto& entry : kProducts) {
    if (entry.name == name) return entry.product;
  }
  return std::nullopt;
}

std::vector<std::string> product_names() {
  std::vector<std::string> names;
  for (const auto& entry : kProducts) names.emplace_back(entry.name);
  return names;
}

std::string_view name_fate_name(NameFate fate) {
  switch (fate) {
    case NameFate::kIntercepted: return "intercepted";
    case NameFate::kError: return "error";
    case NameFate::kPassed: return "passed";
  }
  return "unknown";
}

std::string squid_domain_list(const std::vector<std::string>& domains) {
  std::string text;
  for (const auto& domain : domains) text += "." + domain + "\n";
  return text;
}

std::string mitmproxy_allow_pattern(const std::vector<std::string>& domains) {
  std::string alternatives;
  for (const auto& domain : domains) {
    std::string escaped;
    for (const char c : domain) escaped += c == '.' ? std::string("\\.") : std::string(1, c);
    alternatives += (alternatives.empty() ? "" : "|") + escaped;
  }
  return fmt::format("^(.+\\.)?({})(:\\d+)?$", alternatives);
}

std::vector<std::string> product_redirect_rule(bool add, uint16_t port) {
  return {"iptables", "-t", "nat", add ? "-A" : "-D", "PREROUTING", "-p", "tcp", "--dport", "443",
          "-j", "REDIRECT", "--to-ports", std::to_string(port)};
}

Result<ProductSetup> write_product_files(const ProductInputs& inputs) {
  for (const auto& directory : {inputs.directory, inputs.runtime_directory}) {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) return make_error(ErrorCode::kFileUnwritable, fmt::format("{}: {}", directory.string(), error.message()));
  }
  switch (inputs.product) {
    case Product::kSquid: return squid_setup(inputs, false);
    case Product::kSquidMimic: return squid_setup(inputs, true);
    case Product::kSslsplit: return sslsplit_setup(inputs);
    case Product::kMitmproxy: return mitmproxy_setup(inputs);
    case Product::kLabDevice: break;
  }
  return make_error(ErrorCode::kInvalidArgument, "the lab's own device is not a product");
}

}  // namespace mitmscope::lab
