#include "lab/scenario.h"

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mitmscope::lab {
namespace {

nlohmann::json kz_2019() {
  std::ifstream file(std::string(MITMSCOPE_SOURCE_DIR) + "/data/scenarios/kz-2019.json");
  return nlohmann::json::parse(file);
}

// Found by the scenario fuzzer: "issuer": "..." made nlohmann's value() throw through the parser (an abort).
// Every member that must be an object or a list is now checked, and the error names it.
TEST(ScenarioParser, AMemberOfTheWrongTypeIsANamedErrorNotAnException) {
  ASSERT_TRUE(parse_scenario(kz_2019().dump(), "kz-2019.json")) << "the real scenario parses";
  const std::vector<std::pair<nlohmann::json::json_pointer, std::string>> cases = {
      {nlohmann::json::json_pointer("/issuer"), "'issuer'"},
      {nlohmann::json::json_pointer("/interceptor"), "'interceptor'"},
      {nlohmann::json::json_pointer("/forging"), "'forging'"},
      {nlohmann::json::json_pointer("/schedule"), "'schedule'"},
      {nlohmann::json::json_pointer("/ases"), "'ases'"},
      {nlohmann::json::json_pointer("/ases/0/prefixes"), "'ases[0].prefixes'"},
  };
  for (const auto& [pointer, named] : cases) {
    auto document = kz_2019();
    document[pointer] = "a string";
    auto parsed = parse_scenario(document.dump(), "bad.json");
    ASSERT_FALSE(parsed) << pointer.to_string();
    EXPECT_NE(parsed.error().message.find(named), std::string::npos) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find("bad.json"), std::string::npos) << parsed.error().message;
  }
}

// Found by the scenario fuzzer's deep run: a number beyond a double ("11E888") made nlohmann throw out_of_range, which
// the parser did not catch (it caught syntax errors only).
TEST(ScenarioParser, ANumberBeyondADoubleIsInvalidJsonNotAnException) {
  for (const char* text : {"11E888", "{\"routers\": 1E09595}"}) {
    auto parsed = parse_scenario(text, "huge.json");
    ASSERT_FALSE(parsed) << text;
    EXPECT_NE(parsed.error().message.find("huge.json: not valid JSON"), std::string::npos) << parsed.error().message;
  }
}

}  // namespace
}  // namespace mitmscope::lab
