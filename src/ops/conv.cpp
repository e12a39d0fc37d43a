// PLACEHOLDER: replaced by the real front-ends of this family.
#include "lightning_core/ops.h"
#define PENDING(n) fail<NotSupportedError>(n, "expected an implemented op, got none yet")
namespace lc {
Tensor conv2d_nchw(const TensorView&, const TensorView&, const OptView&, const Conv2dParams&, const Policy&) { PENDING("conv2d_nchw"); }
void conv2d_nchw_into(const TensorView&, const TensorView&, const OptView&, const TensorView&, const Conv2dParams&, const Policy&) { PENDING("conv2d_nchw_into"); }
Tensor max_pool2d(const TensorView&, const Pool2dParams&, const Policy&) { PENDING("max_pool2d"); }
void max_pool2d_into(const TensorView&, const TensorView&, const Pool2dParams&, const Policy&) { PENDING("max_pool2d_into"); }
Tensor avg_pool2d(const TensorView&, const Pool2dParams&, const Policy&) { PENDING("avg_pool2d"); }
void avg_pool2d_into(const TensorView&, const TensorView&, const Pool2dParams&, const Policy&) { PENDING("avg_pool2d_into"); }
}
