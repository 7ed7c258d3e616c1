// `mitmscope inspect FILE...`: chains or lone certificates on disk, judged offline.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "detect/chain_verdict.h"
#include "report/json_output.h"
#include "report/text_output.h"
#include "x509/certificate_reader.h"
#include "x509/shape.h"

namespace mitmscope::cli {
namespace {

struct InspectOptions {
  std::vector<std::string> files;
  std::string genuine;
  std::string name;
  bool json = false;
  TrustOptions trust;
};

int run_inspect(const InspectOptions& options) {
  auto trust = load_trust_context(options.trust);
  if (!trust) return report_error(trust.error());
  std::optional<Certificate> genuine;
  if (!options.genuine.empty()) {
    auto chain = read_certificate_file(options.genuine);
    if (!chain) return report_error(chain.error());
    genuine = chain->front();
  }
  std::optional<std::string> hostname;
  if (!options.name.empty()) hostname = options.name;

  int status = kExitOk;
  for (const auto& file : options.files) {
    auto chain = read_certificate_file(file);
    if (!chain) {
      status = report_error(chain.error());
      continue;  // the other files are still inspected
    }
    const auto assessment =
        assess_chain(std::move(*chain), hostname, {trust->trust_store, trust->registry, trust->at, options.trust.foxio}, now_utc());
    std::optional<ForgingAnalysis> forging;
    if (genuine) forging = analyze_forging(assessment.chain.front(), *genuine);
    if (options.json) {
      fmt::print("{}\n", inspect_json(file, assessment, forging, trust->trust_store, {}).dump());
    } else {
      fmt::print("inspect {}\n{}", file, chain_text(assessment));
      for (size_t i = 0; i < assessment.chain.size(); ++i) {
        const auto shape = certificate_shape(assessment.chain[i]);
        fmt::print("  shape [{}]   {} ({} issuer, {} subject attributes, {} extensions){}\n", i, shape.shape_id,
                   shape.issuer_attributes.size(), shape.subject_attributes.size(), shape.extensions.size(),
                   i < assessment.fingerprints.ja4x.size() ? "  ja4x " + assessment.fingerprints.ja4x[i] : "");
      }
      if (forging) fmt::print("{}", forging_text(*forging));
    }
  }
  return status;
}

}  // namespace

void register_inspect(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<InspectOptions>();
  auto* command = app.add_subcommand("inspect", "Parse, validate and attribute certificates or chains on disk (PEM, DER, base64)");
  command->add_option("files", options->files, "One chain (leaf first) or lone certificate per file")->required();
  command->add_option("--genuine", options->genuine, "The genuine certificate for the same host: run the forging analysis");
  command->add_option("--name", options->name, "Check the leaf against this host name");
  command->add_flag("--json", options->json, "One JSON object per file, one per line (docs/SCHEMA.md)");
  add_trust_options(*command, options->trust);
  command->callback([options, set_action] { set_action([options] { return run_inspect(*options); }); });
}

}  // namespace mitmscope::cli
