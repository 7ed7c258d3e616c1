#include "report/json_output.h"

#include <unordered_map>

#include <openssl/evp.h>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/hex.h"

namespace mitmscope {
namespace {

nlohmann::ordered_json optional_time(const std::optional<UtcSeconds>& time) {
  return time ? nlohmann::ordered_json(format_utc(*time)) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json optional_hex(const std::optional<std::vector<uint8_t>>& bytes) {
  return bytes ? nlohmann::ordered_json(to_hex(*bytes)) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json extension_list(const std::vector<ExtensionInfo>& extensions) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& extension : extensions) {
    out.push_back({{"oid", extension.oid}, {"name", extension.name}, {"critical", extension.critical}});
  }
  return out;
}

nlohmann::ordered_json key_json(const PublicKeyInfo& key) {
  nlohmann::ordered_json out = {{"type", key.type}, {"bits", key.bits}};
  if (!key.rsa_exponent.empty()) out["exponent"] = key.rsa_exponent;
  if (!key.curve.empty()) out["curve"] = key.curve;
  return out;
}

nlohmann::ordered_json optional_double(const std::optional<double>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

}  // namespace

nlohmann::ordered_json shape_json(const CertificateShape& shape) {
  return {{"issuer_attributes", shape.issuer_attributes},
          {"subject_attributes", shape.subject_attributes},
          {"extensions", shape.extensions},
          {"shape_id", shape.shape_id}};
}

namespace {
nlohmann::ordered_json describe_certificate(const Certificate& certificate, const JsonOptions& options);
}  // namespace

// A pure function of the certificate and the options, and a scan describes the same certificate for
// every SNI a host answers genuinely: kept in a small per-thread cache (dropped when it fills).
nlohmann::ordered_json certificate_json(const Certificate& certificate, const JsonOptions& options, std::string_view ja4x) {
  static constexpr size_t kCapacity = 1024;
  thread_local std::unordered_map<std::string, nlohmann::ordered_json> cache;
  std::string key = certificate.sha256_hex();
  key += options.include_raw ? 'r' : '-';
  auto found = cache.find(key);
  if (found == cache.end()) {
    if (cache.size() >= kCapacity) cache.clear();
    found = cache.emplace(std::move(key), describe_certificate(certificate, options)).first;
  }
  if (ja4x.empty()) return found->second;
  auto described = found->second;
  described["ja4x"] = ja4x;
  return described;
}

nlohmann::ordered_json chain_json(const ChainAssessment& assessment, const JsonOptions& options) {
  auto out = nlohmann::ordered_json::array();
  for (size_t i = 0; i < assessment.chain.size(); ++i) {
    const bool with_ja4x = i < assessment.fingerprints.ja4x.size();
    out.push_back(certificate_json(assessment.chain[i], options, with_ja4x ? std::string_view(assessment.fingerprints.ja4x[i]) : ""));
  }
  return out;
}

namespace {
nlohmann::ordered_json describe_certificate(const Certificate& certificate, const JsonOptions& options) {
  nlohmann::ordered_json out = {
      {"sha256", certificate.sha256_hex()},
      {"sha1", certificate.sha1_hex()},
      {"spki_sha256", certificate.spki_sha256_hex()},
      {"subject", certificate.subject()},
      {"issuer", certificate.issuer()},
      {"serial", certificate.serial_hex()},
      {"version", certificate.version()},
      {"not_before", optional_time(certificate.not_before())},
      {"not_after", optional_time(certificate.not_after())},
      {"subject_alt_names", certificate.subject_alt_names()},
      {"subject_key_id", optional_hex(certificate.subject_key_id())},
      {"authority_key_id", optional_hex(certificate.authority_key_id())},
      {"is_ca", certificate.is_ca()},
      {"self_signed", certificate.self_signed()},
      {"public_key", key_json(certificate.public_key())},
      {"signature_algorithm", certificate.signature_algorithm()},
      {"extensions", extension_list(certificate.extensions())},
      {"shape", shape_json(certificate_shape(certificate))},
  };
  if (options.include_raw) out["raw"] = base64_encode(certificate.der());
  return out;
}
}  // namespace

nlohmann::ordered_json server_hello_json(const ServerHello& hello, const std::string& cipher_name, const Fingerprints& fingerprints) {
  auto extensions = nlohmann::ordered_json::array();
  for (const auto& extension : hello.extensions) {
    extensions.push_back({{"id", extension.type}, {"name", extension_name(extension.type)}, {"length", extension.data.size()}});
  }
  nlohmann::ordered_json out = {
      {"version", {{"name", tls_version_name(hello.selected_version)}, {"value", hello.selected_version}}},
      {"legacy_version", {{"name", tls_version_name(hello.legacy_version)}, {"value", hello.legacy_version}}},
      {"cipher_suite", {{"name", cipher_name}, {"value", hello.cipher_suite}, {"hex", fmt::format("0x{:04X}", hello.cipher_suite)}}},
      {"compression_method", hello.compression_method},
      {"session_id_length", hello.session_id.size()},
      {"extensions", extensions},
      {"duplicate_extensions", hello.duplicate_extensions},
      {"hello_retry_request", hello.hello_retry_request},
      {"alpn", hello.alpn ? nlohmann::ordered_json(*hello.alpn) : nlohmann::ordered_json(nullptr)},
      {"ja3s", fingerprints.ja3s},
      {"ja3s_string", fingerprints.ja3s_string},
  };
  if (!fingerprints.ja4s.empty()) out["ja4s"] = fingerprints.ja4s;
  return out;
}

nlohmann::ordered_json validation_json(const ValidationResult& validation, const TrustStore& store) {
  auto issues = nlohmann::ordered_json::array();
  for (const auto& issue : validation.issues) {
    issues.push_back({{"depth", issue.depth}, {"name", issue.name}, {"message", issue.message}});
  }
  auto path = nlohmann::ordered_json::array();
  for (const auto& certificate : validation.path) path.push_back(certificate.sha256_hex());
  return {{"browser_trusted", validation.browser_trusted},
          {"browser_error", validation.browser_error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(validation.browser_error)},
          {"issues", issues},
          {"path", path},
          {"hostname_checked", validation.hostname_checked},
          {"hostname_matches", validation.hostname_checked ? nlohmann::ordered_json(validation.hostname_matches) : nlohmann::ordered_json(nullptr)},
          {"validated_at", format_utc(validation.validated_at)},
          {"trust_store", {{"source", store.description()}, {"roots", store.size()}}}};
}

nlohmann::ordered_json registry_entry_json(const RegistryEntry& entry) {
  return {{"id", entry.id},
          {"name", entry.name},
          {"country", entry.country},
          {"operator", entry.operator_name},
          {"kind", entry.kind},
          {"period", {{"from", entry.period_from.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(entry.period_from)},
                      {"to", entry.period_to.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(entry.period_to)}}},
          {"incident", entry.incident},
          {"references", entry.references},
          {"origin", entry.origin},
          {"sha256", entry.certificate ? nlohmann::ordered_json(entry.certificate->sha256_hex()) : nlohmann::ordered_json(nullptr)}};
}

nlohmann::ordered_json interception_json(const Verdict& verdict, const Attribution& attribution) {
  nlohmann::ordered_json known = nullptr;
  if (verdict.known_interceptor) {
    const auto& interceptor = *verdict.known_interceptor;
    known = {{"id", interceptor.id},
             {"name", interceptor.name},
             {"country", interceptor.country.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(interceptor.country)},
             {"root_sha256", interceptor.root_sha256},
             {"method", interceptor.method},
             {"chain_position", interceptor.chain_position},
             {"authority_key_id_matched", attribution.authority_key_id_matched}};
  }
  auto collisions = nlohmann::ordered_json::array();
  for (const auto& collision : attribution.collisions) {
    collisions.push_back({{"chain_position", collision.chain_position}, {"entry", collision.entry_id}, {"detail", collision.detail}});
  }
  return {{"verdict", verdict_name(verdict.kind)},
          {"known_interceptor", known},
          {"name_collisions", collisions},
          {"reasons", verdict.reasons}};
}

nlohmann::ordered_json forging_json(const ForgingAnalysis& analysis) {
  auto names = [](const std::vector<ExtensionInfo>& list) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& extension : list) out.push_back(extension.name);
    return out;
  };
  return {{"same_certificate", analysis.same_certificate},
          {"same_subject", analysis.same_subject},
          {"same_subject_alt_names", analysis.same_subject_alt_names},
          {"same_issuer", analysis.same_issuer},
          {"presented_issuer", analysis.presented_issuer},
          {"genuine_issuer", analysis.genuine_issuer},
          {"same_key", analysis.same_key},
          {"not_before_shift_hours", optional_double(analysis.not_before_shift_hours)},
          {"not_after_shift_hours", optional_double(analysis.not_after_shift_hours)},
          {"serial_bits", analysis.serial_bits},
          {"serial_leading_bits_kept", analysis.serial_leading_bits_kept},
          {"serial_trailing_bits_differing", analysis.serial_trailing_bits_differing},
          {"serial_length_changed", analysis.serial_length_changed},
          {"presented_key", key_json(analysis.presented_key)},
          {"genuine_key", key_json(analysis.genuine_key)},
          {"extensions_dropped", names(analysis.extensions_dropped)},
          {"extensions_added", names(analysis.extensions_added)},
          {"extensions_kept", names(analysis.extensions_kept)},
          {"presented_signature_algorithm", analysis.presented_signature_algorithm},
          {"genuine_signature_algorithm", analysis.genuine_signature_algorithm}};
}

nlohmann::ordered_json forging_profile_json(const ForgingProfile& profile) {
  return {{"pairs", profile.pairs},
          {"copies_subject", profile.copies_subject},
          {"copies_subject_alt_names", profile.copies_subject_alt_names},
          {"validity_shift_hours", optional_double(profile.validity_shift_hours)},
          {"validity_shifts_seen", profile.validity_shifts_seen},
          {"serial_random_trailing_bits", profile.serial_random_trailing_bits},
          {"key_types", profile.key_types},
          {"extensions_always_dropped", profile.extensions_always_dropped},
          {"extensions_always_added", profile.extensions_always_added},
          {"distinct_presented_keys", profile.distinct_presented_keys}};
}

nlohmann::ordered_json plain_answer_json(const PlainAnswer& answer) {
  auto headers = nlohmann::ordered_json::array();
  for (const auto& [name, value] : answer.headers) headers.push_back({name, value});
  return {{"first_line", answer.first_line},
          {"http_status", answer.http_status ? nlohmann::ordered_json(*answer.http_status) : nlohmann::ordered_json(nullptr)},
          {"server", answer.server.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(answer.server)},
          {"headers", headers},
          {"first_bytes", answer.printable_bytes()}};
}

nlohmann::ordered_json inspect_json(const std::string& file, const ChainAssessment& assessment,
                                    const std::optional<ForgingAnalysis>& forging, const TrustStore& store,
                                    const JsonOptions& options) {
  nlohmann::ordered_json out = {{"file", file},
                                {"certificates", chain_json(assessment, options)},
                                {"validation", validation_json(assessment.validation, store)},
                                {"interception", interception_json(assessment.verdict, assessment.attribution)},
                                {"forging", forging ? forging_json(*forging) : nlohmann::ordered_json(nullptr)},
                                {"outcome", outcome_name(outcome_of(assessment.verdict.kind))}};
  if (assessment.attribution) out["interception"]["registry_entry"] = registry_entry_json(*assessment.attribution.entry);
  return out;
}

nlohmann::ordered_json probe_json(const Observation& observation, const ChainAssessment& assessment, const TrustStore& store,
                          const JsonOptions& options) {
  nlohmann::ordered_json out = {
      {"ip", observation.ip},
      {"port", observation.port},
      {"source_port", observation.source_port},
      {"sni", observation.sni.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(observation.sni)},
      {"timestamp", format_utc(observation.time)},
      {"source", observation.source},
      {"client_hello", observation.client.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(observation.client)},
      {"ttl", observation.ttl ? nlohmann::ordered_json(*observation.ttl) : nlohmann::ordered_json(nullptr)},
      {"tls_versions_offered", {{"min", tls_version_name(observation.min_version)}, {"max", tls_version_name(observation.max_version)}}},
      {"handshake_complete", observation.handshake_complete},
      {"error", observation.error ? nlohmann::ordered_json{{"code", error_code_name(observation.error->code)},
                                                    {"message", observation.error->message}}
                                  : nlohmann::ordered_json(nullptr)},
      {"plain_answer", observation.plain_answer ? plain_answer_json(*observation.plain_answer) : nlohmann::ordered_json(nullptr)},
      {"alert", {{"received", observation.alert_received ? nlohmann::ordered_json(tls_alert_name(*observation.alert_received)) : nlohmann::ordered_json(nullptr)},
                 {"sent", observation.alert_sent ? nlohmann::ordered_json(tls_alert_name(*observation.alert_sent)) : nlohmann::ordered_json(nullptr)}}},
      {"timings", {{"connect_ms", optional_double(observation.timings.connect_ms)},
                   {"handshake_ms", optional_double(observation.timings.handshake_ms)},
                   {"total_ms", optional_double(observation.timings.total_ms)}}},
      {"server_hello", observation.server_hello
                           ? server_hello_json(*observation.server_hello, observation.cipher_suite_name, assessment.fingerprints)
                           : nlohmann::ordered_json(nullptr)},
  };
  nlohmann::ordered_json certificates = nullptr;
  if (!assessment.chain.empty()) {
    auto all = chain_json(assessment, options);
    auto chain = nlohmann::ordered_json::array();
    for (size_t i = 1; i < all.size(); ++i) chain.push_back(std::move(all[i]));
    certificates = {{"certificate", std::move(all[0])},
                    {"chain", std::move(chain)},
                    {"length", assessment.chain.size()},
                    {"unparseable", assessment.parse_errors}};
  }
  out["server_certificates"] = certificates;
  out["validation"] = assessment.chain.empty() ? nlohmann::ordered_json(nullptr) : validation_json(assessment.validation, store);
  out["interception"] = interception_json(assessment.verdict, assessment.attribution);
  out["outcome"] = outcome_name(outcome_of(assessment.verdict.kind));
  return out;
}

}  // namespace mitmscope
