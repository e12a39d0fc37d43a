// Elementwise kernels: one generic loop per arity, templated on the functor (elementwise.h)
// and the element type. Binary operands may be broadcast (stride 0) along any axis; the
// walk collapses the axes into runs and picks the loop variant per run kind once.
#include <algorithm>
#include <type_traits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/elementwise.h"
#include "backends/cpu/thread_pool.h"

namespace lc::cpu {
namespace {

using std::int64_t;

constexpr int64_t kParallelMin = 1 << 20;  // smaller arrays: threads cost more than they save
constexpr int64_t kBlock = 1 << 16;        // elements per parallel task (a multiple of any pack)

// body(begin, end) over [0, n); on the pool in kBlock pieces when n is large.
template <class Body>
void for_blocks(int64_t n, const Body& body) {
  if (n < kParallelMin) {
    body(int64_t{0}, n);
    return;
  }
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, 1,
               [&](int64_t b0, int64_t b1) { body(b0 * kBlock, std::min(n, b1 * kBlock)); });
}

template <class T, class F>
void map_unary(const F& f, const T* x, T* y, int64_t n) {
  using V = simd::vec<T>;
  constexpr int L = simd::lanes_v<V>;
  int64_t i = 0;
  for (; i + L <= n; i += L) simd::store(y + i, f(simd::load<V>(x + i)));
  if (i < n) {
    const int c = static_cast<int>(n - i);
    simd::store_partial(y + i, f(simd::load_partial<V>(x + i, c)), c);
  }
}

// How an operand advances along a run.
enum Step { kBroadcast, kUnit, kStrided };

template <int S, class V>
V fetch(const simd::elem_t<V>* p, int64_t stride, int64_t i, int count) {
  if constexpr (S == kBroadcast)
    return simd::splat<V>(*p);
  else if constexpr (S == kUnit)
    return count == simd::lanes_v<V> ? simd::load<V>(p + i) : simd::load_partial<V>(p + i, count);
  else
    return simd::load_strided<V>(p + i * stride, stride, count);
}

template <int SA, int SB, class T, class F>
void map_binary(const F& f, const T* a, int64_t sa, const T* b, int64_t sb, T* y, int64_t n) {
  using V = simd::vec<T>;
  constexpr int L = simd::lanes_v<V>;
  int64_t i = 0;
  for (; i + L <= n; i += L)
    simd::store(y + i, f(fetch<SA, V>(a, sa, i, L), fetch<SB, V>(b, sb, i, L)));
  if (i < n) {
    const int c = static_cast<int>(n - i);
    simd::store_partial(y + i, f(fetch<SA, V>(a, sa, i, c), fetch<SB, V>(b, sb, i, c)), c);
  }
}

// The output's axes with unit axes dropped and neighbours merged where both operands allow.
struct Walk {
  int rank = 0;
  int64_t dims[Shape::kMaxRank];
  int64_t sa[Shape::kMaxRank], sb[Shape::kMaxRank];
};

Walk collapse(const TensorView& a, const TensorView& b, const TensorView& out) {
  Walk w;
  for (int i = 0; i < out.rank(); ++i) {
    const int64_t d = out.shape[i];
    if (d == 1) continue;
    const int l = w.rank - 1;
    if (l >= 0 && w.sa[l] == a.strides[i] * d && w.sb[l] == b.strides[i] * d) {
      w.dims[l] *= d;
      w.sa[l] = a.strides[i];
      w.sb[l] = b.strides[i];
    } else {
      w.dims[w.rank] = d;
      w.sa[w.rank] = a.strides[i];
      w.sb[w.rank] = b.strides[i];
      ++w.rank;
    }
  }
  if (w.rank == 0) {
    w.rank = 1;
    w.dims[0] = 1;
    w.sa[0] = w.sb[0] = 0;
  }
  return w;
}

// Output elements [begin, end) of the walk, run by run along the innermost axis.
template <int SA, int SB, class T, class F>
void walk_binary(const F& f, const Walk& w, const T* a, const T* b, T* y, int64_t begin,
                 int64_t end) {
  const int last = w.rank - 1;
  const int64_t inner = w.dims[last];
  int64_t row = begin / inner, col = begin % inner;
  while (begin < end) {
    int64_t oa = col * w.sa[last], ob = col * w.sb[last], r = row;
    for (int d = last - 1; d >= 0; --d) {
      const int64_t c = r % w.dims[d];
      r /= w.dims[d];
      oa += c * w.sa[d];
      ob += c * w.sb[d];
    }
    const int64_t n = std::min(inner - col, end - begin);
    map_binary<SA, SB>(f, a + oa, w.sa[last], b + ob, w.sb[last], y + begin, n);
    begin += n;
    col = 0;
    ++row;
  }
}

// Calls fn(std::integral_constant<int, Step>) for a run stride.
template <class Fn>
void with_step(int64_t stride, Fn&& fn) {
  if (stride == 0)
    fn(std::integral_constant<int, kBroadcast>{});
  else if (stride == 1)
    fn(std::integral_constant<int, kUnit>{});
  else
    fn(std::integral_constant<int, kStrided>{});
}

template <class T, class F>
void run_binary(const F& f, const TensorView& a, const TensorView& b, const TensorView& out) {
  const Walk w = collapse(a, b, out);
  const T* pa = a.ptr<const T>();
  const T* pb = b.ptr<const T>();
  T* py = out.ptr<T>();
  with_step(w.sa[w.rank - 1], [&](auto sa) {
    with_step(w.sb[w.rank - 1], [&](auto sb) {
      for_blocks(out.numel(), [&](int64_t b0, int64_t b1) {
        walk_binary<decltype(sa)::value, decltype(sb)::value>(f, w, pa, pb, py, b0, b1);
      });
    });
  });
}

}  // namespace

void unary(const backend::UnaryProblem& p) {
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    ew::dispatch_unary(p.op, [&](auto f) {
      const T* x = p.x.ptr<const T>();
      T* y = p.out.ptr<T>();
      for_blocks(p.out.numel(), [&](int64_t b, int64_t e) { map_unary(f, x + b, y + b, e - b); });
    });
  });
}

void binary(const backend::BinaryProblem& p) {
  dispatch_float(p.out.dtype, [&](auto tag) {
    using T = decltype(tag);
    ew::dispatch_binary(p.op, [&](auto f) { run_binary<T>(f, p.a, p.b, p.out); });
  });
}

void axpy(const backend::AxpyProblem& p) {
  dispatch_float(p.out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const ew::Axpy<T> f{static_cast<T>(p.alpha)};
    const T* x = p.x.ptr<const T>();
    const T* y = p.y.ptr<const T>();
    T* o = p.out.ptr<T>();
    for_blocks(p.out.numel(), [&](int64_t b, int64_t e) {
      map_binary<kUnit, kUnit>(f, x + b, 1, y + b, 1, o + b, e - b);
    });
  });
}

}  // namespace lc::cpu
