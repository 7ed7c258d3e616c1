#include "x509/registry.h"

#include <algorithm>
#include <numeric>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/hex.h"
#include "x509/certificate_reader.h"
#include "core/embedded_files.h"

namespace mitmscope {
namespace {

std::optional<Sha256> parse_sha256_hex(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c != ':') clean.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (clean.size() != 64) return std::nullopt;
  Sha256 out{};
  for (size_t i = 0; i < 32; ++i) {
    const auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int high = nibble(clean[2 * i]);
    const int low = nibble(clean[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return out;
}

std::string json_string(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

Result<RegistryEntry> entry_from_json(const nlohmann::json& item, std::string_view origin, size_t index) {
  auto fail = [&](const std::string& why) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: entry {}: {}", origin, index + 1, why));
  };
  if (!item.is_object()) return fail("not an object");
  RegistryEntry entry;
  if (!item.is_object()) return fail(fmt::format("expected an object, got {}", item.type_name()));
  for (const char* key : {"id", "name", "country", "operator", "kind", "incident", "source", "file", "sha256"}) {
    if (auto it = item.find(key); it != item.end() && !it->is_null() && !it->is_string()) {
      return fail(fmt::format("field '{}': expected a string, got {}", key, it->type_name()));
    }
  }
  entry.id = json_string(item, "id");
  if (entry.id.empty()) return fail("field 'id' missing");
  entry.name = json_string(item, "name");
  entry.country = json_string(item, "country");
  entry.operator_name = json_string(item, "operator");
  entry.kind = json_string(item, "kind");
  entry.incident = json_string(item, "incident");
  entry.source = json_string(item, "source");
  entry.origin = std::string(origin);
  if (auto period = item.find("period"); period != item.end() && period->is_object()) {
    entry.period_from = json_string(*period, "from");
    entry.period_to = json_string(*period, "to");
  }
  if (auto references = item.find("references"); references != item.end() && references->is_array()) {
    for (const auto& reference : *references) {
      if (reference.is_string()) entry.references.push_back(reference.get<std::string>());
    }
  }
  if (auto spkis = item.find("spki_sha256"); spkis != item.end() && spkis->is_array()) {
    for (const auto& spki : *spkis) {
      auto parsed = spki.is_string() ? parse_sha256_hex(spki.get<std::string>()) : std::nullopt;
      if (!parsed) return fail("field 'spki_sha256' holds a value that is not 64 hex digits");
      entry.spki_sha256.push_back(*parsed);
    }
  }
  return entry;
}

RegistryEntry entry_from_certificate(const Certificate& certificate, std::string id, std::string origin) {
  RegistryEntry entry;
  entry.id = std::move(id);
  entry.name = certificate.common_name().value_or(certificate.subject());
  entry.kind = certificate.self_signed() ? "root" : "intermediate";
  entry.origin = std::move(origin);
  entry.source = "user-supplied";
  entry.certificate = certificate;
  entry.spki_sha256.push_back(certificate.spki_sha256());
  return entry;
}

}  // namespace

std::string_view attribution_method_name(AttributionMethod method) {
  switch (method) {
    case AttributionMethod::kIdenticalCertificate: return "identical_certificate";
    case AttributionMethod::kSameKey: return "same_key";
    case AttributionMethod::kSignature: return "signature";
  }
  return "unknown";
}

Result<InterceptorRegistry> InterceptorRegistry::from_metadata(
    std::string_view registry_json, std::string_view origin,
    const std::vector<std::pair<std::string, std::string>>& pem_files) {
  const auto document = nlohmann::json::parse(registry_json, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: not valid JSON", origin));
  }
  std::map<std::string, std::string, std::less<>> files(pem_files.begin(), pem_files.end());
  InterceptorRegistry registry;
  const auto entries = document.value("entries", nlohmann::json::array());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto entry = entry_from_json(entries[i], origin, i);
    if (!entry) return std::unexpected(entry.error());
    const std::string file = json_string(entries[i], "file");
    if (file.empty()) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: entry {} ({}): field 'file' missing", origin, i + 1, entry->id));
    }
    auto pem = files.find(file);
    if (pem == files.end()) {
      return make_error(ErrorCode::kFileNotFound,
                        fmt::format("{}: entry {} ({}): certificate file '{}' not found", origin, i + 1, entry->id, file));
    }
    const auto& text = pem->second;
    auto chain = parse_certificates(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), file);
    if (!chain) return std::unexpected(chain.error());
    if (chain->size() != 1) {
      return make_error(ErrorCode::kParseError, fmt::format("{}: holds {} certificates, expected 1", file, chain->size()));
    }
    const std::string declared = json_string(entries[i], "sha256");
    if (!declared.empty() && declared != chain->front().sha256_hex()) {
      return make_error(ErrorCode::kParseError,
                        fmt::format("{}: entry {} ({}): field 'sha256' is {} but {} has {}", origin, i + 1, entry->id,
                                    declared, file, chain->front().sha256_hex()));
    }
    entry->certificate = chain->front();
    entry->spki_sha256.insert(entry->spki_sha256.begin(), chain->front().spki_sha256());
    registry.add_entry(std::make_shared<const RegistryEntry>(std::move(*entry)));
  }
  const auto spki_only = document.value("spki_only", nlohmann::json::array());
  for (size_t i = 0; i < spki_only.size(); ++i) {
    auto entry = entry_from_json(spki_only[i], origin, entries.size() + i);
    if (!entry) return std::unexpected(entry.error());
    if (entry->spki_sha256.empty()) {
      return make_error(ErrorCode::kParseError,
                        fmt::format("{}: spki_only entry {} ({}): no 'spki_sha256' values", origin, i + 1, entry->id));
    }
    registry.add_entry(std::make_shared<const RegistryEntry>(std::move(*entry)));
  }
  return registry;
}

Result<InterceptorRegistry> InterceptorRegistry::builtin() {
  std::vector<std::pair<std::string, std::string>> files;
  std::string metadata;
  for (const auto& file : embedded_registry_files()) {
    if (file.name == "registry.json") {
      metadata = std::string(file.content);
    } else if (file.name.ends_with(".pem")) {
      files.emplace_back(std::string(file.name), std::string(file.content));
    }
  }
  return from_metadata(metadata, "builtin registry.json", files);
}

Result<InterceptorRegistry> InterceptorRegistry::load_directory(const std::filesystem::path& directory) {
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    return make_error(ErrorCode::kFileNotFound, fmt::format("{}: not a directory", directory.string()));
  }
  std::vector<std::filesystem::path> pem_paths;
  for (const auto& item : std::filesystem::directory_iterator(directory, error)) {
    const auto extension = item.path().extension();
    if (item.is_regular_file() && (extension == ".pem" || extension == ".crt" || extension == ".der" || extension == ".cer")) {
      pem_paths.push_back(item.path());
    }
  }
  std::sort(pem_paths.begin(), pem_paths.end());
  const auto metadata_path = directory / "registry.json";
  if (std::filesystem::exists(metadata_path)) {
    auto metadata = read_file_bytes(metadata_path, 16u << 20);
    if (!metadata) return std::unexpected(metadata.error());
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& path : pem_paths) {
      auto bytes = read_file_bytes(path, kMaxCertificateFileBytes);
      if (!bytes) return std::unexpected(bytes.error());
      files.emplace_back(path.filename().string(), std::string(bytes->begin(), bytes->end()));
    }
    return from_metadata(std::string_view(reinterpret_cast<const char*>(metadata->data()), metadata->size()),
                         metadata_path.string(), files);
  }
  // No metadata: every certificate in every file is an entry named after its file.
  InterceptorRegistry registry;
  for (const auto& path : pem_paths) {
    auto chain = read_certificate_file(path);
    if (!chain) return std::unexpected(chain.error());
    for (size_t i = 0; i < chain->size(); ++i) {
      std::string id = path.stem().string() + (chain->size() > 1 ? fmt::format("#{}", i + 1) : "");
      registry.add_entry(std::make_shared<const RegistryEntry>(entry_from_certificate((*chain)[i], std::move(id), path.string())));
    }
  }
  if (registry.entries_.empty()) {
    return make_error(ErrorCode::kParseError, fmt::format("{}: no certificate files (*.pem, *.crt, *.der, *.cer)", directory.string()));
  }
  return registry;
}

void InterceptorRegistry::merge(const InterceptorRegistry& other) {
  for (const auto& entry : other.entries_) {
    const bool duplicate = std::any_of(entries_.begin(), entries_.end(), [&](const auto& existing) {
      return existing->certificate && entry->certificate && *existing->certificate == *entry->certificate;
    });
    if (!duplicate) add_entry(entry);
  }
}

void InterceptorRegistry::add_entry(std::shared_ptr<const RegistryEntry> entry) {
  if (entry->certificate) signers_.add(static_cast<uint32_t>(entries_.size()), *entry->certificate);
  entries_.push_back(std::move(entry));
}

// Which entries could have signed it: those the index finds by its Authority Key Identifier or its issuer name.
// Without an Authority Key Identifier every entry is tried: the registry is small, and a forged certificate may
// name anything as its issuer.
std::vector<uint32_t> InterceptorRegistry::signer_candidates(const Certificate& certificate) const {
  if (certificate.authority_key_id()) return signers_.candidates(certificate);
  std::vector<uint32_t> every(entries_.size());
  std::iota(every.begin(), every.end(), 0u);
  return every;
}

std::shared_ptr<const RegistryEntry> InterceptorRegistry::find(std::string_view id) const {
  for (const auto& entry : entries_) {
    if (entry->id == id) return entry;
  }
  return nullptr;
}

Attribution InterceptorRegistry::attribute(std::span<const Certificate> chain) const {
  Attribution result;
  for (size_t position = 0; position < chain.size(); ++position) {
    const Certificate& certificate = chain[position];
    const auto authority_key_id = certificate.authority_key_id();

    for (const auto& entry : entries_) {
      if (entry->certificate && *entry->certificate == certificate) {
        result.entry = entry;
        result.method = AttributionMethod::kIdenticalCertificate;
        result.chain_position = position;
        result.reasons.push_back(fmt::format("certificate {} is the registry certificate '{}' (SHA-256 {})",
                                             position, entry->id, certificate.sha256_hex()));
        return result;
      }
      if (std::find(entry->spki_sha256.begin(), entry->spki_sha256.end(), certificate.spki_sha256()) !=
          entry->spki_sha256.end()) {
        result.entry = entry;
        result.method = AttributionMethod::kSameKey;
        result.chain_position = position;
        result.reasons.push_back(fmt::format("certificate {} carries the key of registry entry '{}' (SPKI SHA-256 {})",
                                             position, entry->id, certificate.spki_sha256_hex()));
        return result;
      }
    }

    // The name is never trusted, only checked.
    for (uint32_t candidate : signer_candidates(certificate)) {
      const auto& entry = entries_[candidate];
      if (!entry->certificate) continue;
      const auto subject_key_id = entry->certificate->subject_key_id();
      const bool aki_match = authority_key_id && subject_key_id && *authority_key_id == *subject_key_id;
      const bool same_issuer_name = entry->certificate->subject_equals_issuer_of(certificate);
      if (authority_key_id && !aki_match && !same_issuer_name) continue;
      if (certificate.signed_by(*entry->certificate)) {
        result.entry = entry;
        result.method = AttributionMethod::kSignature;
        result.chain_position = position;
        result.authority_key_id_matched = aki_match;
        result.reasons.push_back(fmt::format(
            "certificate {} ('{}') is signed by registry entry '{}': signature verified with its key{}", position,
            certificate.subject(), entry->id,
            aki_match ? " (Authority Key Identifier matches its Subject Key Identifier)"
                      : authority_key_id ? " (Authority Key Identifier differs)" : " (no Authority Key Identifier)"));
        return result;
      }
      if (same_issuer_name) {
        const bool impostor_root = certificate.self_issued();
        result.collisions.push_back(
            {position, entry->id,
             impostor_root
                 ? fmt::format("certificate {} has the name '{}' of registry entry '{}' but another key",
                               position, certificate.subject(), entry->id)
                 : fmt::format("certificate {} names '{}' as issuer, like registry entry '{}', but its signature "
                               "does not verify with that entry's key",
                               position, certificate.issuer(), entry->id)});
      }
    }
  }
  for (const auto& collision : result.collisions) result.reasons.push_back("name collision: " + collision.detail);
  return result;
}

}  // namespace mitmscope
