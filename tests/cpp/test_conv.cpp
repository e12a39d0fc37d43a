// Conv family: conv2d_nchw and max/avg pooling against naive float64 references, the
// contract (the right exception per bad input, nothing written), and the small-conv promise
// (the benchmark shape runs without touching the heap).
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "test_helpers.h"

// Counts operator new calls made on a thread while it has counting switched on.
namespace {
thread_local bool t_count_news = false;
std::atomic<long> g_news{0};
}  // namespace

// noinline: inlined into a caller, GCC would pair the builtin new with free() and warn.
__attribute__((noinline)) void* operator new(std::size_t n) {
  if (t_count_news) ++g_news;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace lc {
namespace {

using test::cpu_policy;
using test::rel_err;
using test::to_f64;

constexpr double kTol = 1e-5;

using test::all_nan;
using test::expect_error;

// Naive float64 conv2d: x (N,C,H,W), w (O,C/g,KH,KW), bias (O) or empty.
std::vector<double> conv_ref(const Tensor& x, const Tensor& w, const std::vector<double>& bias,
                             const Conv2dParams& p, Shape& out_shape) {
  const auto X = to_f64(x), W = to_f64(w);
  const std::int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], wd = x.shape()[3];
  const std::int64_t o = w.shape()[0], cg = w.shape()[1], kh = w.shape()[2], kw = w.shape()[3];
  const std::int64_t oh = (h + 2 * p.pad_h - p.dilation_h * (kh - 1) - 1) / p.stride_h + 1;
  const std::int64_t ow = (wd + 2 * p.pad_w - p.dilation_w * (kw - 1) - 1) / p.stride_w + 1;
  const std::int64_t og = o / p.groups;
  out_shape = Shape{n, o, oh, ow};
  std::vector<double> out(static_cast<std::size_t>(n * o * oh * ow));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t oc = 0; oc < o; ++oc)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          double s = bias.empty() ? 0.0 : bias[oc];
          const std::int64_t g = oc / og;
          for (std::int64_t ci = 0; ci < cg; ++ci)
            for (std::int64_t r = 0; r < kh; ++r)
              for (std::int64_t t = 0; t < kw; ++t) {
                const std::int64_t ih = i * p.stride_h - p.pad_h + r * p.dilation_h;
                const std::int64_t iw = j * p.stride_w - p.pad_w + t * p.dilation_w;
                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                s += X[((b * c + g * cg + ci) * h + ih) * wd + iw] *
                     W[((oc * cg + ci) * kh + r) * kw + t];
              }
          if (p.relu && s < 0) s = 0;
          out[((b * o + oc) * oh + i) * ow + j] = s;
        }
  return out;
}

struct ConvCase {
  Shape x, w;
  Conv2dParams p;
};

Conv2dParams params(int sh, int sw, int ph, int pw, int dh, int dw, int groups) {
  Conv2dParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  p.dilation_h = dh, p.dilation_w = dw, p.groups = groups;
  return p;
}

TEST(Conv2d, MatchesReference) {
  const std::uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const ConvCase cases[] = {
      {{1, 3, 16, 16}, {16, 3, 3, 3}, params(1, 1, 1, 1, 1, 1, 1)},
      {{3, 2, 7, 5}, {3, 2, 3, 2}, params(1, 1, 0, 0, 1, 1, 1)},
      {{2, 5, 17, 33}, {7, 5, 3, 3}, params(2, 1, 1, 2, 1, 1, 1)},
      {{1, 5, 21, 23}, {7, 5, 3, 2}, params(2, 3, 2, 0, 2, 3, 1)},
      {{2, 6, 9, 9}, {9, 2, 3, 3}, params(3, 3, 0, 0, 1, 1, 3)},
      {{2, 17, 33, 31}, {17, 1, 3, 3}, params(1, 1, 1, 1, 1, 1, 17)},
      {{1, 2, 5, 300}, {3, 2, 1, 3}, params(1, 1, 0, 5, 1, 140, 1)},
      {{2, 33, 17, 19}, {65, 33, 3, 3}, params(1, 1, 1, 1, 1, 1, 1)},   // im2col + gemm
      {{1, 65, 33, 17}, {127, 65, 1, 1}, params(1, 1, 0, 0, 1, 1, 1)},  // 1x1 gemm
      {{1, 64, 17, 17}, {64, 32, 3, 3}, params(1, 1, 1, 1, 1, 1, 2)},   // grouped gemm
      {{1, 16, 31, 29}, {48, 16, 5, 5}, params(2, 2, 2, 2, 1, 1, 1)},
  };
  for (const ConvCase& cc : cases) {
    for (bool relu : {false, true}) {
      for (bool with_bias : {false, true}) {
        Conv2dParams p = cc.p;
        p.relu = relu;
        SCOPED_TRACE(cc.x.str() + " * " + cc.w.str() + (relu ? " relu" : "") +
                     (with_bias ? " bias" : ""));
        Tensor x = test::random_tensor(cc.x, rng), w = test::random_tensor(cc.w, rng);
        Tensor b = test::random_tensor(Shape{cc.w[0]}, rng);
        OptView bias = with_bias ? OptView(b.view()) : std::nullopt;
        Shape shape;
        const auto ref = conv_ref(x, w, with_bias ? to_f64(b) : std::vector<double>{}, p, shape);
        Tensor y = conv2d_nchw(x, w, bias, p, cpu_policy());
        ASSERT_EQ(y.shape(), shape);
        EXPECT_LE(rel_err(y, ref), kTol);
        Tensor out(shape);
        test::poison(out);
        conv2d_nchw_into(x, w, bias, out, p, cpu_policy());
        EXPECT_LE(rel_err(out, ref), kTol);
      }
    }
  }
}

TEST(Conv2d, StridedInputAndZeroSizes) {
  std::mt19937_64 rng(test::fresh_seed());
  Tensor base = test::random_tensor(Shape{2, 3, 9, 16}, rng),
         w = test::random_tensor(Shape{4, 3, 3, 3}, rng);
  // Every other column of base: (2,3,9,8) with strides (432,144,16,2).
  TensorView x(base.data(), DType::f32, Shape{2, 3, 9, 8}, Shape{432, 144, 16, 2}, kCpu);
  Tensor xc = contiguous_copy(x);
  const Conv2dParams p = params(1, 1, 1, 1, 1, 1, 1);
  Shape shape;
  const auto ref = conv_ref(xc, w, {}, p, shape);
  EXPECT_LE(rel_err(conv2d_nchw(x, w, std::nullopt, p, cpu_policy()), ref), kTol);

  Tensor empty_batch = conv2d_nchw(Tensor(Shape{0, 3, 5, 5}), w, std::nullopt, p, cpu_policy());
  EXPECT_EQ(empty_batch.shape(), (Shape{0, 4, 5, 5}));
  // No input channels: the output is the bias.
  Tensor b = test::random_tensor(Shape{4}, rng);
  Tensor y =
      conv2d_nchw(Tensor(Shape{1, 0, 3, 3}), Tensor(Shape{4, 0, 3, 3}), b.view(), p, cpu_policy());
  ASSERT_EQ(y.shape(), (Shape{1, 4, 3, 3}));
  for (std::int64_t i = 0; i < y.numel(); ++i)
    EXPECT_EQ(y.data<float>()[i], b.data<float>()[i / 9]);
}

TEST(Conv2d, Contract) {
  Tensor x(Shape{2, 4, 7, 6}), w(Shape{6, 2, 3, 3}), b(Shape{6}), out(Shape{2, 6, 7, 6});
  const Conv2dParams ok = params(1, 1, 1, 1, 1, 1, 2);
  auto bad = [&](auto mutate) {
    Conv2dParams p = ok;
    mutate(p);
    return p;
  };
  const Conv2dParams bad_params[] = {
      bad([](Conv2dParams& p) { p.stride_h = 0; }),
      bad([](Conv2dParams& p) { p.stride_w = -1; }),
      bad([](Conv2dParams& p) { p.pad_h = -1; }),
      bad([](Conv2dParams& p) { p.dilation_w = 0; }),
      bad([](Conv2dParams& p) { p.groups = 0; }),
      bad([](Conv2dParams& p) { p.groups = 3; }),
      bad([](Conv2dParams& p) { p.groups = 4; }),
      bad([](Conv2dParams& p) { p.dilation_h = 5; }),
      bad([](Conv2dParams& p) { p.pad_w = 0, p.dilation_w = 3; }),
  };
  for (const Conv2dParams& p : bad_params) {
    test::poison(out);
    expect_error<ValueError>([&] { conv2d_nchw(x, w, b.view(), p, cpu_policy()); }, "conv2d_nchw");
    expect_error<ValueError>([&] { conv2d_nchw_into(x, w, b.view(), out, p, cpu_policy()); },
                             "conv2d_nchw_into");
    EXPECT_TRUE(all_nan(out));
  }
  TensorView none_view;  // what a binding passes for None
  none_view.invalid = "None";
  expect_error<TypeError>([&] { conv2d_nchw(none_view, w, b.view(), ok, cpu_policy()); },
                          "conv2d_nchw");
  expect_error<TypeError>(
      [&] {
        conv2d_nchw(x, Tensor64(Shape{6, 2, 3, 3}), std::nullopt, ok, cpu_policy());
      },
      "conv2d_nchw");
  expect_error<TypeError>(
      [&] {
        conv2d_nchw(Tensor64(Shape{2, 4, 7, 6}), w, std::nullopt, ok, cpu_policy());
      },
      "conv2d_nchw");
  const Shape bad_shapes[][3] = {
      {{4, 7, 6}, {6, 2, 3, 3}, {6}},       {{2, 4, 7, 6}, {6, 2, 3}, {6}},
      {{2, 4, 7, 6}, {6, 2, 3, 3}, {6, 1}}, {{2, 4, 7, 6}, {6, 2, 3, 3}, {5}},
      {{2, 4, 7, 6}, {6, 4, 3, 3}, {6}},    {{2, 4, 7, 6}, {5, 2, 3, 3}, {5}},
      {{2, 4, 7, 6}, {6, 2, 0, 3}, {6}},    {{2, 4, 1, 6}, {6, 2, 4, 3}, {6}},
  };
  for (const auto& s : bad_shapes) {
    SCOPED_TRACE(s[0].str() + " " + s[1].str() + " " + s[2].str());
    test::poison(out);
    expect_error<ValueError>(
        [&] { conv2d_nchw(Tensor(s[0]), Tensor(s[1]), Tensor(s[2]).view(), ok, cpu_policy()); },
        "conv2d_nchw");
    expect_error<ValueError>(
        [&] {
          conv2d_nchw_into(Tensor(s[0]), Tensor(s[1]), Tensor(s[2]).view(), out, ok, cpu_policy());
        },
        "conv2d_nchw_into");
    EXPECT_TRUE(all_nan(out));
  }
  expect_error<ValueError>(
      [&] {
        conv2d_nchw_into(x, w, b.view(), Tensor(Shape{2, 6, 7, 5}), ok, cpu_policy());
      },
      "conv2d_nchw_into");
  expect_error<TypeError>(
      [&] {
        conv2d_nchw_into(x, w, b.view(), Tensor64(Shape{2, 6, 7, 6}), ok, cpu_policy());
      },
      "conv2d_nchw_into");
  Tensor wide(Shape{2, 6, 7, 12});
  TensorView strided(wide.data(), DType::f32, Shape{2, 6, 7, 6}, Shape{504, 84, 12, 2}, kCpu);
  expect_error<ValueError>([&] { conv2d_nchw_into(x, w, b.view(), strided, ok, cpu_policy()); },
                           "conv2d_nchw_into");
  TensorView read_only = out.view();
  read_only.writable = false;
  expect_error<ValueError>([&] { conv2d_nchw_into(x, w, b.view(), read_only, ok, cpu_policy()); },
                           "conv2d_nchw_into");
}

// The benchmark shape takes the direct kernel with its stack buffer: no heap, no threads.
TEST(Conv2d, SmallConvDoesNotAllocate) {
  std::mt19937_64 rng(test::fresh_seed());
  Tensor x = test::random_tensor(Shape{1, 3, 16, 16}, rng),
         w = test::random_tensor(Shape{16, 3, 3, 3}, rng);
  Tensor b = test::random_tensor(Shape{16}, rng), out(Shape{1, 16, 16, 16});
  backend::Conv2dProblem p;
  p.x = x, p.weight = w, p.out = out, p.bias = b.data<float>();
  p.params = params(1, 1, 1, 1, 1, 1, 1);
  p.params.relu = true;
  g_news = 0;
  t_count_news = true;
  cpu::conv2d(p);
  t_count_news = false;
  EXPECT_EQ(g_news.load(), 0);
  Shape shape;
  EXPECT_LE(rel_err(out, conv_ref(x, w, to_f64(b), p.params, shape)), kTol);
  // The counter works: a batch too large for the stack buffer takes the heap.
  Tensor big = test::random_tensor(Shape{8, 3, 64, 64}, rng), big_out(Shape{8, 16, 64, 64});
  p.x = big, p.out = big_out;
  t_count_news = true;
  cpu::conv2d(p);
  t_count_news = false;
  EXPECT_GT(g_news.load(), 0);
}

// ---- pooling ------------------------------------------------------------------------------

std::vector<double> pool_ref(const Tensor& x, const Pool2dParams& p, bool max, Shape& out_shape) {
  const auto X = to_f64(x);
  const std::int64_t planes = x.shape()[0] * x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  const int sh = p.stride_h ? p.stride_h : p.kernel_h, sw = p.stride_w ? p.stride_w : p.kernel_w;
  const std::int64_t oh = (h + 2 * p.pad_h - p.kernel_h) / sh + 1;
  const std::int64_t ow = (w + 2 * p.pad_w - p.kernel_w) / sw + 1;
  out_shape = Shape{x.shape()[0], x.shape()[1], oh, ow};
  std::vector<double> out;
  for (std::int64_t pl = 0; pl < planes; ++pl)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        double m = -INFINITY, s = 0;
        int count = 0;
        for (int r = 0; r < p.kernel_h; ++r)
          for (int t = 0; t < p.kernel_w; ++t) {
            const std::int64_t ih = i * sh - p.pad_h + r, iw = j * sw - p.pad_w + t;
            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
            const double v = X[(pl * h + ih) * w + iw];
            m = std::max(m, v), s += v, ++count;
          }
        out.push_back(max ? m : s / (p.count_include_pad ? p.kernel_h * p.kernel_w : count));
      }
  return out;
}

TEST(Pool2d, MatchesReference) {
  std::mt19937_64 rng(test::fresh_seed());
  struct Case {
    Shape x;
    int kh, kw, sh, sw, ph, pw;
  };
  const Case cases[] = {{{2, 3, 17, 33}, 2, 2, 0, 0, 0, 0},
                        {{1, 5, 7, 65}, 3, 2, 1, 3, 1, 1},
                        {{3, 2, 9, 9}, 5, 5, 1, 1, 2, 2},
                        {{1, 2, 1, 127}, 1, 7, 1, 2, 0, 3},
                        {{2, 65, 67, 69}, 3, 3, 2, 1, 1, 0}};
  for (const Case& c : cases)
    for (int kind = 0; kind < 3; ++kind) {
      SCOPED_TRACE(c.x.str() + " kind " + std::to_string(kind));
      Pool2dParams p{c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, kind != 2};
      Tensor x = test::random_tensor(c.x, rng);
      Shape shape;
      const auto ref = pool_ref(x, p, kind == 0, shape);
      Tensor y = kind == 0 ? max_pool2d(x, p, cpu_policy()) : avg_pool2d(x, p, cpu_policy());
      ASSERT_EQ(y.shape(), shape);
      EXPECT_LE(rel_err(y, ref), kTol);
      Tensor out(shape);
      test::poison(out);
      if (kind == 0)
        max_pool2d_into(x, out, p, cpu_policy());
      else
        avg_pool2d_into(x, out, p, cpu_policy());
      EXPECT_LE(rel_err(out, ref), kTol);
    }
}

TEST(Pool2d, Contract) {
  Tensor x(Shape{1, 2, 6, 6}), out(Shape{1, 2, 3, 3});
  const Pool2dParams bad[] = {
      {0, 2, 0, 0, 0, 0, true}, {2, 2, -1, 0, 0, 0, true}, {2, 2, 0, 0, -1, 0, true},
      {2, 2, 0, 0, 2, 0, true}, {3, 3, 1, 1, 0, 2, true},  {7, 2, 0, 0, 0, 0, true},
  };
  for (const Pool2dParams& p : bad) {
    test::poison(out);
    expect_error<ValueError>([&] { max_pool2d(x, p, cpu_policy()); }, "max_pool2d");
    expect_error<ValueError>([&] { avg_pool2d_into(x, out, p, cpu_policy()); }, "avg_pool2d_into");
    EXPECT_TRUE(all_nan(out));
  }
  const Pool2dParams ok{2, 2, 0, 0, 0, 0, true};
  expect_error<ValueError>(
      [&] {
        max_pool2d(Tensor(Shape{2, 6, 6}), ok, cpu_policy());
      },
      "max_pool2d");
  expect_error<ValueError>(
      [&] {
        max_pool2d(Tensor(Shape{1, 2, 0, 6}), ok, cpu_policy());
      },
      "max_pool2d");
  expect_error<TypeError>(
      [&] {
        avg_pool2d(Tensor64(Shape{1, 2, 6, 6}), ok, cpu_policy());
      },
      "avg_pool2d");
  expect_error<ValueError>(
      [&] {
        max_pool2d_into(x, Tensor(Shape{1, 2, 3, 4}), ok, cpu_policy());
      },
      "max_pool2d_into");
  EXPECT_EQ(max_pool2d(Tensor(Shape{0, 2, 6, 6}), ok, cpu_policy()).shape(), (Shape{0, 2, 3, 3}));
}

}  // namespace
}  // namespace lc
