#include "x509/issuer_index.h"

#include <algorithm>

namespace mitmscope {
namespace {

std::string key_id_text(const std::vector<uint8_t>& key_id) { return std::string(key_id.begin(), key_id.end()); }

}  // namespace

void IssuerIndex::add(uint32_t id, const Certificate& ca) {
  if (auto key_id = ca.subject_key_id()) by_key_id_[key_id_text(*key_id)].push_back(id);
  by_name_[ca.subject_name_hash()].push_back(id);
  ++size_;
}

std::vector<uint32_t> IssuerIndex::candidates(const Certificate& certificate) const {
  std::vector<uint32_t> out;
  if (auto key_id = certificate.authority_key_id()) {
    if (auto found = by_key_id_.find(key_id_text(*key_id)); found != by_key_id_.end()) out = found->second;
  }
  if (auto found = by_name_.find(certificate.issuer_name_hash()); found != by_name_.end()) {
    out.insert(out.end(), found->second.begin(), found->second.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace mitmscope
