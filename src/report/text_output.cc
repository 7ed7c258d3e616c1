#include "report/text_output.h"

#include <fmt/format.h>

namespace mitmscope {
namespace {

std::string date_of(const std::optional<UtcSeconds>& time) {
  return time ? format_utc(*time).substr(0, 10) : std::string("?");
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? std::string(separator) : "") + parts[i];
  return out;
}

}  // namespace

std::string certificate_line(const Certificate& certificate) {
  return fmt::format("{}\n        issuer {}\n        {}  {} .. {}  sha256 {}", certificate.subject(),
                     certificate.issuer(), describe_key(certificate.public_key()), date_of(certificate.not_before()),
                     date_of(certificate.not_after()), certificate.sha256_hex().substr(0, 16));
}

std::string verdict_text(const ChainAssessment& assessment) {
  const auto& verdict = assessment.verdict;
  std::string text;
  switch (verdict.kind) {
    case VerdictKind::kIntercepted: {
      const auto& known = *verdict.known_interceptor;
      text = fmt::format("INTERCEPTED: known interceptor '{}' ({}, {}), matched by {}", known.name, known.id,
                         known.country.empty() ? "country unknown" : known.country, known.method);
      break;
    }
    case VerdictKind::kUntrusted: text = "UNTRUSTED, no known interceptor: interception or misconfiguration"; break;
    case VerdictKind::kClean: text = "clean: browser-trusted"; break;
    case VerdictKind::kError: text = "no verdict: nothing to judge"; break;
  }
  for (const auto& reason : verdict.reasons) text += "\n    - " + reason;
  return text;
}

std::string chain_text(const ChainAssessment& assessment) {
  std::string text = fmt::format("  chain       {} certificate{}\n", assessment.chain.size(),
                                 assessment.chain.size() == 1 ? "" : "s");
  for (size_t i = 0; i < assessment.chain.size(); ++i) {
    text += fmt::format("    [{}] {}\n", i, certificate_line(assessment.chain[i]));
  }
  for (const auto& error : assessment.parse_errors) text += fmt::format("    unparseable {}\n", error);
  const auto& validation = assessment.validation;
  if (!assessment.chain.empty()) {
    if (validation.browser_trusted) {
      text += fmt::format("  validation  trusted as of {}\n", format_utc(validation.validated_at));
    } else {
      std::vector<std::string> issues;
      for (const auto& issue : validation.issues) issues.push_back(fmt::format("{} (depth {})", issue.name, issue.depth));
      text += fmt::format("  validation  not trusted as of {}: {}\n", format_utc(validation.validated_at), join(issues, ", "));
    }
  }
  text += "  verdict     " + verdict_text(assessment) + "\n";
  return text;
}

std::string probe_text(const Observation& observation, const ChainAssessment& assessment) {
  std::string text = fmt::format("probe {}:{} sni={}\n", observation.ip, observation.port,
                                 observation.sni.empty() ? "(none)" : observation.sni);
  if (observation.server_hello) {
    const auto& hello = *observation.server_hello;
    std::vector<std::string> extensions;
    for (const auto& extension : hello.extensions) extensions.push_back(extension_name(extension.type));
    text += fmt::format("  tls         {} {} extensions [{}]\n  ja3s        {} ({})\n", tls_version_name(hello.selected_version),
                        observation.cipher_suite_name.empty() ? fmt::format("0x{:04X}", hello.cipher_suite) : observation.cipher_suite_name,
                        join(extensions, ", "), assessment.fingerprints.ja3s, assessment.fingerprints.ja3s_string);
    if (!assessment.fingerprints.ja4s.empty()) text += fmt::format("  ja4s        {}\n", assessment.fingerprints.ja4s);
  }
  if (observation.error) {
    text += fmt::format("  error       {}: {}\n", error_code_name(observation.error->code), observation.error->message);
  }
  if (!observation.chain_der.empty() || !observation.error) text += chain_text(assessment);
  text += fmt::format("  timings     connect {:.1f} ms, handshake {:.1f} ms\n", observation.timings.connect_ms.value_or(0),
                      observation.timings.handshake_ms.value_or(0));
  return text;
}

std::string forging_text(const ForgingAnalysis& analysis) {
  auto hours = [](const std::optional<double>& value) {
    return value ? fmt::format("{:+.1f} h", *value) : std::string("?");
  };
  std::vector<std::string> dropped, added;
  for (const auto& extension : analysis.extensions_dropped) dropped.push_back(extension.name);
  for (const auto& extension : analysis.extensions_added) added.push_back(extension.name);
  return fmt::format(
      "  forging analysis (presented vs genuine)\n"
      "    subject       {}\n    SAN           {}\n    issuer        {}\n"
      "    validity      not_before {}, not_after {}\n"
      "    serial        {} of {} leading bits kept, last {} differ{}\n"
      "    key           {} (genuine {}){}\n"
      "    extensions    dropped [{}], added [{}]\n",
      analysis.same_subject ? "copied" : "changed", analysis.same_subject_alt_names ? "copied" : "changed",
      analysis.same_issuer ? "same" : fmt::format("changed to '{}'", analysis.presented_issuer),
      hours(analysis.not_before_shift_hours), hours(analysis.not_after_shift_hours), analysis.serial_leading_bits_kept,
      analysis.serial_bits, analysis.serial_trailing_bits_differing,
      analysis.serial_length_changed ? " (length changed)" : "", describe_key(analysis.presented_key),
      describe_key(analysis.genuine_key), analysis.same_key ? ", same key" : "", join(dropped, ", "), join(added, ", "));
}

}  // namespace mitmscope
