// CPU conv2d, NCHW. Two paths: a direct kernel over a zero-padded copy of the input that keeps
// a block of output channels times one row segment in registers (small problems, short
// reductions such as depthwise; no heap, no threads when small), and im2col + the CPU gemm.
#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/thread_pool.h"

namespace lc::cpu {
namespace {

using std::int64_t;

// One 64-byte SIMD register of T (GCC/Clang vector extension; lowered to AVX-512, AVX2 or
// SSE as -march allows, so a portable build is correct, only narrower).
template <class T>
struct Simd {
  static constexpr int kLanes = 64 / static_cast<int>(sizeof(T));
  typedef T type __attribute__((vector_size(64)));
};

struct ConvGeom {
  int64_t n, c, h, w;      // x (N,C,H,W)
  int64_t o, kh, kw;       // weight (O,C/groups,KH,KW)
  int64_t oh, ow;          // out (N,O,OH,OW)
  int64_t groups, cg, og;  // groups; input and output channels per group
  int64_t sh, sw, ph, pw, dh, dw;
  bool relu;
};

ConvGeom geometry(const backend::Conv2dProblem& p) {
  const Conv2dParams& q = p.params;
  ConvGeom g{};
  g.n = p.x.shape[0], g.c = p.x.shape[1], g.h = p.x.shape[2], g.w = p.x.shape[3];
  g.o = p.weight.shape[0], g.kh = p.weight.shape[2], g.kw = p.weight.shape[3];
  g.oh = p.out.shape[2], g.ow = p.out.shape[3];
  g.groups = q.groups, g.cg = g.c / q.groups, g.og = g.o / q.groups;
  g.sh = q.stride_h, g.sw = q.stride_w, g.ph = q.pad_h, g.pw = q.pad_w;
  g.dh = q.dilation_h, g.dw = q.dilation_w;
  g.relu = q.relu;
  return g;
}

// A 1x1 conv without stride or padding: x (C, H*W) per image is already the column matrix.
bool is_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// ---- heuristics ---------------------------------------------------------------------------

// One image's zero-padded input up to this size lives on the stack (no heap for small convs).
constexpr int64_t kStackPadBytes = int64_t{16} << 10;
// Below this many multiply-adds the work runs on the calling thread.
constexpr int64_t kParallelMacs = int64_t{1} << 18;
// The im2col buffer of one image may not exceed this (else the direct kernel runs).
constexpr int64_t kMaxColBytes = int64_t{256} << 20;

// Which path runs (measured single-threaded on the Zen 4 build host, 3x3 and 1x1 layers of
// 3..256 channels): the direct kernel wins on short reductions (depthwise, few input
// channels) and small problems, where it needs no heap; im2col + gemm wins on long reductions,
// on strided convs (the direct kernel gathers their columns), on rows that fill a register
// badly, and always on 1x1 convs (x itself is the column matrix).
template <class T>
bool conv_uses_gemm(const ConvGeom& g) {
  constexpr int64_t L = Simd<T>::kLanes;
  const int64_t k = g.cg * g.kh * g.kw, p = g.oh * g.ow;
  if (k < 32 || g.og < 8 || p < 16 || g.og * k * p < (int64_t{1} << 16)) return false;
  if (is_pointwise(g)) return true;
  if (g.c * g.kh * g.kw * p * static_cast<int64_t>(sizeof(T)) > kMaxColBytes) return false;
  if (g.sw != 1) return true;
  const int64_t padded_ow = (g.ow + L - 1) / L * L;
  if (4 * g.ow < 3 * padded_ow) return true;  // under 3/4 of the lanes used
  return k >= 512;
}

// ---- direct kernel ------------------------------------------------------------------------

// The direct kernel reads a zero-padded copy of the input, (N,C,hp,wp), wide enough that every
// lane of the last ow tile reads inside its row: the hot loop has no bounds checks.
struct PaddedDims {
  int64_t hp, wp;
};

template <class T>
PaddedDims padded_dims(const ConvGeom& g) {
  constexpr int64_t L = Simd<T>::kLanes;
  const int64_t tiles = (g.ow + L - 1) / L;
  return {g.h + 2 * g.ph, std::max(g.w + 2 * g.pw, (tiles * L - 1) * g.sw + (g.kw - 1) * g.dw + 1)};
}

// Planes [begin, end) of x (planes,H,W) into buf (planes,hp,wp), zeros around.
template <class T>
void pad_planes(const ConvGeom& g, PaddedDims d, const T* x, T* buf, int64_t begin, int64_t end) {
  for (int64_t pl = begin; pl < end; ++pl) {
    T* dst = buf + pl * d.hp * d.wp;
    std::fill(dst, dst + g.ph * d.wp, T(0));
    for (int64_t ih = 0; ih < g.h; ++ih) {
      T* row = dst + (g.ph + ih) * d.wp;
      std::fill(row, row + g.pw, T(0));
      std::memcpy(row + g.pw, x + (pl * g.h + ih) * g.w, static_cast<std::size_t>(g.w) * sizeof(T));
      std::fill(row + g.pw + g.w, row + d.wp, T(0));
    }
    std::fill(dst + (g.ph + g.h) * d.wp, dst + d.hp * d.wp, T(0));
  }
}

// One tile: OB output channels x NV registers of L columns, the OB*NV accumulators in
// registers. Register j covers output row oh + j*drow, columns ow0 + j*dcol (two column tiles
// of one row, or the same columns of two rows when a row fits one register). xp: the group's
// padded planes (Cg,hp,wp); w (OB,Cg,KH,KW); bias (OB) or null; out (OB,OH,OW).
template <class T, int OB, int NV, bool UnitStride>
inline void direct_tile(const ConvGeom& g, PaddedDims d, const T* __restrict xp,
                        const T* __restrict w, const T* __restrict bias, T* __restrict out,
                        int64_t oh, int64_t ow0, int64_t drow, int64_t dcol) {
  using V = typename Simd<T>::type;
  constexpr int L = Simd<T>::kLanes;
  const int64_t ksize = g.cg * g.kh * g.kw, plane = g.oh * g.ow;
  const int64_t dx = drow * g.sh * d.wp + dcol * g.sw;  // input offset between registers
  alignas(64) T lanes[L];
  V acc[OB][NV];
  for (int o = 0; o < OB; ++o)
    for (int j = 0; j < NV; ++j) acc[o][j] = V{} + (bias ? bias[o] : T(0));
  for (int64_t c = 0; c < g.cg; ++c) {
    for (int64_t r = 0; r < g.kh; ++r) {
      const T* xrow = xp + (c * d.hp + oh * g.sh + r * g.dh) * d.wp + ow0 * g.sw;
      const T* wk = w + (c * g.kh + r) * g.kw;
      for (int64_t s = 0; s < g.kw; ++s) {
        V xv[NV];
        for (int j = 0; j < NV; ++j) {
          const T* src = xrow + j * dx + s * g.dw;
          if constexpr (UnitStride) {
            std::memcpy(&xv[j], src, sizeof(V));
          } else {
            for (int v = 0; v < L; ++v) lanes[v] = src[v * g.sw];
            std::memcpy(&xv[j], lanes, sizeof(V));
          }
        }
        for (int o = 0; o < OB; ++o) {
          const T wv = wk[o * ksize + s];
          for (int j = 0; j < NV; ++j) acc[o][j] += wv * xv[j];
        }
      }
    }
  }
  for (int o = 0; o < OB; ++o) {
    for (int j = 0; j < NV; ++j) {
      V a = acc[o][j];
      if (g.relu) a = a < V{} ? V{} : a;  // NaN stays NaN
      T* dst = out + o * plane + (oh + j * drow) * g.ow + ow0 + j * dcol;
      const int64_t n = std::min<int64_t>(L, g.ow - ow0 - j * dcol);
      if (n == L) {
        std::memcpy(dst, &a, sizeof(V));
      } else {  // the row's last columns
        std::memcpy(lanes, &a, sizeof(V));
        for (int64_t v = 0; v < n; ++v) dst[v] = lanes[v];
      }
    }
  }
}

// Output rows [oh0, oh1) (one or two) of OB output channels, in tiles of two registers (each
// loaded input register then feeds 2*OB FMAs): the same columns of both rows, or for a lone
// row two column tiles while they fit.
template <class T, int OB, bool UnitStride>
void direct_row_block(const ConvGeom& g, PaddedDims d, const T* xp, const T* w, const T* bias,
                      T* out, int64_t oh0, int64_t oh1) {
  constexpr int L = Simd<T>::kLanes;
  if (oh1 - oh0 == 2) {
    for (int64_t ow0 = 0; ow0 < g.ow; ow0 += L)
      direct_tile<T, OB, 2, UnitStride>(g, d, xp, w, bias, out, oh0, ow0, 1, 0);
    return;
  }
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    int64_t ow0 = 0;
    for (; ow0 + 2 * L <= g.ow; ow0 += 2 * L)
      direct_tile<T, OB, 2, UnitStride>(g, d, xp, w, bias, out, oh, ow0, 0, L);
    for (; ow0 < g.ow; ow0 += L)
      direct_tile<T, OB, 1, UnitStride>(g, d, xp, w, bias, out, oh, ow0, 0, 0);
  }
}

// Items [begin, end) of the flattened (n, group, pair of output rows), all output channels;
// xp is the padded input (N,C,hp,wp) (or one image of it with n = 0).
template <class T, bool UnitStride>
void direct_items(const ConvGeom& g, PaddedDims d, const T* xp, const T* w, const T* bias, T* out,
                  int64_t begin, int64_t end) {
  const int64_t ksize = g.cg * g.kh * g.kw, plane = g.oh * g.ow, pairs = (g.oh + 1) / 2;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t oh0 = item % pairs * 2, oh1 = std::min(oh0 + 2, g.oh), ng = item / pairs;
    const int64_t grp = ng % g.groups, n = ng / g.groups;
    const T* xg = xp + (n * g.c + grp * g.cg) * d.hp * d.wp;
    T* on = out + n * g.o * plane;
    auto block = [&](auto ob, int64_t o) {
      constexpr int OB = decltype(ob)::value;
      direct_row_block<T, OB, UnitStride>(g, d, xg, w + o * ksize, bias ? bias + o : nullptr,
                                          on + o * plane, oh0, oh1);
    };
    int64_t o = grp * g.og;
    const int64_t oend = o + g.og;
    for (; o + 8 <= oend; o += 8) block(std::integral_constant<int, 8>{}, o);
    if (o + 4 <= oend) block(std::integral_constant<int, 4>{}, o), o += 4;
    if (o + 2 <= oend) block(std::integral_constant<int, 2>{}, o), o += 2;
    if (o < oend) block(std::integral_constant<int, 1>{}, o);
  }
}

template <class T, bool UnitStride>
void conv_direct(const ConvGeom& g, const T* x, const T* w, const T* bias, T* out) {
  const PaddedDims d = padded_dims<T>(g);
  const int64_t image = g.c * d.hp * d.wp;            // padded elements of one image
  const int64_t items = g.groups * ((g.oh + 1) / 2);  // items of one image
  const int64_t item_macs = std::max<int64_t>(1, 2 * g.og * g.ow * g.cg * g.kh * g.kw);
  if (g.n * items * item_macs < kParallelMacs &&
      image * static_cast<int64_t>(sizeof(T)) <= kStackPadBytes) {
    // Small: one image at a time through a stack buffer; no heap, no std::function, no threads.
    alignas(64) T buf[kStackPadBytes / sizeof(T)];
    ConvGeom one = g;
    one.n = 1;
    for (int64_t n = 0; n < g.n; ++n) {
      pad_planes(g, d, x + n * g.c * g.h * g.w, buf, 0, g.c);
      direct_items<T, UnitStride>(one, d, buf, w, bias, out + n * g.o * g.oh * g.ow, 0, items);
    }
    return;
  }
  std::unique_ptr<T[]> buf(new T[static_cast<std::size_t>(g.n * image)]);
  const int64_t plane_elems = std::max<int64_t>(1, d.hp * d.wp);
  parallel_for(g.n * g.c, std::max<int64_t>(1, (int64_t{1} << 16) / plane_elems),
               [&](int64_t b, int64_t e) { pad_planes(g, d, x, buf.get(), b, e); });
  parallel_for(g.n * items, std::max<int64_t>(1, kParallelMacs / 4 / item_macs),
               [&](int64_t b, int64_t e) {
                 direct_items<T, UnitStride>(g, d, buf.get(), w, bias, out, b, e);
               });
}

// ---- im2col + gemm ------------------------------------------------------------------------

// Rows [begin, end) of the column matrix (C*KH*KW, OH*OW) of one image x (C,H,W);
// row r = (c*KH + kh)*KW + kw holds x[c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] (0 outside).
template <class T>
void im2col_rows(const ConvGeom& g, const T* x, T* col, int64_t begin, int64_t end) {
  const int64_t p = g.oh * g.ow;
  for (int64_t r = begin; r < end; ++r) {
    const int64_t kw = r % g.kw, kh = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
    const int64_t off = kw * g.dw - g.pw;
    // Output columns whose input column lies in [0, W).
    const int64_t lo = std::min(g.ow, off >= 0 ? 0 : (-off + g.sw - 1) / g.sw);
    const int64_t hi =
        std::clamp<int64_t>(g.w - off <= 0 ? 0 : (g.w - off + g.sw - 1) / g.sw, lo, g.ow);
    T* dst = col + r * p;
    for (int64_t oh = 0; oh < g.oh; ++oh, dst += g.ow) {
      const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
      if (ih < 0 || ih >= g.h) {
        std::fill(dst, dst + g.ow, T(0));
        continue;
      }
      const T* src = x + (c * g.h + ih) * g.w;
      std::fill(dst, dst + lo, T(0));
      if (g.sw == 1) {
        std::memcpy(dst + lo, src + lo + off, static_cast<std::size_t>(hi - lo) * sizeof(T));
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sw + off];
      }
      std::fill(dst + hi, dst + g.ow, T(0));
    }
  }
}

// Per image: out[n] (O, P) = W (G x (Og, K)) @ col (G x (K, P)), one batched gemm over the
// groups, accumulated onto the bias (beta = 1) with the ReLU as the gemm's epilogue.
template <class T>
void conv_gemm(const ConvGeom& g, const T* x, const T* w, const T* bias, T* out,
               Precision precision) {
  const int64_t k = g.cg * g.kh * g.kw, p = g.oh * g.ow, rows = g.c * g.kh * g.kw;
  const bool pointwise = is_pointwise(g);  // x itself is the column matrix
  std::unique_ptr<T[]> col(pointwise ? nullptr : new T[static_cast<std::size_t>(rows * p)]);
  for (int64_t n = 0; n < g.n; ++n) {
    const T* xn = x + n * g.c * g.h * g.w;
    T* on = out + n * g.o * p;
    if (!pointwise) {
      parallel_for(rows, std::max<int64_t>(1, (int64_t{1} << 16) / p),
                   [&](int64_t b, int64_t e) { im2col_rows(g, xn, col.get(), b, e); });
    }
    for (int64_t o = 0; o < g.o; ++o)
      std::fill(on + o * p, on + (o + 1) * p, bias ? bias[o] : T(0));
    backend::GemmProblem gp;
    gp.a = w;
    gp.b = pointwise ? xn : col.get();
    gp.c = on;
    gp.dtype = dtype_of<T>();
    gp.batch = g.groups;
    gp.m = g.og;
    gp.n = p;
    gp.k = k;
    gp.stride_a = g.og * k;
    gp.stride_b = k * p;
    gp.stride_c = g.og * p;
    gp.beta = 1.0;
    gp.act = g.relu ? Activation::relu : Activation::none;
    gp.precision = precision;
    gemm(gp);
  }
}

}  // namespace

void conv2d(const backend::Conv2dProblem& p) {
  const ConvGeom g = geometry(p);
  if (p.out.numel() == 0) return;
  dispatch_float(p.x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = p.x.ptr<const T>();
    const T* w = p.weight.ptr<const T>();
    const T* bias = static_cast<const T*>(static_cast<const void*>(p.bias));  // x's dtype
    T* out = p.out.ptr<T>();
    if (conv_uses_gemm<T>(g))
      conv_gemm(g, x, w, bias, out, p.precision);
    else if (g.sw == 1)
      conv_direct<T, true>(g, x, w, bias, out);
    else
      conv_direct<T, false>(g, x, w, bias, out);
  });
}

}  // namespace lc::cpu
