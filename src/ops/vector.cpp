// PLACEHOLDER: replaced by the real front-ends of this family.
#include "lightning_core/ops.h"
#define PENDING(n) fail<NotSupportedError>(n, "expected an implemented op, got none yet")
namespace lc {
Tensor unary(UnaryOp, const TensorView&, const Policy&) { PENDING("unary"); }
void unary_into(UnaryOp, const TensorView&, const TensorView&, const Policy&) { PENDING("unary_into"); }
Tensor binary(BinaryOp, const TensorView&, const TensorView&, const Policy&) { PENDING("binary"); }
void binary_into(BinaryOp, const TensorView&, const TensorView&, const TensorView&, const Policy&) { PENDING("binary_into"); }
Tensor axpy(double, const TensorView&, const TensorView&, const Policy&) { PENDING("axpy"); }
void axpy_into(double, const TensorView&, const TensorView&, const TensorView&, const Policy&) { PENDING("axpy_into"); }
Tensor scale(const TensorView&, double, const Policy&) { PENDING("scale"); }
void scale_into(const TensorView&, double, const TensorView&, const Policy&) { PENDING("scale_into"); }
const char* unary_name(UnaryOp) { return "unary"; }
const char* binary_name(BinaryOp) { return "binary"; }
}
