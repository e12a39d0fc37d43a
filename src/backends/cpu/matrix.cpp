// PLACEHOLDER: replaced by the real kernels of this family.
#include "backends/cpu/cpu_backend.h"
#include "lightning_core/error.h"
namespace lc::cpu {
void softmax(const backend::SoftmaxProblem&) { fail<NotSupportedError>("softmax", "expected an implemented CPU kernel, got none yet"); }
void norm(const backend::NormProblem&) { fail<NotSupportedError>("norm", "expected an implemented CPU kernel, got none yet"); }
void reduce(const backend::ReduceProblem&) { fail<NotSupportedError>("reduce", "expected an implemented CPU kernel, got none yet"); }
void transpose(const backend::TransposeProblem&) { fail<NotSupportedError>("transpose", "expected an implemented CPU kernel, got none yet"); }
}
