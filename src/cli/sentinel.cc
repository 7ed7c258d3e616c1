// `mitmscope sentinel`: a content provider's view (the study's second recommendation): which
// visitors arrive through an interceptor, recognised by the interceptor's ClientHello (JA3/JA4
// against the client registry) or by a browser User-Agent over a ClientHello no such browser
// sends. ClientHellos from capture files (--pcap), an interface (--interface), or the sentinel's
// own TLS listener (--listen, which also reads the User-Agent). One JSON object per visit on
// stdout (or --out), the per-network summary on stderr and in --summary.
#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analyze/asn_map.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "sentinel/capture.h"
#include "core/private_file.h"
#include "sentinel/listener.h"
#include "sentinel/network_summary.h"

namespace mitmscope::cli {
namespace {

struct SentinelCliOptions {
  std::vector<std::string> pcaps;
  std::string interface_name;
  std::vector<std::string> listen;
  std::string certificate;
  std::string key;
  std::vector<uint16_t> ports{443};
  size_t max_flows = 65536;
  ListenerOptions listener;   // --listen: the bounds (addresses, certificate and key are set from the above)
  std::string pfx2as;
  std::vector<std::string> fingerprints;
  size_t count = 0;
  double duration = 0;
  std::string out;
  std::string summary;
  bool flagged_only = false;
  bool quiet = false;
};

std::string dump_line(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// Everything the three sources share: judge, write the line, count, say when to stop.
class VisitWriter {
 public:
  VisitWriter(const ClientRegistry& registry, const AsnMap* networks, std::ostream& out, const SentinelCliOptions& options)
      : registry_(registry), networks_(networks), out_(out), options_(options) {}

  // The judgement as JSON (the listener's response body).
  std::string record(const Visit& visit) {
    const VisitJudgement judgement = judge_visit(visit, registry_, networks_);
    const auto line = visit_json(visit, judgement);
    std::string text = dump_line(line);
    std::lock_guard lock(mutex_);
    summary_.add(visit, judgement);
    if (!options_.flagged_only || flagged(judgement.verdict)) {
      out_ << text << '\n';
      if (options_.pcaps.empty()) out_ << std::flush;   // live sources: each visit as it happens
    }
    if (options_.count != 0 && summary_.visits() >= options_.count) stop_requested() = true;
    return text + "\n";
  }
  bool more() const { return !stop_requested().load(); }
  const NetworkSummary& summary() const { return summary_; }

 private:
  const ClientRegistry& registry_;
  const AsnMap* networks_;
  std::ostream& out_;
  const SentinelCliOptions& options_;
  std::mutex mutex_;
  NetworkSummary summary_;
};

void print_capture_stats(const std::string& source, const CaptureStats& stats) {
  fmt::print(stderr,
             "sentinel: {}: {} packets, {} segments to the server ports, {} ClientHellos; not a ClientHello {}, too large {}, "
             "fragments {}, undecodable {}, truncated {}, flows refused {}, expired {}{}\n",
             source, stats.packets, stats.tcp_segments, stats.hellos, stats.not_client_hello, stats.too_large, stats.fragments,
             stats.undecodable, stats.truncated, stats.flows_refused, stats.flows_expired,
             stats.dropped_by_kernel ? fmt::format(", dropped by the kernel {}", stats.dropped_by_kernel) : "");
}

int run_sentinel(const SentinelCliOptions& options) {
  const int sources = (options.pcaps.empty() ? 0 : 1) + (options.interface_name.empty() ? 0 : 1) + (options.listen.empty() ? 0 : 1);
  if (sources != 1) {
    fmt::print(stderr, "mitmscope: sentinel: give one source: --pcap FILE..., --interface NAME, or --listen ADDR:PORT (with --cert and --key)\n");
    return 2;
  }
  if (!options.listen.empty() && (options.certificate.empty() || options.key.empty())) {
    fmt::print(stderr, "mitmscope: sentinel: --listen needs --cert (PEM chain) and --key (PEM key)\n");
    return 2;
  }
  auto registry = ClientRegistry::builtin();
  if (!registry) return report_error(registry.error());
  for (const auto& file : options.fingerprints) {
    auto extra = ClientRegistry::load(file);
    if (!extra) return report_error(extra.error());
    registry->merge(*extra);
  }
  auto networks = load_asn_map(options.pfx2as);
  if (!networks) return report_error(networks.error());
  std::ofstream file_out;
  if (!options.out.empty()) {
    if (!std::filesystem::exists(options.out)) (void)create_private_file(options.out);   // visits are measurements
    file_out.open(options.out, std::ios::app);
    if (!file_out) return report_error(Error{ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", options.out)});
  }
  std::ostream& out = options.out.empty() ? std::cout : file_out;
  VisitWriter writer(*registry, *networks ? &**networks : nullptr, out, options);
  const CaptureOptions capture{.ports = options.ports, .max_flows = options.max_flows};
  auto sink = [&](const Visit& visit) {
    writer.record(visit);
    return writer.more();
  };

  stop_on_signals();
  std::thread timer;
  if (options.duration > 0) {
    timer = std::thread([duration = options.duration] {
      const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration);
      while (!stop_requested().load() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      stop_requested() = true;
    });
  }
  int status = 0;
  if (!options.pcaps.empty()) {
    for (const auto& pcap : options.pcaps) {
      if (stop_requested().load()) break;
      auto stats = read_capture_file(pcap, capture, sink);
      if (!stats) {
        report_error(stats.error());   // the visits of the files before it are already written
        status = 2;
        continue;
      }
      if (!options.quiet) print_capture_stats(pcap, *stats);
    }
    stop_requested() = true;
  } else if (!options.interface_name.empty()) {
    if (!options.quiet) fmt::print(stderr, "sentinel: capturing ClientHellos on {} (Ctrl-C to stop)\n", options.interface_name);
    auto stats = capture_interface(options.interface_name, capture, sink, stop_requested());
    stop_requested() = true;
    if (!stats) {
      status = report_error(stats.error());
    } else if (!options.quiet) {
      print_capture_stats(options.interface_name, *stats);
    }
  } else {
    ListenerOptions listener_options = options.listener;
    listener_options.certificate = options.certificate;
    listener_options.key = options.key;
    for (const auto& address : options.listen) {
      auto endpoint = parse_endpoint(address, 443);
      if (!endpoint) {
        stop_requested() = true;
        if (timer.joinable()) timer.join();
        return report_error(Error{endpoint.error().code, fmt::format("--listen {}: {}", address, endpoint.error().message)});
      }
      listener_options.addresses.push_back(*endpoint);
    }
    auto listener = Listener::open(std::move(listener_options));
    if (!listener) {
      stop_requested() = true;
      if (timer.joinable()) timer.join();
      return report_error(listener.error());
    }
    // Scripts wait for this line: the sockets are listening once it is printed.
    fmt::print(stderr, "sentinel: listening on {} (Ctrl-C to stop)\n", fmt::join((*listener)->bound(), ", "));
    (*listener)->run([&](const Visit& visit) { return writer.record(visit); }, stop_requested());
    const auto& stats = (*listener)->stats();
    if (!options.quiet) {
      fmt::print(stderr,
                 "sentinel: listener: {} connections (at most {} at once), {} visits; refused: busy {}, per address {}; "
                 "no visit: not a ClientHello {}, no whole ClientHello in time {}, closed before it {}; handshake failures {}, "
                 "visits out of time {}\n",
                 stats.accepted.load(), stats.peak_connections.load(), stats.visits.load(), stats.refused_busy.load(),
                 stats.refused_per_address.load(), stats.not_client_hello.load(), stats.hello_timeouts.load(),
                 stats.closed_before_hello.load(), stats.handshake_failures.load(), stats.request_timeouts.load());
    }
  }
  stop_requested() = true;
  if (timer.joinable()) timer.join();
  default_signals();

  const NetworkSummary& summary = writer.summary();
  if (!options.quiet) {
    fmt::print(stderr, "sentinel: {} visits, {} flagged\n", summary.visits(), summary.flagged_visits());
    for (const auto& sentence : summary.sentences()) fmt::print(stderr, "  {}\n", sentence);
  }
  if (!options.summary.empty()) {
    if (!std::filesystem::exists(options.summary)) (void)create_private_file(options.summary);
    std::ofstream summary_file(options.summary);
    summary_file << summary.json().dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
    if (!summary_file) return report_error(Error{ErrorCode::kFileUnreadable, fmt::format("{}: cannot write", options.summary)});
  }
  return status;
}

}  // namespace

void register_sentinel(CLI::App& app, SetAction set_action) {
  auto options = std::make_shared<SentinelCliOptions>();
  auto* command = app.add_subcommand("sentinel", "Recognise visitors that arrive through an interceptor (server side: JA3/JA4, User-Agent)");
  command->add_option("--pcap", options->pcaps, "Capture files (pcap or pcapng) to read ClientHellos from")->check(CLI::ExistingFile);
  command->add_option("--interface", options->interface_name, "Capture live on this interface (\"any\": all; root or CAP_NET_RAW)");
  command->add_option("--listen", options->listen, "Terminate TLS on ADDR[:PORT] (repeatable); reads the User-Agent too");
  command->add_option("--cert", options->certificate, "--listen: the server's PEM certificate chain")->check(CLI::ExistingFile);
  command->add_option("--key", options->key, "--listen: its PEM private key")->check(CLI::ExistingFile);
  command->add_option("--max-connections", options->listener.max_connections, "--listen: connections open at once (beyond, closed at once)")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{1} << 20));
  command->add_option("--max-per-address", options->listener.max_per_address, "--listen: connections open at once from one client address")
      ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{1} << 20));
  command->add_option_function<double>(
             "--hello-timeout", [options](double seconds) { options->listener.hello_timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)); },
             "--listen: seconds from the connection to a whole ClientHello (default 3)")
      ->check(CLI::Range(0.01, 600.0));
  command->add_option_function<double>(
             "--visit-timeout", [options](double seconds) { options->listener.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)); },
             "--listen: seconds from the connection to the answer (default 10)")
      ->check(CLI::Range(0.01, 600.0));
  command->add_option("--threads", options->listener.threads, "--listen: event loops (default: one per core)");
  command->add_option("--port", options->ports, "Server ports whose ClientHellos are read from captures (default 443)");
  command->add_option("--max-flows", options->max_flows, "Captures: client flows followed at once (more are counted as refused)")
      ->capture_default_str();
  command->add_option("--pfx2as", options->pfx2as, "Prefix-to-AS table (CAIDA pfx2as or MaxMind ASN .mmdb): per-network summary");
  command->add_option("--fingerprints", options->fingerprints, "More client fingerprints and browser rules (JSON, as data/fingerprints/)")
      ->check(CLI::ExistingFile);
  command->add_option("--count", options->count, "Stop after this many visits");
  command->add_option("--duration", options->duration, "Stop after this many seconds");
  command->add_option("--out", options->out, "Append the visits (JSON Lines) to this file instead of stdout");
  command->add_option("--summary", options->summary, "Write the per-network summary as JSON to this file");
  command->add_flag("--flagged-only", options->flagged_only, "Write only flagged visits (the summary still counts all)");
  command->add_flag("--quiet", options->quiet, "No summary on stderr");
  command->callback([options, set_action] { set_action([options] { return run_sentinel(*options); }); });
}

}  // namespace mitmscope::cli
