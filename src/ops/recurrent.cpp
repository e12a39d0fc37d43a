// PLACEHOLDER: replaced by the real front-ends of this family.
#include "lightning_core/ops.h"
#define PENDING(n) fail<NotSupportedError>(n, "expected an implemented op, got none yet")
namespace lc {
LstmState lstm_cell(const TensorView&, const TensorView&, const TensorView&, const TensorView&, const TensorView&, const OptView&, const OptView&, const Policy&) { PENDING("lstm_cell"); }
LstmResult lstm(const TensorView&, const TensorView&, const TensorView&, const TensorView&, const TensorView&, const OptView&, const OptView&, const Policy&) { PENDING("lstm"); }
Tensor gru_cell(const TensorView&, const TensorView&, const TensorView&, const TensorView&, const OptView&, const OptView&, const Policy&) { PENDING("gru_cell"); }
}
