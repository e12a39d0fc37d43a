// PLACEHOLDER: replaced by the real front-ends of this family.
#include "lightning_core/ops.h"
#define PENDING(n) fail<NotSupportedError>(n, "expected an implemented op, got none yet")
namespace lc {
Tensor attention2d(const TensorView&, const TensorView&, const TensorView&, bool, const Policy&) { PENDING("attention2d"); }
void attention2d_into(const TensorView&, const TensorView&, const TensorView&, const TensorView&, bool, const Policy&) { PENDING("attention2d_into"); }
Tensor attention(const TensorView&, const TensorView&, const TensorView&, const AttentionParams&, const Policy&) { PENDING("attention"); }
void attention_into(const TensorView&, const TensorView&, const TensorView&, const TensorView&, const AttentionParams&, const Policy&) { PENDING("attention_into"); }
AttentionGrads attention_backward(const TensorView&, const TensorView&, const TensorView&, const TensorView&, const AttentionParams&, const Policy&) { PENDING("attention_backward"); }
}
