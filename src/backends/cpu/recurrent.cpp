// Pointwise LSTM/GRU cells on precomputed gate pre-activations (PyTorch gate order). The GEMMs
// that produce the gates are the front-end's; these loops are O(B*H) and vectorise per row.
#include <algorithm>
#include <cstdint>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/simd_pack.h"
#include "backends/cpu/thread_pool.h"

namespace lc::cpu {
namespace {

namespace s = simd;

// Below this many cell elements one thread does it all (a step of a small LSTM is a few us).
constexpr std::int64_t kParallelElems = 1 << 15;

template <class V>
inline V sigmoid(V x) {
  using T = s::elem_t<V>;
  return T(1) / (s::exp<V>(-x) + T(1));  // exp(-x) = inf gives 0, NaN stays NaN
}

// Runs body(j, lanes) over [0, n) in full packs of V, then one partial pack.
template <class V, class Body>
inline void for_lanes(std::int64_t n, Body&& body) {
  constexpr int L = s::lanes_v<V>;
  std::int64_t j = 0;
  for (; j + L <= n; j += L) body(j, L);
  if (j < n) body(j, static_cast<int>(n - j));
}

template <class V>
inline V ld(const s::elem_t<V>* p, int n) {
  return n == s::lanes_v<V> ? s::load<V>(p) : s::load_partial<V>(p, n);
}
template <class V>
inline void st(s::elem_t<V>* p, V v, int n) {
  if (n == s::lanes_v<V>)
    s::store<V>(p, v);
  else
    s::store_partial<V>(p, v, n);
}

// gates (4H) = gx + gh, split i,f,g,o; c' = f*c + i*g; h' = o*tanh(c').
template <class T>
void lstm_rows(const backend::LstmCellProblem& p, std::int64_t r0, std::int64_t r1) {
  using V = s::vec<T>;
  const std::int64_t H = p.c.shape[1];
  for (std::int64_t r = r0; r < r1; ++r) {
    const T* gx = p.gates_x.ptr<T>() + r * 4 * H;
    const T* gh = p.gates_h.ptr<T>() + r * 4 * H;
    const T* c = p.c.ptr<T>() + r * H;
    T* h_out = p.h_out.ptr<T>() + r * H;
    T* c_out = p.c_out.ptr<T>() + r * H;
    for_lanes<V>(H, [&](std::int64_t j, int n) {
      const V i = sigmoid<V>(ld<V>(gx + j, n) + ld<V>(gh + j, n));
      const V f = sigmoid<V>(ld<V>(gx + H + j, n) + ld<V>(gh + H + j, n));
      const V g = s::tanh<V>(ld<V>(gx + 2 * H + j, n) + ld<V>(gh + 2 * H + j, n));
      const V o = sigmoid<V>(ld<V>(gx + 3 * H + j, n) + ld<V>(gh + 3 * H + j, n));
      const V c_new = f * ld<V>(c + j, n) + i * g;
      st<V>(c_out + j, c_new, n);
      st<V>(h_out + j, o * s::tanh<V>(c_new), n);
    });
  }
}

// gates (3H), r,z,n: r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r*h_n) (the biases are
// already inside x_* and h_*, so b_hn sits inside r's product as torch.nn.GRUCell has it);
// h' = (1 - z)*n + z*h.
template <class T>
void gru_rows(const backend::GruCellProblem& p, std::int64_t r0, std::int64_t r1) {
  using V = s::vec<T>;
  const std::int64_t H = p.h.shape[1];
  for (std::int64_t r = r0; r < r1; ++r) {
    const T* gx = p.gates_x.ptr<T>() + r * 3 * H;
    const T* gh = p.gates_h.ptr<T>() + r * 3 * H;
    const T* h = p.h.ptr<T>() + r * H;
    T* h_out = p.h_out.ptr<T>() + r * H;
    for_lanes<V>(H, [&](std::int64_t j, int n) {
      const V rg = sigmoid<V>(ld<V>(gx + j, n) + ld<V>(gh + j, n));
      const V z = sigmoid<V>(ld<V>(gx + H + j, n) + ld<V>(gh + H + j, n));
      const V ng = s::tanh<V>(ld<V>(gx + 2 * H + j, n) + rg * ld<V>(gh + 2 * H + j, n));
      st<V>(h_out + j, (T(1) - z) * ng + z * ld<V>(h + j, n), n);
    });
  }
}

// Rows in parallel once the cell is large enough to pay for the threads.
template <class Fn>
void over_rows(std::int64_t rows, std::int64_t cols, Fn&& fn) {
  if (rows * cols < kParallelElems) {
    fn(0, rows);
    return;
  }
  const std::int64_t grain =
      std::max<std::int64_t>(1, kParallelElems / 4 / std::max<std::int64_t>(cols, 1));
  parallel_for(rows, grain, fn);
}

}  // namespace

void lstm_cell(const backend::LstmCellProblem& p) {
  dispatch_float(p.c.dtype, [&](auto tag) {
    using T = decltype(tag);
    over_rows(p.c.shape[0], p.c.shape[1],
              [&](std::int64_t r0, std::int64_t r1) { lstm_rows<T>(p, r0, r1); });
  });
}

void gru_cell(const backend::GruCellProblem& p) {
  dispatch_float(p.h.dtype, [&](auto tag) {
    using T = decltype(tag);
    over_rows(p.h.shape[0], p.h.shape[1],
              [&](std::int64_t r0, std::int64_t r1) { gru_rows<T>(p, r0, r1); });
  });
}

}  // namespace lc::cpu
