// The generic copy of the measurement walk (see measurement_walk.inc).
#define MITMSCOPE_WALKER_NAMESPACE generic
#include "ooni/measurement_walk.inc"
