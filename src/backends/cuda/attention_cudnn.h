// cuDNN fused flash attention, the second bf16/fp16 forward variant (attention_cudnn.cpp; the
// 16-bit packing in attention_cudnn_io.cu). Host-only header; present with or without cuDNN.
#pragma once

#include <cstdint>

namespace lc::cuda {

struct Context;
struct AttnFwdArgs;
struct AttnBwdArgs;

// cuDNN >= 9 is loaded and the device runs its fused attention (sm80+). Without LC_HAVE_CUDNN:
// false.
bool cudnn_attention_available(const Context& ctx);

// out (and lse2 when asked) through cuDNN's fused flash attention on 16-bit copies of Q/K/V.
// Returns false when cuDNN refuses the shape (remembered per shape; the caller runs its own
// kernel), or throws NotSupportedError with cuDNN's reason when `required`.
bool run_attention_forward_cudnn(Context& ctx, const AttnFwdArgs& a, bool required);

// dq/dk/dv through cuDNN's fused attention backward (its forward first, for O and Stats), on
// 16-bit copies of Q/K/V/dO. Returns false when cuDNN refuses either graph (remembered; the
// caller runs its own kernels), or throws NotSupportedError with the reason when `required`.
bool run_attention_backward_cudnn(Context& ctx, const AttnBwdArgs& a, bool required);

// attention_cudnn_io.cu: Q/K into [rows, D] and V into [rows, Dv] dense 16-bit copies (D, Dv
// multiples of 8), rounded to nearest even as the precision asks.
void attention_pack16_dense(Context& ctx, const AttnFwdArgs& a, void* q16, void* k16, void* v16);
// dst (rows, d) 16-bit <- src (rows, d) fp32 (d a multiple of 8).
void attention_pack16_rows(Context& ctx, const float* src, void* dst, std::int64_t rows, int d,
                           bool fp16);
// dst[i] = float(src[i]) for n bf16 (or fp16) values.
void attention_unpack16(Context& ctx, const void* src, float* dst, std::int64_t n, bool fp16);

}  // namespace lc::cuda
