// A host's template (the Hyperquack method): what the host answers to control SNIs,
// random names no censor targets. A test domain's answer that matches the template is
// not an anomaly; one that differs is, and the differences are named.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/observation.h"

namespace mitmscope {

// The parts of an answer compared with the template.
struct AnswerShape {
  std::string leaf_sha256;
  uint16_t version = 0;
  uint16_t cipher_suite = 0;
  std::vector<uint16_t> extensions;
  bool operator==(const AnswerShape&) const = default;
};

std::optional<AnswerShape> answer_shape(const Observation& observation);

class HostTemplate {
 public:
  // From the successful control observations; nullopt when none succeeded.
  static std::optional<HostTemplate> build(const std::vector<Observation>& controls);

  bool matches(const Observation& observation) const;
  // Why an observation does not match: "certificate differs", "TLS version differs", ...
  std::vector<std::string> differences(const Observation& observation) const;

  const std::string& id() const { return id_; }  // short hash of the accepted answers
  const std::vector<std::vector<uint8_t>>& genuine_chain() const { return genuine_chain_; }
  const std::vector<AnswerShape>& answers() const { return answers_; }

 private:
  std::vector<AnswerShape> answers_;
  std::vector<std::vector<uint8_t>> genuine_chain_;
  std::string id_;
};

// A random control name: "control-<16 hex>.com".
std::string random_control_name(uint64_t& state);

}  // namespace mitmscope
