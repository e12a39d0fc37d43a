// PLACEHOLDER: replaced by the real kernels of this family.
#include "backends/cpu/cpu_backend.h"
#include "lightning_core/error.h"
namespace lc::cpu {
void conv2d(const backend::Conv2dProblem&) { fail<NotSupportedError>("conv2d", "expected an implemented CPU kernel, got none yet"); }
void pool2d(const backend::Pool2dProblem&) { fail<NotSupportedError>("pool2d", "expected an implemented CPU kernel, got none yet"); }
}
