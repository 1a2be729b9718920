// The narrow networks' batch gradient two ways, timed in CPU time on one thread: the register-blocked pass that
// networks up to 64 wide take (SmallBatch<T>::add_grad_batch, cpp/include/optcore/mlp_small.hpp) and the
// matrix-product pass of wider networks (mlp_gemm::add_grad through OpenBLAS's cblas_?gemm, as registered by
// python/optcore/_blas.py). Widths (10, W, W, 1), ReLU, squared loss, one full batch of n examples, AVX2 copy.
// Issue 18 item 6: which pass wins at which shape, measured. Not part of the package; build and run by hand:
//
//   g++ -std=c++17 -O3 -ffp-contract=off -Icpp/include bench/mlp_narrow_vs_blas.cpp -o /tmp/narrow_vs_blas -ldl
//   taskset -c 1 /tmp/narrow_vs_blas f64 64 1024 50 $(python -c "import optcore._blas as b; print(b.info()['library'])")
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>
#include <ctime>
#include <dlfcn.h>
#pragma GCC target("avx2")
#define OPTCORE_ISA_NAME avx2
#define OPTCORE_TARGET_AVX2 1
#include "optcore/mlp.hpp"
using namespace optcore;
/** The fastest of 7 timings of reps calls, CPU seconds per call. */
template <class T, class F>
double timeit(F f, int reps) {
  std::vector<double> ts;
  for (int r = 0; r < 7; ++r) {
    std::clock_t c0 = std::clock();
    for (int k = 0; k < reps; ++k) f();
    ts.push_back(double(std::clock() - c0) / CLOCKS_PER_SEC / reps);
  }
  std::sort(ts.begin(), ts.end());
  return ts[0];
}
template <class T>
void run(int W, int n, int reps) {
  const int din = 10;
  std::vector<std::int64_t> widths{din, W, W, 1};
  std::mt19937_64 rng(42);
  std::normal_distribution<double> nd;
  std::vector<T> X(n * din), Y(n);
  for (auto& x : X) x = T(nd(rng));
  for (auto& y : Y) y = T(nd(rng));
  MLP<T> net{};
  net.widths = widths.data(); net.layers = 3; net.bias = true;
  net.act = ActivationFn<T>{Activation::relu, T(1), T(0)};
  net.loss = NetLoss::squared; net.X = X.data(); net.Y = Y.data(); net.n = n; net.scale = T(1) / T(n);
  net.d = MLP<T>::count_params(widths.data(), 3, true);
  std::vector<T> theta(net.d), g(net.d, T(0)), g2(net.d, T(0));
  for (auto& t : theta) t = T(nd(rng) * 0.2);
  std::vector<std::uint32_t> idx(n);
  for (int i = 0; i < n; ++i) idx[i] = i;
  std::vector<double> losses(n);
  double lt = 0;
  const double ts = timeit<T>([&] { SmallBatch<T>::add_grad_batch(net, idx.data(), n, 0, theta.data(), g.data(), T(-0.01), losses.data()); }, reps);
  const double tg = timeit<T>([&] { mlp_gemm::add_grad(net, idx.data(), n, 0, theta.data(), g2.data(), T(-0.01), &lt); }, reps);
  std::printf("%s W=%d n=%d: register-blocked %.1f us, gemm (OpenBLAS) %.1f us, ratio %.2f\n", sizeof(T) == 8 ? "f64" : "f32", W, n,
              ts * 1e6, tg * 1e6, ts / tg);
}
int main(int argc, char** argv) {
  if (argc < 6) {
    std::printf("usage: %s f32|f64 W n reps LIBSCIPY_OPENBLAS.so\n", argv[0]);
    return 2;
  }
  void* h = dlopen(argv[5], RTLD_NOW | RTLD_LOCAL);
  if (!h) { std::printf("cannot load %s\n", argv[5]); return 1; }
  auto ns = reinterpret_cast<void (*)(int)>(dlsym(h, "scipy_openblas_set_num_threads"));
  if (ns) ns(1);
  gemm_functions.sgemm = reinterpret_cast<CblasSgemm>(dlsym(h, "scipy_cblas_sgemm"));
  gemm_functions.dgemm = reinterpret_cast<CblasDgemm>(dlsym(h, "scipy_cblas_dgemm"));
  if (!gemm_functions.sgemm.load() || !gemm_functions.dgemm.load()) { std::printf("no symbols\n"); return 1; }
  const bool f64 = std::string(argv[1]) == "f64";
  const int W = std::atoi(argv[2]), n = std::atoi(argv[3]), reps = std::atoi(argv[4]);
  f64 ? run<double>(W, n, reps) : run<float>(W, n, reps);
}
