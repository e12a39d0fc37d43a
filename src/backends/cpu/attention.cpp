// PLACEHOLDER: replaced by the real kernels of this family.
#include "backends/cpu/cpu_backend.h"
#include "lightning_core/error.h"
namespace lc::cpu {
void attention(const backend::AttentionProblem&) { fail<NotSupportedError>("attention", "expected an implemented CPU kernel, got none yet"); }
void attention_backward(const backend::AttentionBackwardProblem&) { fail<NotSupportedError>("attention_backward", "expected an implemented CPU kernel, got none yet"); }
}
