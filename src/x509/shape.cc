#include "x509/shape.h"

#include <openssl/objects.h>
#include <openssl/sha.h>

#include <fmt/format.h>

#include "core/hex.h"

namespace mitmscope {
namespace {

enum class OidForm { kDotted, kHexBytes };

std::string oid_string(const ASN1_OBJECT* object, OidForm form) {
  if (form == OidForm::kHexBytes) {
    const unsigned char* data = OBJ_get0_data(object);
    return to_hex(std::span(data, OBJ_length(object)));
  }
  char buffer[128];
  const int length = OBJ_obj2txt(buffer, sizeof buffer, object, 1);
  return length > 0 ? std::string(buffer, std::min<size_t>(size_t(length), sizeof buffer - 1)) : std::string();
}

std::vector<std::string> name_oids(const X509_NAME* name, OidForm form) {
  std::vector<std::string> out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    out.push_back(oid_string(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, i)), form));
  }
  return out;
}

std::vector<std::string> extension_oids(const Certificate& certificate, OidForm form) {
  std::vector<std::string> out;
  for (int i = 0; i < X509_get_ext_count(certificate.get()); ++i) {
    out.push_back(oid_string(X509_EXTENSION_get_object(X509_get_ext(certificate.get(), i)), form));
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
  return out;
}

std::string sha256_prefix(const std::string& text, size_t hex_digits) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest);
  return to_hex(digest).substr(0, hex_digits);
}

}  // namespace

CertificateShape certificate_shape(const Certificate& certificate) {
  CertificateShape shape;
  shape.issuer_attributes = name_oids(X509_get_issuer_name(certificate.get()), OidForm::kDotted);
  shape.subject_attributes = name_oids(X509_get_subject_name(certificate.get()), OidForm::kDotted);
  shape.extensions = extension_oids(certificate, OidForm::kDotted);
  shape.shape_id = sha256_prefix(
      fmt::format("issuer={};subject={};extensions={}", join(shape.issuer_attributes),
                  join(shape.subject_attributes), join(shape.extensions)),
      16);
  return shape;
}

std::string ja4x_raw(const Certificate& certificate) {
  return fmt::format("{}_{}_{}", join(name_oids(X509_get_issuer_name(certificate.get()), OidForm::kHexBytes)),
                     join(name_oids(X509_get_subject_name(certificate.get()), OidForm::kHexBytes)),
                     join(extension_oids(certificate, OidForm::kHexBytes)));
}

std::string ja4x(const Certificate& certificate) {
  return fmt::format("{}_{}_{}",
                     sha256_prefix(join(name_oids(X509_get_issuer_name(certificate.get()), OidForm::kHexBytes)), 12),
                     sha256_prefix(join(name_oids(X509_get_subject_name(certificate.get()), OidForm::kHexBytes)), 12),
                     sha256_prefix(join(extension_oids(certificate, OidForm::kHexBytes)), 12));
}

}  // namespace mitmscope
