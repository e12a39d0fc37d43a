// CPU attention, backward. A forward pass keeps each row's log-sum-exp; the probabilities are
// then recomputed tile by tile: P = exp(S - lse), dV = P^T dO, dP = dO V^T,
// dS = P (dP - rowsum(dO O)), dQ = scale dS K, dK = scale dS^T Q.
// Two passes so that every output row has one owner (no atomics, the same result on any
// number of threads): key tiles own dK/dV and sum the query heads sharing them (GQA); query
// tiles own dQ. The score and dP tiles are computed in both passes.
#include <cmath>

#include "backends/cpu/attention_tile.h"
#include "backends/cpu/cpu_backend.h"

namespace lc::cpu {
namespace attn {
namespace {

template <class T>
struct Backward {
  Geometry g;
  const T *q, *k, *v, *dout;  // (B,H,Sq,D), (B,Hkv,Sk,D), (B,Hkv,Sk,Dv), (B,H,Sq,Dv)
  const T *lse, *delta;       // (B,H,Sq)
  const KeysT<T>*kt, *vt;     // k and v transposed per kv head
  T *dq, *dk, *dv;
};

// P and dS (rows, kBlockK) of query rows [i0, i0 + rows) of head bh against keys
// [j0, j0 + nk), zero where masked. visible[r]: the keys of the tile row r sees. Returns
// whether every row sees every key.
template <class T>
bool grad_tile(const Backward<T>& a, int64_t bh, int64_t bkv, int64_t i0, int64_t rows, int64_t j0,
               int64_t nk, T* p, T* ds, int64_t* visible) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  const Geometry& g = a.g;
  const Mask mask = g.mask();
  const int64_t width = round_up(nk, L);
  const T* q = a.q + (bh * g.sq + i0) * g.d;
  const T* dout = a.dout + (bh * g.sq + i0) * g.dv;
  gemm_tile(rows, width, g.d, q, g.d, 1, a.kt->data.data() + bkv * g.d * a.kt->ld + j0, a.kt->ld, p,
            kBlockK, false);  // S
  gemm_tile(rows, width, g.dv, dout, g.dv, 1, a.vt->data.data() + bkv * g.dv * a.vt->ld + j0,
            a.vt->ld, ds, kBlockK, false);  // dP
  const T scale = static_cast<T>(g.scale);
  const V iota = lane_index<T>();
  bool full = true;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = std::clamp<int64_t>(mask.end(i0 + r) - j0, 0, nk);
    visible[r] = n;
    full = full && n == nk;
    const V lse = broadcast<V>(a.lse[bh * g.sq + i0 + r]);
    const V delta = broadcast<V>(a.delta[bh * g.sq + i0 + r]);
    for (int64_t c = 0; c < width; c += L) {
      T* pr = p + r * kBlockK + c;
      T* dr = ds + r * kBlockK + c;
      const auto in = iota < broadcast<V>(static_cast<T>(n - c));
      const V pv = simd::select<V>(in, simd::exp<V>(simd::load<V>(pr) * scale - lse), V{});
      simd::store(pr, pv);
      simd::store(dr, simd::select<V>(in, pv * (simd::load<V>(dr) - delta), V{}));
    }
  }
  return full;
}

// dK, dV rows [j0, j0 + nk) of kv head bkv, over every query head of its group.
template <class T>
void key_tile(const Backward<T>& a, int64_t bkv, int64_t j0, int64_t nk) {
  const Geometry& g = a.g;
  const Mask mask = g.mask();
  const int64_t D = g.d, Dv = g.dv;
  // P | dS (kBlockQ,kBlockK) | dK (kBlockK,D) | dV (kBlockK,Dv) accumulators
  Workspace<T> ws(static_cast<std::size_t>(2 * kBlockQ * kBlockK + kBlockK * (D + Dv)));
  T* p = ws.data();
  T* ds = p + kBlockQ * kBlockK;
  T* dk = ds + kBlockQ * kBlockK;
  T* dv = dk + kBlockK * D;
  std::fill(dk, dk + nk * D, T(0));
  std::fill(dv, dv + nk * Dv, T(0));
  int64_t visible[kBlockQ];
  const int64_t first = mask.first_query(j0) / kBlockQ * kBlockQ;  // earlier tiles see none
  const int64_t b = bkv / g.hkv, hk = bkv % g.hkv;
  for (int64_t hh = 0; hh < g.group(); ++hh) {
    const int64_t bh = b * g.h + hk * g.group() + hh;
    for (int64_t i0 = first; i0 < g.sq; i0 += kBlockQ) {
      const int64_t rows = std::min(kBlockQ, g.sq - i0);
      const bool full = grad_tile(a, bh, bkv, i0, rows, j0, nk, p, ds, visible);
      const T* q = a.q + (bh * g.sq + i0) * D;
      const T* dout = a.dout + (bh * g.sq + i0) * Dv;
      if (full || !g.exact_mask) {                                       // masked P and dS are zero
        gemm_tile(nk, Dv, rows, p, 1, kBlockK, dout, Dv, dv, Dv, true);  // P^T dO
        gemm_tile(nk, D, rows, ds, 1, kBlockK, q, D, dk, D, true);       // dS^T Q
        continue;
      }
      // The causal diagonal: key j takes only the rows that see it (a suffix of the tile).
      for (int64_t j = 0; j < nk; ++j) {
        const int64_t r0 = std::clamp<int64_t>(mask.first_query(j0 + j) - i0, 0, rows);
        if (r0 == rows) continue;
        gemm_tile<T>(1, Dv, rows - r0, p + r0 * kBlockK + j, 1, kBlockK, dout + r0 * Dv, Dv,
                     dv + j * Dv, Dv, true);
        gemm_tile<T>(1, D, rows - r0, ds + r0 * kBlockK + j, 1, kBlockK, q + r0 * D, D, dk + j * D,
                     D, true);
      }
    }
  }
  const T scale = static_cast<T>(g.scale);
  T* dk_out = a.dk + (bkv * g.sk + j0) * D;
  for (int64_t i = 0; i < nk * D; ++i) dk_out[i] = dk[i] * scale;
  std::copy(dv, dv + nk * Dv, a.dv + (bkv * g.sk + j0) * Dv);
}

// dQ rows [i0, i0 + rows) of query head bh.
template <class T>
void query_tile(const Backward<T>& a, int64_t bh, int64_t i0, int64_t rows) {
  const Geometry& g = a.g;
  const int64_t D = g.d;
  const int64_t bkv = bh / g.h * g.hkv + bh % g.h / g.group();
  // P | dS (kBlockQ,kBlockK) | dQ accumulators (kBlockQ,D)
  Workspace<T> ws(static_cast<std::size_t>(2 * kBlockQ * kBlockK + kBlockQ * D));
  T* p = ws.data();
  T* ds = p + kBlockQ * kBlockK;
  T* dq = ds + kBlockQ * kBlockK;
  std::fill(dq, dq + rows * D, T(0));
  int64_t visible[kBlockQ];
  const int64_t kend = g.mask().end(i0 + rows - 1);
  for (int64_t j0 = 0; j0 < kend; j0 += kBlockK) {
    const int64_t nk = std::min(kBlockK, kend - j0);
    const bool full = grad_tile(a, bh, bkv, i0, rows, j0, nk, p, ds, visible);
    const T* k = a.k + (bkv * g.sk + j0) * D;
    if (full || !g.exact_mask) {
      gemm_tile(rows, D, nk, ds, kBlockK, 1, k, D, dq, D, true);  // dS K
      continue;
    }
    for (int64_t r = 0; r < rows; ++r)
      if (visible[r] > 0)
        gemm_tile<T>(1, D, visible[r], ds + r * kBlockK, kBlockK, 1, k, D, dq + r * D, D, true);
  }
  const T scale = static_cast<T>(g.scale);
  T* dq_out = a.dq + (bh * g.sq + i0) * D;
  for (int64_t i = 0; i < rows * D; ++i) dq_out[i] = dq[i] * scale;
}

template <class T>
void backward(const backend::AttentionBackwardProblem& p, const Geometry& g) {
  const T* q = p.q.ptr<const T>();
  const T* k = p.k.ptr<const T>();
  const T* v = p.v.ptr<const T>();
  const T* dout = p.dout.ptr<const T>();
  KeysT<T> kt, vt;
  transpose_heads(k, g.b * g.hkv, g.sk, g.d, kt);
  transpose_heads(v, g.b * g.hkv, g.sk, g.dv, vt);

  const int64_t rows = g.b * g.h * g.sq;
  std::vector<T> out(static_cast<std::size_t>(rows * g.dv)), lse(static_cast<std::size_t>(rows)),
      delta(static_cast<std::size_t>(rows));
  attention_forward<T>(g, q, k, v, out.data(), lse.data(), &kt);
  for (int64_t i = 0; i < rows; ++i) {  // rowsum(dO * O), accumulated in double
    double s = 0;
    for (int64_t d = 0; d < g.dv; ++d)
      s += static_cast<double>(dout[i * g.dv + d]) * out[i * g.dv + d];
    delta[i] = static_cast<T>(s);
  }

  const Backward<T> a{g,
                      q,
                      k,
                      v,
                      dout,
                      lse.data(),
                      delta.data(),
                      &kt,
                      &vt,
                      p.dq.ptr<T>(),
                      p.dk.ptr<T>(),
                      p.dv.ptr<T>()};
  const double causal = g.causal ? 0.5 : 1.0;
  const double tile_work = static_cast<double>(2 * (g.d + g.dv)) * causal;

  const int64_t key_tiles = (g.sk + kBlockK - 1) / kBlockK;
  const int64_t key_tasks = g.b * g.hkv * key_tiles;
  run_tasks(key_tasks,
            parallel_parts_for(key_tasks, tile_work * static_cast<double>(g.group() * g.sq *
                                                                          std::min(g.sk, kBlockK))),
            [&](int64_t t) {
              const int64_t j0 = t % key_tiles * kBlockK;
              key_tile(a, t / key_tiles, j0, std::min(kBlockK, g.sk - j0));
            });

  const int64_t query_tiles = (g.sq + kBlockQ - 1) / kBlockQ;
  const int64_t query_tasks = g.b * g.h * query_tiles;
  run_tasks(query_tasks,
            parallel_parts_for(query_tasks,
                               tile_work * static_cast<double>(g.sk * std::min(g.sq, kBlockQ))),
            [&](int64_t t) {
              const int64_t i0 = t % query_tiles * kBlockQ;
              query_tile(a, t / query_tiles, i0, std::min(kBlockQ, g.sq - i0));
            });
}

}  // namespace
}  // namespace attn

void attention_backward(const backend::AttentionBackwardProblem& p) {
  attn::Geometry g{p.q.shape[0], p.q.shape[1], p.k.shape[1], p.q.shape[2], p.k.shape[2],
                   p.q.shape[3], p.v.shape[3], p.causal,     p.scale};
  dispatch_float(p.q.dtype, [&](auto tag) {
    using T = decltype(tag);
    g.exact_mask = g.causal && !(attn::all_finite(p.q.ptr<const T>(), p.q.numel()) &&
                                 attn::all_finite(p.k.ptr<const T>(), p.k.numel()) &&
                                 attn::all_finite(p.v.ptr<const T>(), p.v.numel()) &&
                                 attn::all_finite(p.dout.ptr<const T>(), p.dout.numel()));
    attn::backward<T>(p, g);
  });
}

}  // namespace lc::cpu
