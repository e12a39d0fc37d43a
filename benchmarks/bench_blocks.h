// Transformer pieces composed from plain ops, shared by bench_transformer and bench_vlm.
// Heads without a device permute: (B,1,S,D) @ W_h (1,H,D,Dh) -> (B,H,S,Dh); the output
// projection (B,H,S,Dh) @ Wo_h (1,H,Dh,D) is summed over the heads by a (1,1,H) ones matmul.
#pragma once

#include "bench_common.h"

namespace lcb {

inline lc::Tensor ones(lc::Shape shape, const std::string& device) {
  lc::Tensor host(shape, lc::DType::f32, lc::kCpu);
  for (std::int64_t i = 0; i < host.numel(); ++i) host.data<float>()[i] = 1.0f;
  return device == "cpu" ? host : host.to(device);
}

struct BlockWeights {
  std::int64_t d = 0, heads = 0;
  lc::Tensor ln1_w, ln1_b, wq_h, wk_h, wv_h, wo_h, ones_h, bo, ln2_w, ln2_b, w1, b1, w2, b2;
};

inline BlockWeights block_weights(std::int64_t d, std::int64_t heads, const std::string& dev) {
  const std::int64_t dh = d / heads;
  const float s = 1.0f / std::sqrt(static_cast<float>(d));
  BlockWeights w;
  w.d = d;
  w.heads = heads;
  w.ln1_w = randn({d}, dev, 1.0f, 11);
  w.ln1_b = randn({d}, dev, 1.0f, 12);
  w.wq_h = randn({1, heads, d, dh}, dev, s, 13);
  w.wk_h = randn({1, heads, d, dh}, dev, s, 14);
  w.wv_h = randn({1, heads, d, dh}, dev, s, 15);
  w.wo_h = randn({1, heads, dh, d}, dev, s, 16);
  w.ones_h = ones({1, 1, heads}, dev);
  w.bo = randn({d}, dev, 1.0f, 17);
  w.ln2_w = randn({d}, dev, 1.0f, 18);
  w.ln2_b = randn({d}, dev, 1.0f, 19);
  w.w1 = weight(4 * d, d, dev, 20);
  w.b1 = randn({4 * d}, dev, 1.0f, 21);
  w.w2 = weight(d, 4 * d, dev, 22);
  w.b2 = randn({d}, dev, 1.0f, 23);
  return w;
}

inline lc::Tensor add(const lc::TensorView& a, const lc::TensorView& b, const lc::Policy& pol) {
  return lc::binary(lc::BinaryOp::add, a, b, pol);
}

// (B,H,Sq,Dh) attention output -> (B,Sq,D), projected and summed over the heads.
inline lc::Tensor heads_out(const BlockWeights& w, const lc::Tensor& o, const lc::Policy& pol) {
  const auto b = o.shape()[0], s = o.shape()[2];
  lc::Tensor pr = lc::matmul(o, w.wo_h, pol);  // (B,H,S,D)
  return lc::matmul(w.ones_h, pr.reshape({b, w.heads, s * w.d}), pol).reshape({b, s, w.d});
}

// h + FFN(LN(h)) with the GELU epilogue.
inline lc::Tensor ffn_residual(const BlockWeights& w, const lc::Tensor& h, const lc::Policy& pol) {
  lc::Tensor hn = lc::layer_norm(h, w.ln2_w.view(), w.ln2_b.view(), 1e-5, pol);
  lc::Tensor f = lc::linear(hn, w.w1, w.b1.view(), lc::Activation::gelu, pol);
  return add(h, lc::linear(f, w.w2, w.b2.view(), lc::Activation::none, pol), pol);
}

// Pre-norm attention sub-block: x + proj(attention(LN(x) Wq, kv Wk, kv Wv)); kv = LN(x) when null.
inline lc::Tensor attention_residual(const BlockWeights& w, const lc::Tensor& x,
                                     const lc::Tensor* kv, bool causal, const lc::Policy& pol) {
  const auto b = x.shape()[0], s = x.shape()[1];
  lc::Tensor xn =
      lc::layer_norm(x, w.ln1_w.view(), w.ln1_b.view(), 1e-5, pol).reshape({b, 1, s, w.d});
  const lc::Tensor& src = kv ? *kv : xn;
  lc::AttentionParams ap;
  ap.causal = causal;
  lc::Tensor o = lc::attention(lc::matmul(xn, w.wq_h, pol), lc::matmul(src, w.wk_h, pol),
                               lc::matmul(src, w.wv_h, pol), ap, pol);
  return add(add(x, heads_out(w, o, pol), pol), w.bo, pol);
}

}  // namespace lcb
