#include "detect/host_template.h"

#include <algorithm>

#include <openssl/sha.h>

#include <fmt/format.h>

#include "core/hex.h"

namespace mitmscope {

std::optional<AnswerShape> answer_shape(const Observation& observation) {
  if (observation.error || observation.chain_der.empty() || !observation.server_hello) return std::nullopt;
  AnswerShape shape;
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(observation.chain_der.front().data(), observation.chain_der.front().size(), digest);
  shape.leaf_sha256 = to_hex(digest);
  shape.version = observation.server_hello->selected_version;
  shape.cipher_suite = observation.server_hello->cipher_suite;
  for (const auto& extension : observation.server_hello->extensions) shape.extensions.push_back(extension.type);
  return shape;
}

std::optional<HostTemplate> HostTemplate::build(const std::vector<Observation>& controls) {
  HostTemplate result;
  for (const auto& control : controls) {
    auto shape = answer_shape(control);
    if (!shape) continue;
    if (result.answers_.empty()) result.genuine_chain_ = control.chain_der;
    if (std::find(result.answers_.begin(), result.answers_.end(), *shape) == result.answers_.end()) {
      result.answers_.push_back(std::move(*shape));
    }
  }
  if (result.answers_.empty()) return std::nullopt;
  std::string text;
  for (const auto& answer : result.answers_) {
    text += fmt::format("{}/{}/{}/", answer.leaf_sha256, answer.version, answer.cipher_suite);
    for (uint16_t extension : answer.extensions) text += fmt::format("{},", extension);
    text += ";";
  }
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest);
  result.id_ = to_hex(digest).substr(0, 16);
  return result;
}

bool HostTemplate::matches(const Observation& observation) const {
  const auto shape = answer_shape(observation);
  return shape && std::find(answers_.begin(), answers_.end(), *shape) != answers_.end();
}

std::vector<std::string> HostTemplate::differences(const Observation& observation) const {
  if (observation.error) {
    return {fmt::format("{}: {}", error_code_name(observation.error->code), observation.error->message)};
  }
  const auto shape = answer_shape(observation);
  if (!shape) return {"no certificate or ServerHello"};
  // Named against the first accepted answer (the template's main one).
  const auto& expected = answers_.front();
  std::vector<std::string> out;
  if (shape->leaf_sha256 != expected.leaf_sha256) out.push_back("certificate differs");
  if (shape->version != expected.version) out.push_back("TLS version differs");
  if (shape->cipher_suite != expected.cipher_suite) out.push_back("cipher suite differs");
  if (shape->extensions != expected.extensions) out.push_back("ServerHello extensions differ");
  if (out.empty()) out.push_back("answer differs from every control answer");
  return out;
}

std::string random_control_name(uint64_t& state) {
  // splitmix64: deterministic for a seed, so runs can be repeated.
  state += 0x9e3779b97f4a7c15ull;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return fmt::format("control-{:016x}.com", z);
}

}  // namespace mitmscope
