// The engine alone, without Python: optcore::run_sgd (the AVX2 copy, as cpp/bindings/sgd_avx2.cpp compiles it) on
// least squares n = 1000, d = 20 (Gaussian A and b), K = 20 epochs, x0 = 0, step 0.01, the gap recorded at every
// epoch end -- the shape of bench_sgd.py's problem -- for profiling the loops (perf record -e cpu-clock) and comparing two trees' headers:
//
//   g++ -std=c++17 -O3 -ffp-contract=off -g -I TREE/cpp/include -o /tmp/engine_harness bench/engine_harness.cpp -lpthread
//   taskset -c 1 /tmp/engine_harness ORDER_CODE R CALLS [L2] [EVICT_MB]
//
// ORDER_CODE is optcore.orders' code (0 with-replacement, 1 random reshuffling, 2 single shuffle, 3 incremental);
// EVICT_MB > 0 writes that many MB before each call (a call with cold caches). Prints the median time of a call,
// the best rate in steps per second of thread CPU time, and a hash of the bytes of the final iterates and gaps
// (equal hashes: the same bits).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <immintrin.h>
#include <limits>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>
#include <ctime>
#include "optcore/config.hpp"
#include "optcore/stop.hpp"
#include "optcore/types.hpp"
#pragma GCC push_options
#pragma GCC target("avx2")
#define OPTCORE_ISA_NAME avx2
#define OPTCORE_TARGET_AVX2 1
#include "optcore/engine.hpp"
#include "optcore/problems.hpp"
#pragma GCC pop_options
using namespace optcore;
static double cpu() { timespec ts; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
int main(int argc, char** argv) {
  const int kind = argc > 1 ? atoi(argv[1]) : 3;
  const std::int64_t R = argc > 2 ? atoll(argv[2]) : 1024;
  const int calls = argc > 3 ? atoi(argv[3]) : 10;
  const std::int64_t n = 1000, d = 20, K = 20;
  std::mt19937_64 gen(1);
  std::normal_distribution<double> N01;
  std::vector<double> A(n * d), b(n), H(d * d, 0.0), xs(d, 0.0);
  for (auto& v : A) v = N01(gen);
  for (auto& v : b) v = N01(gen);
  for (int i = 0; i < n; ++i) for (int j = 0; j < d; ++j) for (int k = 0; k < d; ++k) H[j * d + k] += A[i * d + j] * A[i * d + k] / n;
  const double l2 = argc > 4 ? atof(argv[4]) : 0.0;
  LeastSquares<double> p{A.data(), b.data(), n, d, l2};
  LoopSpec spec;
  spec.order.kind = static_cast<OrderKind>(kind);
  spec.order.per_worker = n; spec.order.count = n; spec.epochs = K;
  std::vector<std::uint64_t> seeds(R); std::vector<std::uint32_t> ids(R);
  for (int r = 0; r < R; ++r) seeds[r] = 12345 + r, ids[r] = r;
  std::vector<double> x(R * d), step{0.01}, decay(R, 0.0), gap(R * (K + 1));
  RunArrays<double> runs; runs.runs = R; runs.dim = d; runs.seeds = seeds.data(); runs.run_ids = ids.data(); runs.x = x.data();
  runs.step_table = step.data(); runs.decay = decay.data();
  Recording<double> rec; rec.x_star = xs.data(); rec.hessian = H.data(); rec.gap = gap.data();
  const int evict_mb = argc > 5 ? atoi(argv[5]) : 0;
  std::vector<double> junk(static_cast<std::size_t>(evict_mb) << 17, 1.0);
  std::vector<double> times;
  double best = 1e9, sum = 0;
  for (int c = 0; c < calls; ++c) {
    std::fill(x.begin(), x.end(), 0.0);
    for (auto& v : junk) v += 1.0;  // evicts the caches (argv[5] MB)
    const double t0 = cpu();
    run_sgd<double>(p, spec, runs, rec);
    const double t = cpu() - t0;
    best = std::min(best, t);
    times.push_back(t);
  }
  std::uint64_t hsh = 1469598103934665603ull;
  auto mix = [&](const std::vector<double>& v) { const unsigned char* c = (const unsigned char*)v.data(); for (size_t k = 0; k < v.size() * 8; ++k) hsh = (hsh ^ c[k]) * 1099511628211ull; };
  mix(x); mix(gap); sum = (double)(hsh >> 11);
  std::sort(times.begin(), times.end());
  std::printf("median %.1f us ", times[times.size() / 2] * 1e6);
  std::printf("order %d R %lld best %.1f M steps/s  hash %.17g\n", kind, (long long)R, R * n * K / best / 1e6, sum);
}
