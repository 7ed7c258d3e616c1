// `mitmscope client-hello [PROFILE...]`: the ClientHello profiles a measurement can send, and what each looks like
// to a server (size, extension order, JA3, JA4): the values to compare with what a device or the sentinel sees.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/hex.h"
#include "tls/client_fingerprint.h"
#include "tls/client_hello.h"
#include "tls/client_hello_builder.h"

namespace mitmscope::cli {
namespace {

struct ClientHelloOptions {
  std::vector<std::string> profiles;
  std::string sni = "example.com";
  std::vector<std::string> alpn;
  bool json = false;
  bool hex = false;
};

nlohmann::json profile_json(const ClientHelloProfile& profile, const BuiltClientHello& built, const ClientHello& hello,
                            bool hex) {
  const auto four = ja4(hello);
  const auto three = ja3(hello);
  nlohmann::json out = {{"profile", profile.name}, {"client", profile.client}, {"provenance", profile.provenance},
                        {"bytes", built.record.size()}, {"extensions", built.extension_order},
                        {"shuffles_extensions", profile.shuffle_extensions}, {"ja3", three.hash}, {"ja3_text", three.text},
                        {"ja4", four.fingerprint}, {"ja4_r", four.raw}, {"ja4_o", four.original},
                        {"ja4_ro", four.raw_original}};
  if (hex) out["hex"] = to_hex(built.record);
  return out;
}

void print_text(const ClientHelloProfile& profile, const BuiltClientHello& built, const ClientHello& hello, bool hex) {
  fmt::print("{}  {}\n  {}\n  {} bytes; extensions{} {}\n  ja4 {}   ja4_o {}\n  ja3 {}\n", profile.name, profile.client,
             profile.provenance, built.record.size(), profile.shuffle_extensions ? " (order drawn per connection)" : "",
             fmt::join(built.extension_order, ","), ja4(hello).fingerprint, ja4(hello).original, ja3(hello).hash);
  if (hex) fmt::print("  {}\n", to_hex(built.record));
}

int run_client_hello(const ClientHelloOptions& options) {
  std::vector<const ClientHelloProfile*> chosen;
  for (const auto& name : options.profiles) {
    auto profile = find_client_hello_profile(name);
    if (!profile) return report_error(profile.error());
    chosen.push_back(*profile);
  }
  if (chosen.empty()) {
    for (const auto& profile : builtin_client_hello_profiles()) chosen.push_back(&profile);
  }
  HelloRequest request{.server_name = options.sni};
  if (!options.alpn.empty()) request.alpn = options.alpn;
  for (const ClientHelloProfile* profile : chosen) {
    auto built = build_client_hello(*profile, request);
    if (!built) return report_error(built.error());
    auto hello = parse_client_hello(built->record);
    if (!hello) return report_error(hello.error());
    if (options.json) {
      fmt::print("{}\n", profile_json(*profile, *built, *hello, options.hex).dump());
    } else {
      print_text(*profile, *built, *hello, options.hex);
    }
  }
  return kExitOk;
}

}  // namespace

void register_client_hello(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<ClientHelloOptions>();
  auto* command = app.add_subcommand("client-hello", "The ClientHello profiles (--client-hello): size, extension order, JA3, JA4");
  command->add_option("profiles", options->profiles, "Profiles to show (default: all): chromium, firefox-esr, safari, curl, kz-2019, minimal");
  command->add_option("--sni", options->sni, "The server name to put in them")->capture_default_str();
  command->add_option("--alpn", options->alpn, "Protocols instead of the profile's (comma-separated)")->delimiter(',');
  command->add_flag("--json", options->json, "One JSON object per profile (docs/SCHEMA.md)");
  command->add_flag("--hex", options->hex, "Also the bytes, as hex");
  command->callback([options, set_action] { set_action([options] { return run_client_hello(*options); }); });
}

}  // namespace mitmscope::cli
