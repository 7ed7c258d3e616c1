// The instruction-set-specific half of MeasurementReader (ooni/measurement_walk.inc).
#pragma once

#include <memory>

#include "core/error.h"
#include "ooni/measurement.h"

namespace mitmscope::ooni {

class MeasurementWalker {
 public:
  virtual ~MeasurementWalker() = default;
  // Fills `facts` (cleared by the caller) from one JSON document.
  virtual Result<void> read(const char* json, size_t length, size_t capacity, MeasurementFacts& facts) = 0;
};

namespace haswell {
std::unique_ptr<MeasurementWalker> make_walker();
}
namespace generic {
std::unique_ptr<MeasurementWalker> make_walker();
}

}  // namespace mitmscope::ooni
