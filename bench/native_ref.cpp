// The native reference loop of the benchmarks: plain C++, not part of optcore (bench/_native.py compiles it with
// the system g++, with and without FMA, and bench_sgd.py / bench_mlp.py report their rows as ratios to it).
//
//   native_ref sgd PROBLEM ORDER R N K STEP SEED   -> one line: wall_s cpu_s mean_final_record
//   native_ref peak SECONDS                        -> one line per kernel: name gflops
//
// sgd: the semantics of optcore.run_sgd(problem, order=ORDER, epochs=K, step_size=STEP, runs=R, x0=0, batch 1,
// record=("gap",) for least squares, ("objective",) for logistic) on the data in stdin (float64 text: A (N, D = 20),
// b or y (N,), H (D, D), x* (D,)): K epochs of N single-component steps x <- x - STEP grad f_i(x) per run, l2 = 0,
// the record at every epoch end (least squares: the gap 1/2 e'He with e = x - x*; logistic: the objective),
// iterates in float64. Four runs advance
// together, interleaved, each gathering its own row, so that four independent dependency chains overlap; D is a
// compile-time constant. Orders: with_replacement draws i.i.d. uniform indices, random_reshuffling a fresh
// Fisher-Yates permutation per run and epoch, single_shuffle one per run, incremental the identity. The indices
// come from a per-run xoshiro256** stream (seeded by splitmix64 from SEED and the run index) and Lemire's
// multiply-shift reduction: the same distributions as optcore's Philox streams, not the same bits. The orders are
// drawn inside the timed region, like every benchmark implementation.
//
// peak: the FMA peak of one core, measured: independent accumulator chains (more than latency x throughput) of
// fused multiply-adds on the widest vectors the CPU has (AVX-512 where __builtin_cpu_supports("avx512f"), else
// AVX2+FMA), f64 and f32, and the same with separate multiplies and adds. Each kernel is compiled for its
// instruction set (target attributes) and chosen at run time, so the peak does not depend on the build flags.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

constexpr int D = 20;
constexpr int kLanes = 4;  // partial sums of a dot product: one AVX2 register of doubles (D % kLanes == 0)
static_assert(D % kLanes == 0);

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// CPU time of the calling thread: on a loaded machine a timing in CPU time does not count the time the thread
/// waited for a core (the peak kernels and the loop touch little memory, so their CPU time is their work).
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// ------------------------------------------------------------------------------------------------ random streams

std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Xoshiro {
  std::uint64_t s[4];
  Xoshiro(std::uint64_t seed, std::uint64_t run) {
    std::uint64_t x = seed ^ (run * 0xD1B54A32D192ED03ull);
    for (auto& w : s) w = splitmix64(x);
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return result;
  }
  /// uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for the n used here)
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
};

void shuffle(std::uint32_t* p, std::uint32_t n, Xoshiro& g) {
  for (std::uint32_t i = n - 1; i > 0; --i) std::swap(p[i], p[g.below(i + 1)]);
}

enum class Order { with_replacement, random_reshuffling, single_shuffle, incremental };

Order parse_order(const std::string& s) {
  if (s == "with_replacement") return Order::with_replacement;
  if (s == "random_reshuffling") return Order::random_reshuffling;
  if (s == "single_shuffle") return Order::single_shuffle;
  if (s == "incremental") return Order::incremental;
  std::fprintf(stderr, "unknown order %s\n", s.c_str());
  std::exit(2);
}

// ------------------------------------------------------------------------------------------------ the SGD loop

struct Data {
  std::uint32_t n = 0;
  std::vector<double> A, b, H, x_star;  // A (n, D), b (n,), H (D, D), x_star (D,)
  bool logistic = false;
};

/// The step's coefficient c with grad f_i(x) = c a_i: least squares a_i'x - b_i, logistic -y_i / (1 + exp(y_i a_i'x)).
inline double coefficient(double m, double b, bool logistic) {
  return logistic ? -b / (1.0 + std::exp(b * m)) : m - b;
}

/// What optcore records at an epoch end: least squares the gap 1/2 e'He (e = x - x*, O(D^2)); logistic the
/// objective F(x) = mean log(1 + exp(-y a'x)) (O(n D), as optcore's record=("objective",)).
template <bool Logistic>
double epoch_record(const Data& data, const double* x) {
  if (Logistic) {
    double f = 0;
    for (std::uint32_t i = 0; i < data.n; ++i) {
      double m = 0;
      for (int j = 0; j < D; ++j) m += data.A[static_cast<std::size_t>(i) * D + j] * x[j];
      f += std::log1p(std::exp(-data.b[i] * m));
    }
    return f / data.n;
  }
  double e[D], q = 0;
  for (int j = 0; j < D; ++j) e[j] = x[j] - data.x_star[j];
  for (int r = 0; r < D; ++r) {
    double hr = 0;
    for (int j = 0; j < D; ++j) hr += data.H[r * D + j] * e[j];
    q += e[r] * hr;
  }
  return 0.5 * q;
}

/// L runs (1 or 4) from x[0..L) over K epochs; perm[l] is run l's permutation (random and single shuffling).
template <int L, Order O, bool Logistic>
void advance(const Data& data, double step, std::int64_t K, double* const* xout, Xoshiro* g,
             std::uint32_t* const* perm, double* record) {
  const std::uint32_t n = data.n;
  const double* __restrict A = data.A.data();
  const double* __restrict b = data.b.data();
  alignas(64) double x[L][D];  // the runs' iterates stay in registers or L1 for the whole call
  for (int l = 0; l < L; ++l) std::copy_n(xout[l], D, x[l]);
  for (std::int64_t k = 0; k < K; ++k) {
    if (O == Order::random_reshuffling || (O == Order::single_shuffle && k == 0))
      for (int l = 0; l < L; ++l) shuffle(perm[l], n, g[l]);
    for (std::uint32_t t = 0; t < n; ++t) {
      const double* __restrict a[L];  // each run gathers its own row
      for (int l = 0; l < L; ++l) {
        const std::uint32_t i = O == Order::with_replacement ? g[l].below(n) : O == Order::incremental ? t : perm[l][t];
        a[l] = A + static_cast<std::size_t>(i) * D;
        __builtin_prefetch(a[l] + D);
      }
      double m[L];
      for (int l = 0; l < L; ++l) {  // L independent dot products: the chains overlap
        double s[kLanes] = {};      // kLanes partial sums (one vector register), added at the end
        for (int j = 0; j < D; j += kLanes)
          for (int v = 0; v < kLanes; ++v) s[v] += a[l][j + v] * x[l][j + v];
        double total = 0;
        for (int v = 0; v < kLanes; ++v) total += s[v];
        m[l] = total;
      }
      for (int l = 0; l < L; ++l) {
        const std::size_t row = static_cast<std::size_t>(a[l] - A) / D;
        const double c = step * coefficient(m[l], b[row], Logistic);
        for (int j = 0; j < D; ++j) x[l][j] -= c * a[l][j];
      }
    }
    for (int l = 0; l < L; ++l) record[l] = epoch_record<Logistic>(data, x[l]);
  }
  for (int l = 0; l < L; ++l) std::copy_n(x[l], D, xout[l]);
}

template <int L>
void advance(const Data& data, Order order, double step, std::int64_t K, double* const* x, Xoshiro* g,
             std::uint32_t* const* perm, double* record) {
  const bool lg = data.logistic;
  switch (order) {
    case Order::with_replacement:
      return lg ? advance<L, Order::with_replacement, true>(data, step, K, x, g, perm, record)
                : advance<L, Order::with_replacement, false>(data, step, K, x, g, perm, record);
    case Order::random_reshuffling:
      return lg ? advance<L, Order::random_reshuffling, true>(data, step, K, x, g, perm, record)
                : advance<L, Order::random_reshuffling, false>(data, step, K, x, g, perm, record);
    case Order::single_shuffle:
      return lg ? advance<L, Order::single_shuffle, true>(data, step, K, x, g, perm, record)
                : advance<L, Order::single_shuffle, false>(data, step, K, x, g, perm, record);
    case Order::incremental:
      return lg ? advance<L, Order::incremental, true>(data, step, K, x, g, perm, record)
                : advance<L, Order::incremental, false>(data, step, K, x, g, perm, record);
  }
}

int run_sgd(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: native_ref sgd least_squares|logistic ORDER R N K STEP SEED < data\n");
    return 2;
  }
  Data data;
  data.logistic = std::string(argv[2]) == "logistic";
  const Order order = parse_order(argv[3]);
  const std::int64_t R = std::atoll(argv[4]);
  data.n = static_cast<std::uint32_t>(std::atoll(argv[5]));
  const std::int64_t K = std::atoll(argv[6]);
  const double step = std::atof(argv[7]);
  const std::uint64_t seed = std::strtoull(argv[8], nullptr, 10);
  data.A.resize(static_cast<std::size_t>(data.n) * D);
  data.b.resize(data.n);
  data.H.resize(D * D);
  data.x_star.resize(D);
  for (auto* v : {&data.A, &data.b, &data.H, &data.x_star})
    for (double& e : *v)
      if (std::scanf("%lf", &e) != 1) {
        std::fprintf(stderr, "short input\n");
        return 2;
      }

  std::vector<double> x(static_cast<std::size_t>(R) * D), gap(R);
  std::vector<std::uint32_t> perms(static_cast<std::size_t>(R) * data.n);
  const auto t0 = Clock::now();  // the timed region: orders, steps, records
  const double c0 = thread_cpu_seconds();
  for (std::int64_t r0 = 0; r0 < R; r0 += 4) {
    const int L = R - r0 >= 4 ? 4 : 1;
    for (int l0 = 0; l0 < (R - r0 >= 4 ? 1 : static_cast<int>(R - r0)); ++l0) {
      double* xs[4];
      std::uint32_t* ps[4];
      Xoshiro gs[4] = {{seed, 0}, {seed, 0}, {seed, 0}, {seed, 0}};
      for (int l = 0; l < L; ++l) {
        const std::int64_t r = r0 + l0 + l;
        xs[l] = x.data() + r * D;
        ps[l] = perms.data() + r * data.n;
        gs[l] = Xoshiro(seed, static_cast<std::uint64_t>(r));
        std::fill_n(xs[l], D, 0.0);
        for (std::uint32_t t = 0; t < data.n; ++t) ps[l][t] = t;
      }
      if (L == 4)
        advance<4>(data, order, step, K, xs, gs, ps, gap.data() + r0);
      else
        advance<1>(data, order, step, K, xs, gs, ps, gap.data() + r0 + l0);
    }
  }
  const double secs = seconds_since(t0), cpu = thread_cpu_seconds() - c0;
  double mean_gap = 0;
  for (double v : gap) mean_gap += v / static_cast<double>(R);
  std::printf("%.9g %.9g %.9g\n", secs, cpu, mean_gap);
  return 0;
}

// ------------------------------------------------------------------------------------------------ the FMA peak

// Accumulator chains per kernel: FMA latency 4-5 cycles x 2 units needs >= 10 chains; AVX-512 has 32 registers.
constexpr int kChains256 = 12, kChains512 = 24;

template <int C>
__attribute__((target("avx2,fma"))) double fma_avx2_f64(std::int64_t iters) {
  __m256d acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_set1_pd(1.0 + c * 1e-3);
  const __m256d m = _mm256_set1_pd(0.999999), a = _mm256_set1_pd(1e-7);
  for (std::int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < C; ++c) acc[c] = _mm256_fmadd_pd(acc[c], m, a);
  __m256d s = acc[0];
  for (int c = 1; c < C; ++c) s = _mm256_add_pd(s, acc[c]);
  double out[4];
  _mm256_storeu_pd(out, s);
  return out[0] + out[1] + out[2] + out[3];
}

template <int C>
__attribute__((target("avx2,fma"))) double fma_avx2_f32(std::int64_t iters) {
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_set1_ps(1.0f + c * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.9999f), a = _mm256_set1_ps(1e-5f);
  for (std::int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < C; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  __m256 s = acc[0];
  for (int c = 1; c < C; ++c) s = _mm256_add_ps(s, acc[c]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

template <int C>
__attribute__((target("avx2"))) double muladd_avx2_f64(std::int64_t iters) {  // separate multiply and add
  __m256d acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_set1_pd(1.0 + c * 1e-3);
  const __m256d m = _mm256_set1_pd(0.999999), a = _mm256_set1_pd(1e-7);
  for (std::int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < C; ++c) acc[c] = _mm256_add_pd(_mm256_mul_pd(acc[c], m), a);
  __m256d s = acc[0];
  for (int c = 1; c < C; ++c) s = _mm256_add_pd(s, acc[c]);
  double out[4];
  _mm256_storeu_pd(out, s);
  return out[0] + out[3];
}

template <int C>
__attribute__((target("avx512f"))) double fma_avx512_f64(std::int64_t iters) {
  __m512d acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_set1_pd(1.0 + c * 1e-3);
  const __m512d m = _mm512_set1_pd(0.999999), a = _mm512_set1_pd(1e-7);
  for (std::int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < C; ++c) acc[c] = _mm512_fmadd_pd(acc[c], m, a);
  __m512d s = acc[0];
  for (int c = 1; c < C; ++c) s = _mm512_add_pd(s, acc[c]);
  double out[8];
  _mm512_storeu_pd(out, s);
  return out[0] + out[7];
}

template <int C>
__attribute__((target("avx512f"))) double fma_avx512_f32(std::int64_t iters) {
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_set1_ps(1.0f + c * 1e-3f);
  const __m512 m = _mm512_set1_ps(0.9999f), a = _mm512_set1_ps(1e-5f);
  for (std::int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < C; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  __m512 s = acc[0];
  for (int c = 1; c < C; ++c) s = _mm512_add_ps(s, acc[c]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0] + out[15];
}

template <int C>
__attribute__((target("avx512f"))) double muladd_avx512_f64(std::int64_t iters) {
  __m512d acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_set1_pd(1.0 + c * 1e-3);
  const __m512d m = _mm512_set1_pd(0.999999), a = _mm512_set1_pd(1e-7);
  for (std::int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < C; ++c) acc[c] = _mm512_add_pd(_mm512_mul_pd(acc[c], m), a);
  __m512d s = acc[0];
  for (int c = 1; c < C; ++c) s = _mm512_add_pd(s, acc[c]);
  double out[8];
  _mm512_storeu_pd(out, s);
  return out[0] + out[7];
}

/// Flops per CPU second of kernel(iters) doing `flops_per_iter`: the best of 5 timings of about `secs` / 5 each.
template <class Kernel>
double rate(Kernel kernel, double flops_per_iter, double secs) {
  std::int64_t iters = 1 << 16;
  volatile double sink = 0;
  for (;;) {  // calibrate to about secs / 5 per timing
    const double t0 = thread_cpu_seconds();
    sink = sink + kernel(iters);
    if (thread_cpu_seconds() - t0 > secs / 50) break;
    iters *= 2;
  }
  iters *= 10;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = thread_cpu_seconds();
    sink = sink + kernel(iters);
    best = std::max(best, flops_per_iter * static_cast<double>(iters) / (thread_cpu_seconds() - t0));
  }
  return best;
}

int run_peak(int argc, char** argv) {
  const double secs = argc > 2 ? std::atof(argv[2]) : 1.0;
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f"), fma = __builtin_cpu_supports("fma");
  if (avx512) {
    const int c = kChains512;
    std::printf("fma_f64 %.6g avx512 %d\n", rate(fma_avx512_f64<kChains512>, 2.0 * 8 * c, secs) / 1e9, c);
    std::printf("fma_f32 %.6g avx512 %d\n", rate(fma_avx512_f32<kChains512>, 2.0 * 16 * c, secs) / 1e9, c);
    std::printf("muladd_f64 %.6g avx512 %d\n", rate(muladd_avx512_f64<kChains512>, 2.0 * 8 * c, secs) / 1e9, c);
  } else if (fma) {
    const int c = kChains256;
    std::printf("fma_f64 %.6g avx2 %d\n", rate(fma_avx2_f64<kChains256>, 2.0 * 4 * c, secs) / 1e9, c);
    std::printf("fma_f32 %.6g avx2 %d\n", rate(fma_avx2_f32<kChains256>, 2.0 * 8 * c, secs) / 1e9, c);
    std::printf("muladd_f64 %.6g avx2 %d\n", rate(muladd_avx2_f64<kChains256>, 2.0 * 4 * c, secs) / 1e9, c);
  } else {
    std::fprintf(stderr, "this CPU has neither AVX-512 nor AVX2+FMA: no peak kernel\n");
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "sgd") == 0) return run_sgd(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "peak") == 0) return run_peak(argc, argv);
  std::fprintf(stderr, "usage: native_ref sgd ... | native_ref peak [SECONDS]\n");
  return 2;
}
