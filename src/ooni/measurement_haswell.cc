// The haswell copy of the measurement walk (see measurement_walk.inc).
#define MITMSCOPE_WALKER_NAMESPACE haswell
#include "ooni/measurement_walk.inc"
