// libFuzzer: the lab's scenario parser and planner, on scenario files written by users.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lab/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto scenario = mitmscope::lab::parse_scenario(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  // Planning a parsed scenario must be bounded too (host counts are scaled to a small size).
  if (scenario) (void)mitmscope::lab::plan_scenario(*scenario, 64);
  return 0;
}
