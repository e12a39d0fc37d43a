// Shared helpers of the native benchmarks: random tensors on a device, per-device
// registration, and a loop that turns a missing op into a skipped benchmark.
#pragma once

#include <benchmark/benchmark.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lightning_core/lightning_core.h"

namespace lcb {

// Random normal float32 values (never zeros) times `scale`, on `device`.
inline lc::Tensor randn(lc::Shape shape, const std::string& device, float scale = 1.0f,
                        unsigned seed = 1) {
  lc::Tensor host(shape, lc::DType::f32, lc::kCpu);
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  float* p = host.data<float>();
  for (std::int64_t i = 0; i < host.numel(); ++i) p[i] = dist(gen);
  return device == "cpu" ? host : host.to(device);
}

// A PyTorch-layout weight (out, in) scaled 1/sqrt(in).
inline lc::Tensor weight(std::int64_t out, std::int64_t in, const std::string& device,
                         unsigned seed = 2) {
  return randn({out, in}, device, 1.0f / std::sqrt(static_cast<float>(in)), seed);
}

inline std::vector<std::string> devices() {
  std::vector<std::string> d{"cpu"};
  if (lc::cuda_available()) d.push_back("cuda");
  return d;
}

inline lc::Policy policy(const std::string& device, lc::Precision p = lc::Precision::fp32) {
  lc::Policy pol;
  pol.device = device;
  pol.precision = p;
  return pol;
}

// Times `body` (which must leave the device idle: ops sync by default). An lc::Error on the
// first call (an op not there yet, an unsupported precision) skips the benchmark with its message.
inline void run(benchmark::State& st, const std::function<void()>& body, double flops,
                double bytes) {
  try {
    body();
  } catch (const lc::Error& e) {
    st.SkipWithError(e.what());
    return;
  }
  for (auto _ : st) body();
  st.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["bytes/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1024);
}

using Case = std::function<void(benchmark::State&, const std::string& device)>;

// Registers `fn` as "<name>/<device>" for every device present.
inline void add(const std::string& name, const Case& fn) {
  for (const auto& dev : devices()) {
    benchmark::RegisterBenchmark((name + "/" + dev).c_str(),
                                 [fn, dev](benchmark::State& st) { fn(st, dev); })
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

using PrecisionCase =
    std::function<void(benchmark::State&, const std::string& device, lc::Precision precision)>;

// Registers "<name>/<device>/<precision>": fp32 on the CPU, fp32/tf32/bf16/fp16 on CUDA.
inline void add_precisions(const std::string& name, const PrecisionCase& fn) {
  using P = lc::Precision;
  for (const auto& dev : devices()) {
    const std::vector<P> ps =
        dev == "cpu" ? std::vector<P>{P::fp32} : std::vector<P>{P::fp32, P::tf32, P::bf16, P::fp16};
    for (P p : ps) {
      benchmark::RegisterBenchmark((name + "/" + dev + "/" + lc::precision_name(p)).c_str(),
                                   [fn, dev, p](benchmark::State& st) { fn(st, dev, p); })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

inline int main(int argc, char** argv, const std::function<void()>& register_all) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace lcb
