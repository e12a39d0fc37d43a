#include "bindings.h"

namespace lc::py {
namespace {

// The Python signatures take causal and scale as separate arguments.
Tensor attention_args(const TensorView& q, const TensorView& k, const TensorView& v, bool causal,
                      std::optional<double> scale, const Policy& policy) {
  return attention(q, k, v, AttentionParams{causal, scale}, policy);
}
void attention_into_args(const TensorView& q, const TensorView& k, const TensorView& v,
                         const TensorView& out, bool causal, std::optional<double> scale,
                         const Policy& policy) {
  attention_into(q, k, v, out, AttentionParams{causal, scale}, policy);
}
AttentionGrads attention_backward_args(const TensorView& q, const TensorView& k,
                                       const TensorView& v, const TensorView& dout, bool causal,
                                       std::optional<double> scale, const Policy& policy) {
  return attention_backward(q, k, v, dout, AttentionParams{causal, scale}, policy);
}

}  // namespace

void bind_attention(nb::module_& m) {
  m.def("attention2d", op<&attention2d>(), arr("q"), arr("k"), arr("v"), "causal"_a = false,
        LC_POLICY_ARGS,
        "attention2d(q, k, v, causal=False, device=None, policy=None) -> ndarray\n\n"
        "softmax(q k^T / sqrt(D)) v for q (Sq, D), k (Sk, D), v (Sk, Dv) -> (Sq, Dv).\n"
        "causal: query i sees keys j <= i + (Sk - Sq) (bottom-right aligned); a query that\n"
        "sees no key gives zeros. float32 (float64 too).");
  m.def("attention2d_into", op<&attention2d_into>(), arr("q"), arr("k"), arr("v"), arr("out"),
        "causal"_a = false, LC_POLICY_ARGS,
        "attention2d_into(q, k, v, out, causal=False, device=None, policy=None)\n\n"
        "attention2d written into `out` (float32, C-contiguous, exactly (Sq, Dv)).");
  m.def("attention", op<&attention_args>(), arr("q"), arr("k"), arr("v"), "causal"_a = false,
        "scale"_a = nb::none(), LC_POLICY_ARGS,
        "attention(q, k, v, causal=False, scale=None, device=None, policy=None) -> ndarray\n\n"
        "softmax(q k^T * scale) v per head: q (B, H, Sq, D), k (B, Hkv, Sk, D),\n"
        "v (B, Hkv, Sk, Dv) -> (B, H, Sq, Dv). H % Hkv == 0; head h uses kv head\n"
        "h // (H // Hkv) (GQA). scale defaults to 1/sqrt(D) and must be finite and > 0.\n"
        "causal: query i sees keys j <= i + (Sk - Sq); a query that sees no key gives zeros.");
  m.def("attention_into", op<&attention_into_args>(), arr("q"), arr("k"), arr("v"), arr("out"),
        "causal"_a = false, "scale"_a = nb::none(), LC_POLICY_ARGS,
        "attention_into(q, k, v, out, causal=False, scale=None, device=None, policy=None)\n\n"
        "attention written into `out` (float32, C-contiguous, exactly (B, H, Sq, Dv)).");
  m.def("attention_backward", op<&attention_backward_args>(), arr("q"), arr("k"), arr("v"),
        arr("dout"), "causal"_a = false, "scale"_a = nb::none(), LC_POLICY_ARGS,
        "attention_backward(q, k, v, dout, causal=False, scale=None, device=None, policy=None)\n"
        "    -> (dq, dk, dv)\n\n"
        "Gradients of sum(attention(q, k, v, causal, scale) * dout) with respect to q, k and v,\n"
        "in their shapes; with GQA, dk and dv sum over the query heads sharing each kv head.");
}

}  // namespace lc::py
