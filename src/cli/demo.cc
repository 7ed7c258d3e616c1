// `mitmscope demo pki`: probe and inspect end to end on this machine in seconds (the whole
// lab story is `mitmscope demo`, cli/demo_lab.cc): a lab Web PKI and a lab interceptor that forges
// like the 2019 Kazakh one, two TLS servers on loopback (genuine and intercepted),
// then the bundled registry of real interception roots. It checks its own results
// and exits non-zero when one is not what the case says.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "detect/chain_verdict.h"
#include "engine/tls_connection.h"
#include "lab/forger.h"
#include "lab/tls_server.h"
#include "report/text_output.h"
#include "x509/certificate_reader.h"

namespace mitmscope::cli {
namespace {

struct DemoOptions {
  std::string work_directory;
};

bool expect(bool condition, std::string_view what, int& failures) {
  fmt::print("  [{}] {}\n", condition ? " ok " : "FAIL", what);
  if (!condition) ++failures;
  return condition;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

int run_demo(const DemoOptions& options) {
  using std::chrono::days;
  int failures = 0;
  const auto now = now_utc();
  const std::filesystem::path directory =
      options.work_directory.empty() ? std::filesystem::temp_directory_path() / "mitmscope-demo"
                                     : std::filesystem::path(options.work_directory);
  std::filesystem::create_directories(directory / "known-roots");

  fmt::print("== 1. A lab Web PKI and a lab interceptor (forging rules of Kazakhstan, July 2019)\n");
  lab::CertificateSpec ca_spec;
  ca_spec.subject = {{"C", "US"}, {"O", "mitmscope lab"}, {"CN", "mitmscope lab public root"}};
  ca_spec.not_before = now - days{400};
  ca_spec.not_after = now + days{3650};
  ca_spec.is_ca = true;
  auto public_ca = lab::make_identity(ca_spec, {}, nullptr);
  if (!public_ca) return report_error(public_ca.error());
  lab::CertificateSpec host_spec;
  host_spec.subject = {{"C", "KZ"}, {"O", "Example Bank"}, {"CN", "www.example-bank.kz"}};
  host_spec.dns_names = {"www.example-bank.kz", "example-bank.kz"};
  host_spec.not_before = now - days{30};
  host_spec.not_after = now + days{335};
  auto host = lab::make_identity(host_spec, {}, &*public_ca);
  if (!host) return report_error(host.error());
  auto hierarchy = lab::make_interceptor_hierarchy(now);
  if (!hierarchy) return report_error(hierarchy.error());
  lab::Forger forger(hierarchy->intermediate, lab::ForgingRules{});
  auto forged = forger.forge(host->certificate);
  if (!forged) return report_error(forged.error());
  write_text(directory / "public-ca.pem", lab::certificate_pem(public_ca->certificate));
  write_text(directory / "known-roots" / "lab-qaznet-root.pem", lab::certificate_pem(hierarchy->root.certificate));
  write_text(directory / "genuine.pem", lab::certificate_pem(host->certificate));
  write_text(directory / "forged-leaf.pem", lab::certificate_pem(forged->certificate));
  write_text(directory / "interceptor-intermediate.pem", lab::certificate_pem(hierarchy->intermediate.certificate));
  for (const auto& [file, key] : {std::pair{"host-key.pem", host->key.get()}, std::pair{"forged-key.pem", forged->key.get()}}) {
    auto pem = lab::private_key_pem(key);
    if (!pem) return report_error(pem.error());
    write_text(directory / file, *pem);
  }
  write_text(directory / "forged-chain.pem",
             lab::certificate_pem(forged->certificate) + lab::certificate_pem(hierarchy->intermediate.certificate));
  fmt::print("  public CA   {}\n  host        {} (valid for its own names)\n  interceptor {} -> {}\n  files in    {}\n",
             public_ca->certificate.subject(), host->certificate.subject(), hierarchy->root.certificate.subject(),
             hierarchy->intermediate.certificate.subject(), directory.string());

  fmt::print("\n== 2. Two TLS servers on loopback: the host, and the same host seen through the interceptor\n");
  auto genuine_server = lab::TlsTestServer::start({.chain = {host->certificate}, .key = host->key});
  if (!genuine_server) return report_error(genuine_server.error());
  auto intercepted_server = lab::TlsTestServer::start(
      {.chain = {forged->certificate, hierarchy->intermediate.certificate}, .key = forged->key});
  if (!intercepted_server) return report_error(intercepted_server.error());

  auto store = TrustStore::load(directory / "public-ca.pem");
  auto registry = InterceptorRegistry::builtin();
  auto lab_roots = InterceptorRegistry::load_directory(directory / "known-roots");
  if (!store) return report_error(store.error());
  if (!registry) return report_error(registry.error());
  if (!lab_roots) return report_error(lab_roots.error());
  registry->merge(*lab_roots);
  auto client = TlsClientContext::create({});
  if (!client) return report_error(client.error());
  const AssessmentContext context{*store, *registry, std::nullopt};

  auto probe = [&](const lab::TlsTestServer& server, const std::string& sni) {
    auto endpoint = parse_endpoint(server.address(), 443);
    const Observation observation = TlsConnection::run(*client, *endpoint, sni);
    auto assessment = assess_observation(observation, context);
    fmt::print("\n$ mitmscope probe {} --sni {} --allow-private --trust-store {} --known-roots {}\n{}", server.address(),
               sni, (directory / "public-ca.pem").string(), (directory / "known-roots").string(),
               probe_text(observation, assessment));
    return assessment;
  };
  const auto clean = probe(**genuine_server, "www.example-bank.kz");
  expect(clean.verdict.kind == VerdictKind::kClean, "the direct connection is clean", failures);
  const auto intercepted = probe(**intercepted_server, "facebook.com");
  expect(intercepted.verdict.kind == VerdictKind::kIntercepted &&
             intercepted.verdict.known_interceptor->id == "lab-qaznet-root",
         "the intercepted connection is attributed to the lab's Qaznet root by signature", failures);

  fmt::print("\n== 3. What the interceptor did (forging analysis of presented vs genuine)\n");
  const auto analysis = analyze_forging(intercepted.chain.front(), host->certificate);
  fmt::print("{}", forging_text(analysis));
  expect(analysis.not_before_shift_hours == -6.0 && analysis.presented_key.rsa_exponent == "3" &&
             analysis.presented_key.bits == 2048 && analysis.same_subject && analysis.same_subject_alt_names &&
             analysis.serial_trailing_bits_differing <= 33 && analysis.extensions_added.empty(),
         "6 h shift, RSA-2048 e=3, subject and SAN copied, only serial low bits changed, extensions dropped", failures);

  fmt::print("\n== 4. The bundled registry of real interception roots, attributed by key\n");
  const auto builtin = InterceptorRegistry::builtin();
  size_t recognised = 0;
  for (const auto& entry : builtin->entries()) {
    const Chain alone{*entry->certificate};
    const auto attribution = builtin->attribute(alone);
    if (attribution && attribution.entry->id == entry->id) ++recognised;
  }
  fmt::print("  {} entries; each recognised as itself: {}\n", builtin->entries().size(), recognised);
  const auto isca = builtin->find("isca-root-2020-0539-valid2050-ooni-sha1-ea5d093c");
  fmt::print("\n$ mitmscope inspect <ISCA root 2020-02-28 05:39>\n{}",
             chain_text(assess_chain({*isca->certificate}, std::nullopt, {*store, *builtin, std::nullopt}, now)));
  expect(recognised == builtin->entries().size(), "every bundled root is recognised as its own entry", failures);

  fmt::print("\n{} check{} failed.\n", failures,
             failures == 1 ? "" : "s");
  return failures == 0 ? kExitOk : kExitInternal;
}

}  // namespace

void register_demo(CLI::App& app, SetAction set_action) {
  auto lab_options = std::make_shared<LabDemoOptions>();
  auto* command = app.add_subcommand(
      "demo", "The whole story, no internet: 2019 measured live in the kz-2019 lab (discover, scan, trace, monitor, report), "
      "then 2021-2024 found in OONI's data (the kz-2021 scenario as measurements, ooni, report)");
  command->add_option("--work-dir", lab_options->work_directory, "Where the logs, store and report go (default: /tmp/mitmscope-demo-UID)");
  command->add_option("--size", lab_options->size, "TLS hosts in the lab")->capture_default_str()->check(CLI::Range(50, 2000));
  command->add_flag("--loopback", lab_options->loopback, "The lab's loopback mode even as root (what runs without root)");
  command->add_option("--act", lab_options->act,
                      "One act only: 1 (2019, measured live in the lab), 2 (2021-2024, found in OONI's data), "
                      "3 (what defenders do: export, sentinel, audit)")
      ->check(CLI::Range(1, 3));
  command->callback([lab_options, set_action, command] {
    if (command->get_subcommands().empty()) set_action([lab_options] { return run_lab_demo(*lab_options); });
  });
  auto options = std::make_shared<DemoOptions>();
  auto* pki = command->add_subcommand("pki", "Only the lab PKI and forger on loopback: probe, inspect, forging analysis, "
                                             "the bundled registry (seconds, no root)");
  pki->add_option("--work-dir", options->work_directory, "Where to write the lab's certificates");
  pki->callback([options, set_action] { set_action([options] { return run_demo(*options); }); });
}

}  // namespace mitmscope::cli
