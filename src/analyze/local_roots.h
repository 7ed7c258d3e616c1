// The roots a machine trusts, wherever they are configured: what `audit` compares with the Mozilla set.
//   OpenSSL:  the system bundle (etc/ssl/certs/ca-certificates.crt), the certificates in etc/ssl/certs/, and
//             usr/local/share/ca-certificates/ (what update-ca-certificates adds to the bundle)
//   p11-kit:  the anchors `trust extract --filter=ca-anchors` gives (only for the running system: root "/")
//   NSS:      every cert9.db of Firefox profiles (home/*/.mozilla/firefox/*/, root/.mozilla/firefox/*/) and of
//             Chromium (home/*/.pki/nssdb, root/.pki/nssdb), listed with `certutil` (libnss3-tools). These hold
//             only what was added by hand or by software: the built-in roots live in libnssckbi.
// Paths are under `root`, so a test (or an audit of a mounted disk image) points it at another tree.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "x509/certificate.h"
#include "x509/trust_store.h"

namespace mitmscope {

struct TrustedCertificate {
  Certificate certificate;
  std::string store;        // "openssl-bundle", "openssl-directory", "local-ca-certificates", "p11-kit", "nss"
  std::string location;     // the file, or "NSS DB DIR: nickname"
  std::string nss_trust;    // certutil's trust flags ("C,,"); empty elsewhere
  bool anchor = true;       // NSS: trusted to issue server certificates ('C' in the SSL flags)
};

struct LocalRootsOptions {
  std::filesystem::path root = "/";
  bool p11kit = true;       // only meaningful for root "/"
};

struct LocalRoots {
  std::vector<TrustedCertificate> certificates;
  std::vector<std::string> sources;   // what was read, with how many certificates
  std::vector<std::string> skipped;   // what could not be read, and why
};

LocalRoots collect_local_roots(const LocalRootsOptions& options);

// The certificates trusted to identify servers (anchors) that `browser` does not hold, once each, in the order found.
Chain anchors_beyond(const LocalRoots& roots, const TrustStore& browser);

// certutil -L's listing: (nickname, trust flags) per line after the header.
std::vector<std::pair<std::string, std::string>> parse_certutil_listing(const std::string& listing);

}  // namespace mitmscope
