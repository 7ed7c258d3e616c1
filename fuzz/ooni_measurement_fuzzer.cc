// libFuzzer: the OONI measurement mapper (simdjson On Demand walk) and the analysis of what it
// maps, on one line of a measurement file (data produced by millions of devices).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "ooni/analysis.h"
#include "ooni/measurement.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto trust = mitmscope::TrustStore::from_certificates({}, "fuzz").value();
  // No registry entries: attributing the registry's own certificates at every finish() would dominate
  // the run; the certificate harness covers attribution.
  static const mitmscope::InterceptorRegistry registry;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string padded = text + std::string(mitmscope::ooni::MeasurementReader::kPadding, ' ');
  static mitmscope::ooni::MeasurementReader reader;
  mitmscope::ooni::MeasurementFacts facts;
  (void)reader.read(padded.data(), text.size(), padded.size(), facts);
  // The whole path, blocks and judgement included: the input as a one-line file.
  mitmscope::ooni::Analyzer analyzer(trust, registry, {}, {"fuzz.jsonl"}, 1);
  mitmscope::ooni::Block block;
  block.data = text + "\n" + std::string(mitmscope::ooni::kBlockPadding, ' ');
  block.size = text.size() + 1;
  analyzer.consume(block, 0);
  auto result = analyzer.finish();
  for (const auto& judged : result.judged) (void)mitmscope::ooni::judged_reasons(result, judged);
  (void)mitmscope::ooni::url_host(text);
  return 0;
}
