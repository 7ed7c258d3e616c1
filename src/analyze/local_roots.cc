#include "analyze/local_roots.h"

#include <unistd.h>

#include <regex>
#include <set>
#include <system_error>

#include <fmt/format.h>

#include "core/process.h"
#include "core/unique_fd.h"
#include "x509/certificate_reader.h"

namespace mitmscope {
namespace fs = std::filesystem;
namespace {

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

void add_file(LocalRoots& out, const fs::path& file, const std::string& store) {
  auto chain = read_certificate_file(file);
  if (!chain) {
    out.skipped.push_back(fmt::format("{}: {}", file.string(), chain.error().message));
    return;
  }
  for (auto& certificate : *chain) out.certificates.push_back({.certificate = std::move(certificate), .store = store, .location = file.string()});
}

// The certificate files of a folder (recursively for usr/local/share/ca-certificates), in name order.
void add_folder(LocalRoots& out, const fs::path& folder, const std::string& store, bool recursive,
                const std::set<std::string>& skip_names) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) return;
  std::vector<fs::path> files;
  auto collect = [&](const fs::directory_entry& entry) {
    const auto name = entry.path().filename().string();
    if (skip_names.contains(name)) return;
    // etc/ssl/certs holds each root under its own name and as a hash link to it: read the files, not the links.
    if (entry.is_symlink()) return;
    if (entry.is_regular_file() && (name.ends_with(".pem") || name.ends_with(".crt"))) files.push_back(entry.path());
  };
  if (recursive) {
    for (const auto& entry : fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied, error)) collect(entry);
  } else {
    for (const auto& entry : fs::directory_iterator(folder, error)) collect(entry);
  }
  std::sort(files.begin(), files.end());
  const size_t before = out.certificates.size();
  for (const auto& file : files) add_file(out, file, store);
  out.sources.push_back(fmt::format("{} ({} files, {} certificates)", folder.string(), files.size(), out.certificates.size() - before));
}

void add_p11kit(LocalRoots& out) {
  char pattern[] = "/tmp/mitmscope-p11kit-XXXXXX";
  if (!UniqueFd(::mkstemp(pattern))) {
    out.skipped.push_back("p11-kit: cannot create a temporary file");
    return;
  }
  const std::string file = pattern;
  std::error_code ignored;
  fs::remove(file, ignored);  // trust extract refuses to overwrite
  auto extracted = run_command({"trust", "extract", "--format=pem-bundle", "--filter=ca-anchors", "--purpose=server-auth", file});
  if (!extracted) {
    out.skipped.push_back("p11-kit (`trust extract`): " + extracted.error().message);
  } else if (is_file(file)) {
    const size_t before = out.certificates.size();
    add_file(out, file, "p11-kit");
    for (size_t i = before; i < out.certificates.size(); ++i) out.certificates[i].location = "p11-kit trust anchors";
    out.sources.push_back(fmt::format("p11-kit trust anchors ({} certificates)", out.certificates.size() - before));
  }
  fs::remove(file, ignored);
}

void add_nss(LocalRoots& out, const fs::path& database) {
  const std::string spec = "sql:" + database.string();
  auto listing = run_command({"certutil", "-L", "-d", spec});
  if (!listing) {
    out.skipped.push_back(fmt::format("NSS {}: {}", database.string(), listing.error().message));
    return;
  }
  size_t found = 0;
  for (const auto& [nickname, trust] : parse_certutil_listing(*listing)) {
    auto pem = run_command({"certutil", "-L", "-d", spec, "-n", nickname, "-a"});
    if (!pem) {
      out.skipped.push_back(fmt::format("NSS {}: {}: {}", database.string(), nickname, pem.error().message));
      continue;
    }
    auto chain = parse_certificates({reinterpret_cast<const uint8_t*>(pem->data()), pem->size()}, nickname);
    if (!chain || chain->empty()) {
      out.skipped.push_back(fmt::format("NSS {}: {}: not a certificate", database.string(), nickname));
      continue;
    }
    const std::string ssl_flags = trust.substr(0, trust.find(','));
    out.certificates.push_back({.certificate = chain->front(), .store = "nss",
                                .location = fmt::format("{}: {}", database.string(), nickname), .nss_trust = trust,
                                .anchor = ssl_flags.find('C') != std::string::npos});
    ++found;
  }
  out.sources.push_back(fmt::format("NSS {} ({} certificates)", database.string(), found));
}

// Firefox profiles and Chromium's NSS database of every home folder (and root's).
std::vector<fs::path> nss_databases(const fs::path& root) {
  std::vector<fs::path> homes{root / "root"};
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root / "home", error)) {
    if (entry.is_directory()) homes.push_back(entry.path());
  }
  std::vector<fs::path> out;
  for (const auto& home : homes) {
    for (const auto& entry : fs::directory_iterator(home / ".mozilla" / "firefox", error)) {
      if (is_file(entry.path() / "cert9.db")) out.push_back(entry.path());
    }
    if (is_file(home / ".pki" / "nssdb" / "cert9.db")) out.push_back(home / ".pki" / "nssdb");
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_certutil_listing(const std::string& listing) {
  static const std::regex line(R"(^(.*\S)\s+([A-Za-z]*,[A-Za-z]*,[A-Za-z]*)\s*$)");
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < listing.size()) {
    size_t end = listing.find('\n', start);
    if (end == std::string::npos) end = listing.size();
    const std::string text = listing.substr(start, end - start);
    start = end + 1;
    std::smatch match;
    if (std::regex_match(text, match, line)) out.emplace_back(match[1].str(), match[2].str());
  }
  return out;
}

LocalRoots collect_local_roots(const LocalRootsOptions& options) {
  LocalRoots out;
  const fs::path& root = options.root;
  const fs::path bundle = root / "etc/ssl/certs/ca-certificates.crt";
  if (is_file(bundle)) {
    const size_t before = out.certificates.size();
    add_file(out, bundle, "openssl-bundle");
    out.sources.push_back(fmt::format("{} ({} certificates)", bundle.string(), out.certificates.size() - before));
  } else {
    out.skipped.push_back(bundle.string() + ": not there");
  }
  add_folder(out, root / "etc/ssl/certs", "openssl-directory", false, {"ca-certificates.crt"});
  add_folder(out, root / "usr/local/share/ca-certificates", "local-ca-certificates", true, {});
  if (options.p11kit) {
    if (root == "/") add_p11kit(out);
    else out.skipped.push_back("p11-kit: only the running system's configuration can be read (--root is not /)");
  }
  for (const auto& database : nss_databases(root)) add_nss(out, database);
  return out;
}

Chain anchors_beyond(const LocalRoots& roots, const TrustStore& browser) {
  Chain out;
  std::set<std::string> seen;
  for (const auto& trusted : roots.certificates) {
    if (!trusted.anchor || browser.contains(trusted.certificate)) continue;
    if (seen.insert(trusted.certificate.sha256_hex()).second) out.push_back(trusted.certificate);
  }
  return out;
}

}  // namespace mitmscope
