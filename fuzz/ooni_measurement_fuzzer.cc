// libFuzzer: the OONI measurement mapper (simdjson On Demand walk), the readers of the other public sources
// (the analyzer recognises a record's source by its fields), and the analysis of what they map, on one line
// of a measurement file (data produced by millions of devices).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "ooni/analysis.h"
#include "ooni/measurement.h"

namespace {

// The input followed by `padding` spaces, in a buffer kept from run to run (no allocation per input).
void pad_into(std::string& buffer, const uint8_t* data, size_t size, size_t extra, size_t padding) {
  buffer.resize(size + extra + padding);
  std::memcpy(buffer.data(), data, size);
  std::memset(buffer.data() + size, extra ? '\n' : ' ', extra);
  std::memset(buffer.data() + size + extra, ' ', padding);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto trust = mitmscope::TrustStore::from_certificates({}, "fuzz").value();
  // No registry entries: attributing the registry's own certificates at every finish() would dominate
  // the run; the certificate harness covers attribution.
  static const mitmscope::InterceptorRegistry registry;
  static mitmscope::ooni::MeasurementReader reader;
  static std::string padded;
  pad_into(padded, data, size, 0, mitmscope::ooni::MeasurementReader::kPadding);
  mitmscope::ooni::MeasurementFacts facts;
  (void)reader.read(padded.data(), size, padded.size(), facts);
  // The whole path, blocks and judgement included: the input as a one-line file.
  mitmscope::ooni::Analyzer analyzer(trust, registry, {}, {"fuzz.jsonl"}, 1);
  mitmscope::ooni::Block block;
  pad_into(block.data, data, size, 1, mitmscope::ooni::kBlockPadding);
  block.size = size + 1;
  analyzer.consume(block, 0);
  auto result = analyzer.finish();
  for (const auto& judged : result.judged) (void)mitmscope::ooni::judged_reasons(result, judged);
  (void)mitmscope::ooni::url_host(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
