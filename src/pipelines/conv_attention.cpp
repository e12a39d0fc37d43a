// PLACEHOLDER: replaced by the composed pipelines.
#include "lightning_core/ops.h"
namespace lc {
Tensor conv_attention_nchw(const TensorView&, const TensorView&, const OptView&, const Conv2dParams&, bool, const Policy&) { fail<NotSupportedError>("conv_attention_nchw", "expected an implementation, got none yet"); }
Tensor conv_attention_torchstrong_nchw(const TensorView&, const TensorView&, const OptView&, std::int64_t, std::int64_t, const Conv2dParams&, bool, const Policy&) { fail<NotSupportedError>("conv_attention_torchstrong_nchw", "expected an implementation, got none yet"); }
}
