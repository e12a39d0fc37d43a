// PLACEHOLDER: replaced by the real front-ends of this family.
#include "lightning_core/ops.h"
#define PENDING(n) fail<NotSupportedError>(n, "expected an implemented op, got none yet")
namespace lc {
Tensor transpose(const TensorView&, const Policy&) { PENDING("transpose"); }
void transpose_into(const TensorView&, const TensorView&, const Policy&) { PENDING("transpose_into"); }
Tensor softmax(const TensorView&, const Policy&) { PENDING("softmax"); }
void softmax_into(const TensorView&, const TensorView&, const Policy&) { PENDING("softmax_into"); }
Tensor log_softmax(const TensorView&, const Policy&) { PENDING("log_softmax"); }
void log_softmax_into(const TensorView&, const TensorView&, const Policy&) { PENDING("log_softmax_into"); }
Tensor layer_norm(const TensorView&, const OptView&, const OptView&, double, const Policy&) { PENDING("layer_norm"); }
void layer_norm_into(const TensorView&, const OptView&, const OptView&, const TensorView&, double, const Policy&) { PENDING("layer_norm_into"); }
Tensor rms_norm(const TensorView&, const OptView&, double, const Policy&) { PENDING("rms_norm"); }
void rms_norm_into(const TensorView&, const OptView&, const TensorView&, double, const Policy&) { PENDING("rms_norm_into"); }
Tensor reduce(ReduceOp, const TensorView&, const Policy&) { PENDING("reduce"); }
void reduce_into(ReduceOp, const TensorView&, const TensorView&, const Policy&) { PENDING("reduce_into"); }
}
