// `mitmscope report --store FILE [--format md|json|csv|html] [--out PATH] [--scan ID]`: the campaign's tables.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "report/campaign_report.h"
#include "report/html_report.h"
#include "store/store.h"
#include "x509/registry.h"

namespace mitmscope::cli {
namespace {

struct ReportCliOptions {
  std::string store;
  std::string format;   // empty: from --out
  std::string out = "-";
  std::string title;
  std::optional<int64_t> scan;
  std::vector<std::string> known_roots;
};

// The built-in known interceptors and any --known-roots: where the forged chain's root is found.
Result<InterceptorRegistry> report_registry(const std::vector<std::string>& directories) {
  auto registry = InterceptorRegistry::builtin();
  if (!registry) return std::unexpected(registry.error());
  for (const auto& directory : directories) {
    auto extra = InterceptorRegistry::load_directory(directory);
    if (!extra) return std::unexpected(extra.error());
    registry->merge(*extra);
  }
  return registry;
}

Result<void> write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
  if (!file) return make_error(ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", path.string()));
  return {};
}

int run_report(const ReportCliOptions& given) {
  ReportCliOptions options = given;
  auto format = report_format(given.format, given.out);
  if (!format) return report_error(format.error());
  options.format = *format;
  if (!options.store.starts_with("clickhouse://") && !std::filesystem::exists(options.store)) {
    return report_error({ErrorCode::kFileNotFound, fmt::format("{}: no such store", options.store)});
  }
  auto store = open_store(options.store);
  if (!store) return report_error(store.error());
  auto registry = report_registry(options.known_roots);
  if (!registry) return report_error(registry.error());
  auto tables = build_report_tables(**store, {.scan = options.scan, .registry = &*registry});
  if (!tables) return report_error(tables.error());
  if (options.format == "csv") {
    if (options.out == "-") {
      return report_error({ErrorCode::kInvalidArgument, "--format csv writes one file per table: give --out DIRECTORY"});
    }
    std::error_code error;
    std::filesystem::create_directories(options.out, error);
    if (error) return report_error({ErrorCode::kFileUnreadable, fmt::format("{}: {}", options.out, error.message())});
    for (const auto& table : *tables) {
      if (auto written = write_file(std::filesystem::path(options.out) / (table.name + ".csv"), table_csv(table)); !written) {
        return report_error(written.error());
      }
    }
    fmt::print(stderr, "report: {} tables written to {}\n", tables->size(), options.out);
    return kExitOk;
  }
  std::string text;
  if (options.format == "md") {
    text = tables_markdown(*tables);
  } else if (options.format == "html") {
    if (options.out == "-") return report_error({ErrorCode::kInvalidArgument, "--format html: give --out FILE.html"});
    text = render_html_report(*tables, options.title.empty() ? "mitmscope report: " + options.store : options.title);
  } else {
    text = tables_json(*tables).dump(2) + "\n";
  }
  if (options.out == "-") {
    fmt::print("{}", text);
  } else if (auto written = write_file(options.out, text); !written) {
    return report_error(written.error());
  }
  return kExitOk;
}

}  // namespace

void register_report(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<ReportCliOptions>();
  auto* command = app.add_subcommand("report", "The campaign's tables from a store: rounds, events, per AS, per domain, "
                                               "intercepting intermediates against their validity");
  command->add_option("--store", options->store, "Store written by scan, monitor or trace: a SQLite file or clickhouse://HOST:PORT[,...]/DB[?cluster=NAME]")->required();
  command->add_option("--format", options->format,
                      "md, json, csv, or html (one self-contained file with charts); default: from --out's extension "
                      "(.md .json .html, a directory for csv), md on stdout");
  command->add_option("--scan", options->scan,
                      "The scan or monitor round (its id, as in the rounds table) the per-AS, per-domain and profile "
                      "tables show; default: the latest finished plain scan");
  command->add_option("--title", options->title, "Title of the HTML report");
  command->add_option("--known-roots", options->known_roots,
                      "Extra known-interceptor certificates (a directory of PEM files): where the forged chain's root is "
                      "found when the interceptor did not send it")
      ->take_all();
  command->add_option("--out", options->out, "File (md, json, html) or directory (csv); - for stdout")->capture_default_str();
  command->callback([options, set_action] { set_action([options] { return run_report(*options); }); });
}

}  // namespace mitmscope::cli
