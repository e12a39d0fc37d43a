// PLACEHOLDER: replaced by the real kernels of this family.
#include "backends/cpu/cpu_backend.h"
#include "lightning_core/error.h"
namespace lc::cpu {
void unary(const backend::UnaryProblem&) { fail<NotSupportedError>("unary", "expected an implemented CPU kernel, got none yet"); }
void binary(const backend::BinaryProblem&) { fail<NotSupportedError>("binary", "expected an implemented CPU kernel, got none yet"); }
void axpy(const backend::AxpyProblem&) { fail<NotSupportedError>("axpy", "expected an implemented CPU kernel, got none yet"); }
}
