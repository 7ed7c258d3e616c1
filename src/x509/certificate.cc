#include "x509/certificate.h"

#include <algorithm>
#include <unordered_map>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "core/hex.h"
#include "x509/openssl_ptr.h"

namespace mitmscope {
namespace {

std::string name_to_string(const X509_NAME* name) {
  if (name == nullptr) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  // Certificate order, "C=KZ, CN=..." with UTF-8 kept readable and RFC 2253 escapes.
  const unsigned long flags = (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT |
                              XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | XN_FLAG_DUMP_UNKNOWN_FIELDS;
  X509_NAME_print_ex(bio.get(), name, 0, flags);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

std::optional<UtcSeconds> asn1_time_to_utc(const ASN1_TIME* time) {
  if (time == nullptr) return std::nullopt;
  std::tm parts{};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{parts.tm_year + 1900},
                                         std::chrono::month{unsigned(parts.tm_mon + 1)},
                                         std::chrono::day{unsigned(parts.tm_mday)}};
  if (!date.ok()) return std::nullopt;
  return UtcSeconds{std::chrono::sys_days{date}} + std::chrono::hours{parts.tm_hour} +
         std::chrono::minutes{parts.tm_min} + std::chrono::seconds{parts.tm_sec};
}

std::vector<uint8_t> octets(const ASN1_OCTET_STRING* string) {
  const uint8_t* data = ASN1_STRING_get0_data(string);
  return std::vector<uint8_t>(data, data + ASN1_STRING_length(string));
}

std::string oid_text(const ASN1_OBJECT* object, bool numeric) {
  char buffer[128];
  const int length = OBJ_obj2txt(buffer, sizeof buffer, object, numeric ? 1 : 0);
  if (length <= 0) return {};
  return std::string(buffer, std::min<size_t>(size_t(length), sizeof buffer - 1));
}

}  // namespace

Result<Certificate> Certificate::from_der(std::span<const uint8_t> der) {
  const unsigned char* cursor = der.data();
  X509* parsed = d2i_X509(nullptr, &cursor, static_cast<long>(der.size()));
  if (parsed == nullptr) {
    return make_error(ErrorCode::kParseError, "not a valid X.509 certificate: " + take_openssl_error());
  }
  if (cursor != der.data() + der.size()) {
    X509_free(parsed);
    return make_error(ErrorCode::kParseError,
                      fmt::format("{} trailing bytes after the certificate", der.data() + der.size() - cursor));
  }
  return from_x509(parsed);
}

Result<Certificate> Certificate::from_x509(X509* owned) {
  Certificate certificate;
  certificate.x509_.reset(owned, X509Release{});
  unsigned char* encoded = nullptr;
  const int length = i2d_X509(owned, &encoded);
  if (length <= 0) {
    return make_error(ErrorCode::kParseError, "certificate cannot be encoded: " + take_openssl_error());
  }
  certificate.der_ = std::make_shared<const std::vector<uint8_t>>(encoded, encoded + length);
  OPENSSL_free(encoded);
  const auto& der = *certificate.der_;
  SHA256(der.data(), der.size(), certificate.sha256_.data());
  SHA1(der.data(), der.size(), certificate.sha1_.data());
  // The SHA-256 of the whole DER SubjectPublicKeyInfo (algorithm and key), Chromium's and CRLSets' form.
  // (X509_pubkey_digest hashes only the key's BIT STRING contents: not what any blocklist lists.)
  unsigned char* spki = nullptr;
  const int spki_length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(owned), &spki);
  if (spki_length <= 0) return make_error(ErrorCode::kParseError, "public key cannot be encoded: " + take_openssl_error());
  SHA256(spki, static_cast<size_t>(spki_length), certificate.spki_sha256_.data());
  OPENSSL_free(spki);
  // Cache OpenSSL's derived extension data now, so later const readers never race on it.
  X509_check_purpose(owned, -1, 0);
  return certificate;
}

std::string Certificate::sha256_hex() const { return to_hex(sha256_); }
std::string Certificate::sha1_hex() const { return to_hex(sha1_); }
std::string Certificate::spki_sha256_hex() const { return to_hex(spki_sha256_); }

namespace {
std::vector<uint8_t> name_der(const X509_NAME* name) {
  unsigned char* out = nullptr;
  const int length = i2d_X509_NAME(name, &out);
  if (length <= 0) return {};
  std::vector<uint8_t> bytes(out, out + length);
  OPENSSL_free(out);
  return bytes;
}
}  // namespace

std::vector<uint8_t> Certificate::subject_der() const { return name_der(X509_get_subject_name(x509_.get())); }
std::vector<uint8_t> Certificate::issuer_der() const { return name_der(X509_get_issuer_name(x509_.get())); }

namespace {
uint32_t canonical_name_hash(const X509_NAME* name) {
  int ok = 0;
  const unsigned long hash = X509_NAME_hash_ex(name, nullptr, nullptr, &ok);
  return ok ? static_cast<uint32_t>(hash) : 0;
}
}  // namespace

uint32_t Certificate::subject_name_hash() const { return canonical_name_hash(X509_get_subject_name(x509_.get())); }
uint32_t Certificate::issuer_name_hash() const { return canonical_name_hash(X509_get_issuer_name(x509_.get())); }

std::vector<uint8_t> Certificate::serial_der_content() const {
  unsigned char* out = nullptr;
  const int length = i2d_ASN1_INTEGER(X509_get0_serialNumber(x509_.get()), &out);
  if (length <= 2) {
    OPENSSL_free(out);
    return {};
  }
  // Skip the tag and the (short or long form) length.
  size_t header = 2;
  if (out[1] & 0x80) header += out[1] & 0x7f;
  std::vector<uint8_t> bytes(out + std::min<size_t>(header, static_cast<size_t>(length)), out + length);
  OPENSSL_free(out);
  return bytes;
}

std::string Certificate::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x509_.get());
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

std::string Certificate::subject() const { return name_to_string(X509_get_subject_name(get())); }
std::string Certificate::issuer() const { return name_to_string(X509_get_issuer_name(get())); }

bool Certificate::subject_equals_issuer_of(const Certificate& issued) const {
  return X509_NAME_cmp(X509_get_subject_name(get()), X509_get_issuer_name(issued.get())) == 0;
}

bool Certificate::self_issued() const { return subject_equals_issuer_of(*this); }

bool Certificate::self_signed() const {
  // Names and key identifiers first: a signature check only for certificates that could be self-issued.
  if (X509_check_issued(get(), get()) != X509_V_OK) return false;
  return signed_by(*this);
}

Result<Certificate> Certificate::from_der_cached(std::span<const uint8_t> der) {
  static constexpr size_t kCapacity = 4096;
  thread_local std::unordered_map<std::string, Certificate> cache;
  std::string key(reinterpret_cast<const char*>(der.data()), der.size());
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto parsed = from_der(der);
  if (!parsed) return parsed;
  if (cache.size() >= kCapacity) cache.clear();
  cache.emplace(std::move(key), *parsed);
  return parsed;
}

bool Certificate::signed_by(const Certificate& issuer) const {
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  if (key == nullptr) return false;
  const bool verified = X509_verify(get(), key) == 1;
  ERR_clear_error();
  return verified;
}

int Certificate::version() const { return static_cast<int>(X509_get_version(get())) + 1; }

std::vector<uint8_t> Certificate::serial_bytes() const {
  BignumPtr number(ASN1_INTEGER_to_BN(X509_get0_serialNumber(get()), nullptr));
  if (!number) return {};
  std::vector<uint8_t> bytes(static_cast<size_t>(BN_num_bytes(number.get())));
  BN_bn2bin(number.get(), bytes.data());
  return bytes;
}

bool Certificate::serial_negative() const {
  return ASN1_STRING_type(X509_get0_serialNumber(get())) == V_ASN1_NEG_INTEGER;
}

std::string Certificate::serial_hex() const {
  const auto bytes = serial_bytes();
  std::string hex = bytes.empty() ? "00" : to_hex(bytes);
  return serial_negative() ? "-" + hex : hex;
}

std::optional<UtcSeconds> Certificate::not_before() const { return asn1_time_to_utc(X509_get0_notBefore(get())); }
std::optional<UtcSeconds> Certificate::not_after() const { return asn1_time_to_utc(X509_get0_notAfter(get())); }

bool Certificate::valid_at(UtcSeconds time) const {
  const auto begin = not_before();
  const auto end = not_after();
  return begin && end && *begin <= time && time <= *end;
}

std::optional<std::vector<uint8_t>> Certificate::subject_key_id() const {
  const ASN1_OCTET_STRING* id = X509_get0_subject_key_id(get());
  if (id == nullptr) return std::nullopt;
  return octets(id);
}

std::optional<std::vector<uint8_t>> Certificate::authority_key_id() const {
  const ASN1_OCTET_STRING* id = X509_get0_authority_key_id(get());
  if (id == nullptr) return std::nullopt;
  return octets(id);
}

std::vector<std::string> Certificate::subject_alt_names() const {
  std::vector<std::string> out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS || name->type == GEN_EMAIL || name->type == GEN_URI) {
      const auto* text = name->d.ia5;
      const std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                              static_cast<size_t>(ASN1_STRING_length(text)));
      const char* prefix = name->type == GEN_DNS ? "DNS:" : name->type == GEN_EMAIL ? "email:" : "URI:";
      out.push_back(prefix + value);
    } else if (name->type == GEN_IPADD) {
      const auto* address = name->d.iPAddress;
      const uint8_t* data = ASN1_STRING_get0_data(address);
      const int length = ASN1_STRING_length(address);
      if (length == 4) {
        out.push_back(fmt::format("IP:{}.{}.{}.{}", data[0], data[1], data[2], data[3]));
      } else if (length == 16) {
        std::string text = "IP:";
        for (int j = 0; j < 16; j += 2) text += fmt::format("{}{:x}", j ? ":" : "", (data[j] << 8) | data[j + 1]);
        out.push_back(text);
      }
    } else {
      out.push_back(fmt::format("other:{}", name->type));
    }
  }
  return out;
}

std::vector<std::string> Certificate::dns_names() const {
  std::vector<std::string> out;
  for (const auto& name : subject_alt_names()) {
    if (name.starts_with("DNS:")) out.push_back(name.substr(4));
  }
  return out;
}

std::optional<std::string> Certificate::common_name() const {
  const X509_NAME* name = X509_get_subject_name(get());
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return std::nullopt;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return out;
}

bool Certificate::is_ca() const { return X509_check_ca(get()) != 0 && (X509_get_extension_flags(get()) & EXFLAG_CA); }

std::optional<int> Certificate::path_length() const {
  const long length = X509_get_pathlen(get());
  if (length < 0) return std::nullopt;
  return static_cast<int>(length);
}

PublicKeyInfo Certificate::public_key() const {
  PublicKeyInfo info;
  EVP_PKEY* key = X509_get0_pubkey(get());
  if (key == nullptr) {
    info.type = "unknown";
    ERR_clear_error();
    return info;
  }
  info.bits = EVP_PKEY_get_bits(key);
  const int id = EVP_PKEY_get_base_id(key);
  switch (id) {
    case EVP_PKEY_RSA: case EVP_PKEY_RSA_PSS: {
      info.type = id == EVP_PKEY_RSA ? "RSA" : "RSA-PSS";
      BIGNUM* exponent = nullptr;
      if (EVP_PKEY_get_bn_param(key, "e", &exponent) == 1) {
        BignumPtr owned(exponent);
        char* decimal = BN_bn2dec(exponent);
        info.rsa_exponent = decimal;
        OPENSSL_free(decimal);
      }
      break;
    }
    case EVP_PKEY_EC: {
      info.type = "EC";
      char curve[64] = {};
      size_t length = 0;
      if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &length) == 1) info.curve = curve;
      break;
    }
    default:
      info.type = OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown";
  }
  return info;
}

std::string Certificate::signature_algorithm() const {
  const int nid = X509_get_signature_nid(get());
  const char* name = OBJ_nid2ln(nid);
  return name ? name : "unknown";
}

std::vector<ExtensionInfo> Certificate::extensions() const {
  std::vector<ExtensionInfo> out;
  const int count = X509_get_ext_count(get());
  for (int i = 0; i < count; ++i) {
    const X509_EXTENSION* extension = X509_get_ext(get(), i);
    const ASN1_OBJECT* object = X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(extension));
    ExtensionInfo info;
    info.oid = oid_text(object, true);
    const int nid = OBJ_obj2nid(object);
    info.name = nid != NID_undef ? OBJ_nid2sn(nid) : info.oid;
    info.critical = X509_EXTENSION_get_critical(extension) != 0;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace mitmscope
