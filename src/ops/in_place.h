// In-place support for the elementwise and row-wise front-ends: an input that is exactly the
// output (same memory, shape and strides) is used as is; one that only partly overlaps the
// output is still copied first by OpContext::stage.
#pragma once

#include <cstddef>

#include "ops/op_context.h"

namespace lc::ops {

inline bool is_output(const TensorView& v, const TensorView& out) {
  return v.data == out.data && v.device == out.device && v.dtype == out.dtype &&
         v.shape == out.shape && v.strides == out.strides;
}

// Stages in[i] into staged[i]; call it after staging every other input (it allows aliasing
// for the rest of the op).
template <std::size_t N>
void stage_in_place(OpContext& ctx, const TensorView& out, const TensorView* const (&in)[N],
                    TensorView (&staged)[N]) {
  bool same[N];
  for (std::size_t i = 0; i < N; ++i) {
    same[i] = is_output(*in[i], out);
    if (!same[i]) staged[i] = ctx.stage(*in[i]);
  }
  ctx.allow_aliasing();
  for (std::size_t i = 0; i < N; ++i)
    if (same[i]) staged[i] = ctx.stage(*in[i]);
}

}  // namespace lc::ops
