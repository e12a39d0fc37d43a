// CPU attention, forward: the online softmax of FlashAttention over key tiles, so the Sq x Sk
// score matrix never exists. A query tile keeps its running row max, row sum and unnormalised
// output; each key tile rescales them once. Tasks are (batch, head, query tile).
#include <cmath>

#include "backends/cpu/attention_tile.h"
#include "backends/cpu/cpu_backend.h"

namespace lc::cpu {
namespace attn {
namespace {

// Rows [i0, i0 + rows) of one query head. q (Sq,D), k (Sk,D), v (Sk,Dv), out (Sq,Dv),
// lse (Sq) or null; kt (D, ldkt) the head's transposed keys, or null.
template <class T>
void forward_tile(const Geometry& g, const T* q, const T* k, const T* v, const T* kt, int64_t ldkt,
                  T* out, T* lse, int64_t i0, int64_t rows) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  constexpr T kInf = std::numeric_limits<T>::infinity();
  const Mask mask = g.mask();
  const int64_t D = g.d, Dv = g.dv;
  const T scale = static_cast<T>(g.scale);

  // scores/probabilities (kBlockQ,kBlockK) | output accumulators (kBlockQ,Dv) | row max | row
  // sum | a transposed key tile (D,kBlockK) when kt is null
  Workspace<T> ws(static_cast<std::size_t>(kBlockQ * (kBlockK + Dv + 2) + (kt ? 0 : D * kBlockK)));
  T* s = ws.data();
  T* acc = s + kBlockQ * kBlockK;
  T* row_max = acc + kBlockQ * Dv;
  T* row_sum = row_max + kBlockQ;
  T* ktile = row_sum + kBlockQ;
  std::fill(acc, acc + rows * Dv, T(0));
  std::fill(row_max, row_max + rows, -kInf);
  std::fill(row_sum, row_sum + rows, T(0));
  int64_t visible[kBlockQ];
  const V iota = lane_index<T>();

  const int64_t kend = mask.end(i0 + rows - 1);  // no row of this tile sees a key past it
  for (int64_t j0 = 0; j0 < kend; j0 += kBlockK) {
    const int64_t nk = std::min(kBlockK, kend - j0);
    const int64_t width = round_up(nk, L);
    const T* kb = kt ? kt + j0 : nullptr;
    int64_t ldk = ldkt;
    if (!kt) {
      transpose_into(k + j0 * D, nk, D, ktile, width);
      kb = ktile;
      ldk = width;
    }
    gemm_tile(rows, width, D, q + i0 * D, D, 1, kb, ldk, s, kBlockK, false);  // (rows, width)

    bool full = true;  // every row sees every key of the tile
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = std::min(nk, mask.end(i0 + r) - j0);
      visible[r] = std::max<int64_t>(n, 0);
      full = full && n == nk;
      T* sr = s + r * kBlockK;
      if (n <= 0) {
        std::fill(sr, sr + width, T(0));
        continue;
      }
      V vmax = broadcast<V>(-kInf);
      for (int64_t c = 0; c < width; c += L) {
        const auto in = iota < broadcast<V>(static_cast<T>(n - c));
        const V x = simd::select<V>(in, simd::load<V>(sr + c) * scale, broadcast<V>(-kInf));
        simd::store(sr + c, x);
        vmax = simd::max_nan(vmax, x);
      }
      const T tile_max = reduce_max(vmax);
      const T m_old = row_max[r];
      const T m_new = (tile_max > m_old || tile_max != tile_max) ? tile_max : m_old;
      if (m_new == -kInf) {  // every visible score so far is -inf: nothing to add yet
        std::fill(sr, sr + width, T(0));
        continue;
      }
      const V vm = broadcast<V>(m_new);
      V vsum{};
      for (int64_t c = 0; c < width; c += L) {
        const auto in = iota < broadcast<V>(static_cast<T>(n - c));
        const V e = simd::select<V>(in, simd::exp<V>(simd::load<V>(sr + c) - vm), V{});
        simd::store(sr + c, e);
        vsum += e;
      }
      const T alpha = m_new == m_old ? T(1) : m_old == -kInf ? T(0) : std::exp(m_old - m_new);
      row_sum[r] = row_sum[r] * alpha + reduce_sum(vsum);
      row_max[r] = m_new;
      if (alpha != T(1) && m_old != -kInf)  // before the first key the accumulators are zero
        for (int64_t d = 0; d < Dv; ++d) acc[r * Dv + d] *= alpha;
    }
    // acc += P V; masked probabilities are zero. With non-finite inputs each row of the causal
    // diagonal takes only its visible keys, so a masked key's inf/NaN never reaches it.
    if (full || !g.exact_mask) {
      gemm_tile(rows, Dv, nk, s, kBlockK, 1, v + j0 * Dv, Dv, acc, Dv, true);
    } else {
      for (int64_t r = 0; r < rows; ++r)
        if (visible[r] > 0)
          gemm_tile<T>(1, Dv, visible[r], s + r * kBlockK, kBlockK, 1, v + j0 * Dv, Dv,
                       acc + r * Dv, Dv, true);
    }
  }

  for (int64_t r = 0; r < rows; ++r) {
    T* o = out + (i0 + r) * Dv;
    if (mask.end(i0 + r) == 0) {  // a row that sees no key is zero
      std::fill(o, o + Dv, T(0));
      if (lse) lse[i0 + r] = -kInf;
      continue;
    }
    const T inv = T(1) / row_sum[r];
    for (int64_t d = 0; d < Dv; ++d) o[d] = acc[r * Dv + d] * inv;
    if (lse) lse[i0 + r] = row_max[r] + std::log(row_sum[r]);
  }
}

// Whether a head takes forward_small: its queries fit one vector and its keys one tile.
template <class T>
bool small_head(const Geometry& g) {
  return g.sq <= kLanes<T> && g.sk <= kBlockK && g.d <= kBlockK;
}

// A whole head with Sq <= L queries, Sk <= kBlockK keys: the scores are held transposed, one
// vector of queries per key, so the softmax over keys is lane-wise (no horizontal reductions,
// no per-row dependency chain). The path of the tiny shapes (seq 8, dim 16): no heap, no threads.
template <class T>
void forward_small(const Geometry& g, const T* q, const T* k, const T* v, T* out, T* lse) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  constexpr T kInf = std::numeric_limits<T>::infinity();
  const Mask mask = g.mask();
  const int64_t sq = g.sq, sk = g.sk, D = g.d, Dv = g.dv;
  alignas(64) T qt[kBlockK * L];  // (D, L): q transposed, lanes past Sq zero
  alignas(64) T st[kBlockK * L];  // (Sk, L): scores, then probabilities, transposed
  std::fill(qt, qt + D * L, T(0));
  for (int64_t i = 0; i < sq; ++i)
    for (int64_t d = 0; d < D; ++d) qt[d * L + i] = q[i * D + d];
  gemm_tile(sk, L, D, k, D, 1, qt, L, st, L, false);

  const V iota = lane_index<T>();
  const V valid = broadcast<V>(static_cast<T>(sq));
  const T scale = static_cast<T>(g.scale);
  V vmax = broadcast<V>(-kInf);
  for (int64_t j = 0; j < sk; ++j) {  // key j is seen by queries >= first_query(j)
    const auto in = iota >= broadcast<V>(static_cast<T>(mask.first_query(j)));
    const V x = simd::select<V>(in, simd::load<V>(st + j * L) * scale, broadcast<V>(-kInf));
    simd::store(st + j * L, x);
    vmax = simd::max_nan(vmax, x);
  }
  V vsum{};
  for (int64_t j = 0; j < sk; ++j) {
    const auto in = (iota >= broadcast<V>(static_cast<T>(mask.first_query(j)))) & (iota < valid);
    const V p = simd::select<V>(in, simd::exp<V>(simd::load<V>(st + j * L) - vmax), V{});
    simd::store(st + j * L, p);
    vsum += p;
  }

  // out = P V with P read transposed; on the causal diagonal each row takes only its keys.
  if (!g.exact_mask) {
    gemm_tile(sq, Dv, sk, st, 1, L, v, Dv, out, Dv, false);
  } else {
    for (int64_t i = 0; i < sq; ++i)
      gemm_tile<T>(1, Dv, mask.end(i), st + i, 1, L, v, Dv, out + i * Dv, Dv, false);
  }
  for (int64_t i = 0; i < sq; ++i) {
    T* o = out + i * Dv;
    if (mask.end(i) == 0) {  // a row that sees no key is zero
      std::fill(o, o + Dv, T(0));
      if (lse) lse[i] = -kInf;
      continue;
    }
    const T inv = T(1) / vsum[i];
    for (int64_t d = 0; d < Dv; ++d) o[d] *= inv;
    if (lse) lse[i] = vmax[i] + std::log(vsum[i]);
  }
}

}  // namespace

template <class T>
void attention_forward(const Geometry& g, const T* q, const T* k, const T* v, T* out, T* lse,
                       const KeysT<T>* kt) {
  const int64_t tiles = (g.sq + kBlockQ - 1) / kBlockQ;
  const int64_t tasks = g.b * g.h * tiles;
  const double work =
      static_cast<double>(std::min(g.sq, kBlockQ) * g.sk * (g.d + g.dv)) * (g.causal ? 0.5 : 1.0);
  run_tasks(tasks, parallel_parts_for(tasks, work), [&](int64_t t) {
    const int64_t bh = t / tiles, i0 = t % tiles * kBlockQ;
    const int64_t bkv = bh / g.h * g.hkv + bh % g.h / g.group();  // GQA: the shared kv head
    if (small_head<T>(g)) {
      forward_small<T>(g, q + bh * g.sq * g.d, k + bkv * g.sk * g.d, v + bkv * g.sk * g.dv,
                       out + bh * g.sq * g.dv, lse ? lse + bh * g.sq : nullptr);
      return;
    }
    forward_tile<T>(g, q + bh * g.sq * g.d, k + bkv * g.sk * g.d, v + bkv * g.sk * g.dv,
                    kt ? kt->data.data() + bkv * g.d * kt->ld : nullptr, kt ? kt->ld : 0,
                    out + bh * g.sq * g.dv, lse ? lse + bh * g.sq : nullptr, i0,
                    std::min(kBlockQ, g.sq - i0));
  });
}

template void attention_forward<float>(const Geometry&, const float*, const float*, const float*,
                                       float*, float*, const KeysT<float>*);
template void attention_forward<double>(const Geometry&, const double*, const double*,
                                        const double*, double*, double*, const KeysT<double>*);

}  // namespace attn

void attention(const backend::AttentionProblem& p) {
  attn::Geometry g{p.q.shape[0], p.q.shape[1], p.k.shape[1], p.q.shape[2], p.k.shape[2],
                   p.q.shape[3], p.v.shape[3], p.causal,     p.scale};
  dispatch_float(p.q.dtype, [&](auto tag) {
    using T = decltype(tag);
    g.exact_mask = g.causal && !attn::all_finite(p.v.ptr<const T>(), p.v.numel());
    // Transposing the keys once pays when several query tiles read each key tile.
    const bool shared_keys =
        (g.sq > attn::kBlockQ || g.group() > 1) && g.sk > 0 && !attn::small_head<T>(g);
    attn::KeysT<T> kt;
    if (shared_keys) attn::transpose_heads(p.k.ptr<const T>(), g.b * g.hkv, g.sk, g.d, kt);
    attn::attention_forward<T>(g, p.q.ptr<const T>(), p.k.ptr<const T>(), p.v.ptr<const T>(),
                               p.out.ptr<T>(), nullptr, shared_keys ? &kt : nullptr);
  });
}

}  // namespace lc::cpu
