/** @file mlp_lanes.hpp
 *  Batch gradients of several networks at once, one network per vector lane, for runs that share their order
 *  (full-batch gradient descent, incremental orders): every network sees the same examples at the same step, so
 *  an input value is broadcast to all lanes and each weight of the lanes' networks is one vector. For a group of
 *  small networks this replaces per-network passes of dozens of short loops by one pass of W-wide vector loops.
 *
 *  Each lane computes exactly what MLP::add_grad_batch() computes for its network alone -- the same products,
 *  sums in the same order, the same derivative convention -- so a run's bits do not depend on which pass it went
 *  through (tests/test_nn_group.py checks the two bit for bit). That arithmetic is the one-example order of
 *  add_grad() (mlp_small.hpp computes it for a run alone): forward sums use dot()'s eight partial sums, then add
 *  the bias; gradient terms (scale * delta) * input are added in example order.
 */
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/engine.hpp"
#include "optcore/isa.hpp"
#include "optcore/mlp.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

namespace detail {

template <class T>
struct GroupBatchGrad<MLP<T>> {
  static constexpr int W = 32 / static_cast<int>(sizeof(T));  ///< networks per pass: one AVX2 register
  /** W lanes of T, one network each (two SSE registers in the portable build). */
  typedef T Lanes __attribute__((vector_size(32)));
  static constexpr bool available = true;

  /** Fewer live runs than this go through the per-network pass (same bits, less wasted work). */
  static constexpr int kMinRuns = W / 2;

  /**
   * Whether the lanes pass pays for this network shape: narrow layers, and the lanes' parameters and two
   * gradient accumulators within the L2 cache.
   */
  static bool pays(const MLP<T>& net) {
    if (net.group) return false;  // masked or tied networks project their gradients: the per-network pass does it
    std::int64_t widest = 0;
    for (int l = 0; l <= net.layers; ++l) widest = std::max(widest, net.widths[l]);
    return widest <= 64 && 3 * static_cast<std::size_t>(net.d) * sizeof(Lanes) <= 256 * 1024;
  }

  /** Per-thread buffers, one Lanes per parameter (theta, total) or unit (z; a and delta per block slot), aligned. */
  struct Scratch {
    std::vector<T> store;
    Lanes *theta, *total, *z, *a, *delta;
    std::vector<T> out, dout;
    std::vector<std::int64_t> unit_off, w_off;
    std::vector<double> loss_store;        ///< (n, W) example losses, when grads() also gives the objective
    std::vector<double>* losses = nullptr;  ///< &loss_store while it is being filled
    bool count_right = false;               ///< whether grads() also counts the examples classified correctly
    std::int64_t right[W] = {};             ///< ... per lane
  };

  /**
   * grads[g] = the gradient of batch idx[0..b) (examples base + idx[e]) at thetas[g], g < count, exactly as
   * MLP::add_grad_batch(idx, b, base, thetas[g], grads[g], 1) leaves it in a zero-filled grads[g]. When the batch
   * holds every example once (base 0), objective[g] and accuracy[g] (each where not null) get MLP::objective() and
   * MLP::accuracy() at thetas[g] from the same forward pass (the same outputs, so the same bits).
   */
  static void grads(const MLP<T>& net, const std::uint32_t* idx, std::int64_t b, std::int64_t base,
                    const T* const* thetas, T* const* grads, int count, T* objective = nullptr,
                    T* accuracy = nullptr) {
    thread_local Scratch sc;
    prepare(net, sc);
    sc.losses = objective ? &sc.loss_store : nullptr;
    if (objective) sc.loss_store.assign(static_cast<std::size_t>(net.n) * W, 0.0);
    sc.count_right = accuracy != nullptr;
    const std::int64_t P = net.d;
    for (int g0 = 0; g0 < count; g0 += W) {
      const int used = std::min(W, count - g0);
      load_lanes(sc, thetas + g0, used, P);
      std::fill_n(sc.right, W, 0);
      std::fill_n(sc.total, P, zero());
      for (std::int64_t e = 0; e < b;) {
        int k = 0;
        while (k < kBlock && e < b) {
          if (k + kPair <= kBlock && e + kPair <= b) {
            const std::int64_t pair[kPair] = {base + idx[e], base + idx[e + 1]};
            examples<kPair>(net, sc, pair, used, k);
            k += kPair, e += kPair;
          } else {
            const std::int64_t one = base + idx[e];
            examples<1>(net, sc, &one, used, k);
            ++k, ++e;
          }
        }
        accumulate(net, sc, k, sc.total, net.scale);
      }
      to_runs(sc.total, grads + g0, used, P);
      if (objective) {  // as MLP::objective(): the example losses summed in example order, in double
        double total[W] = {};
        for (std::int64_t i = 0; i < net.n; ++i)  // the lanes' sums side by side: W chains of additions, not one
          for (int l = 0; l < W; ++l) total[l] += sc.loss_store[i * W + l];
        for (int l = 0; l < used; ++l) objective[g0 + l] = net.mean_loss(total[l]);
      }
      if (accuracy)
        for (int l = 0; l < used; ++l) accuracy[g0 + l] = net.fraction_right(sc.right[l]);
    }
    sc.count_right = false;
  }

  /**
   * objective[g] and (if accuracy is not null) accuracy[g] at thetas[g], g < count, with the bits of
   * MLP::objective() and MLP::accuracy() for each network alone.
   */
  static void record(const MLP<T>& net, const T* const* thetas, int count, T* objective, T* accuracy) {
    thread_local Scratch sc;
    prepare(net, sc);
    const std::int64_t P = net.d, k = net.out_dim(), d0 = net.widths[0];
    const Lanes* out = sc.z + sc.unit_off[net.layers];
    for (int g0 = 0; g0 < count; g0 += W) {
      const int used = std::min(W, count - g0);
      load_lanes(sc, thetas + g0, used, P);
      double total[W] = {};
      std::int64_t right[W] = {};
      for (std::int64_t i = 0; i < net.n; ++i) {
        const T* x = net.X + i * d0;
        forward<1>(net, sc, &x, &sc.a, &sc.z);
        for (int l = 0; l < used; ++l) {
          for (std::int64_t j = 0; j < k; ++j) sc.out[j] = out[j][l];
          total[l] += net.example_loss(i, sc.out.data());
        }
        if (accuracy) {
          for (int l = 0; l < used; ++l) {
            for (std::int64_t j = 0; j < k; ++j) sc.out[j] = out[j][l];
            right[l] += net.classified(i, sc.out.data());
          }
        }
      }
      for (int l = 0; l < used; ++l) {
        objective[g0 + l] = net.mean_loss(total[l]);
        if (accuracy) accuracy[g0 + l] = net.fraction_right(right[l]);
      }
    }
  }

 private:
  static Lanes zero() { return Lanes{} * T(0); }
  /** W copies of t (see SmallBatch::splat(): the portable build's `t * vector` is slow). */
  static Lanes splat(T t) { return SmallBatch<T>::splat(t); }

  /**
   * grads[l][q] = 0 + total[q][l] for the lanes l < used: the lanes' sums back to the runs' gradients, W
   * parameters at a time as a W x W transpose in registers.
   */
  static void to_runs(const Lanes* total, T* const* grads, int used, std::int64_t P) {
    std::int64_t q0 = 0;
    for (; q0 + W <= P; q0 += W) {
      Lanes r[W];
      for (int i = 0; i < W; ++i) r[i] = zero() + total[q0 + i];
      SmallBatch<T>::transpose(r);
      for (int l = 0; l < used; ++l) std::memcpy(grads[l] + q0, &r[l], sizeof(Lanes));
    }
    for (std::int64_t q = q0; q < P; ++q) {
      const Lanes v = zero() + total[q];
      for (int l = 0; l < used; ++l) grads[l][q] = v[l];
    }
  }

  /** sc.theta = the parameters of networks thetas[0..used) in lanes 0..used (zeros in the other lanes). */
  static void load_lanes(Scratch& sc, const T* const* thetas, int used, std::int64_t P) {
    std::int64_t q0 = 0;
    for (; q0 + W <= P; q0 += W) {
      Lanes r[W];
      for (int l = 0; l < W; ++l) {
        r[l] = zero();
        if (l < used) std::memcpy(&r[l], thetas[l] + q0, sizeof(Lanes));
      }
      SmallBatch<T>::transpose(r);
      for (int i = 0; i < W; ++i) sc.theta[q0 + i] = r[i];
    }
    for (std::int64_t q = q0; q < P; ++q)
      for (int l = 0; l < W; ++l) sc.theta[q][l] = l < used ? thetas[l][q] : T(0);
  }

  static void prepare(const MLP<T>& net, Scratch& sc) {
    const int L = net.layers;
    sc.unit_off.assign(L + 2, 0);
    sc.w_off.assign(L + 1, 0);
    for (int l = 0; l <= L; ++l) sc.unit_off[l + 1] = sc.unit_off[l] + net.widths[l];
    for (int l = 0; l < L; ++l)
      sc.w_off[l + 1] = sc.w_off[l] + net.widths[l + 1] * net.widths[l] + (net.bias ? net.widths[l + 1] : 0);
    const std::size_t P = static_cast<std::size_t>(net.d), U = static_cast<std::size_t>(sc.unit_off[L + 1]);
    sc.store.resize((2 * P + (kPair + 2 * kBlock) * U + 1) * W);
    const std::uintptr_t raw = reinterpret_cast<std::uintptr_t>(sc.store.data());
    Lanes* next = reinterpret_cast<Lanes*>((raw + sizeof(Lanes) - 1) / sizeof(Lanes) * sizeof(Lanes));
    for (Lanes** p : {&sc.theta, &sc.total}) *p = next, next += P;
    sc.z = next, next += kPair * U;
    for (Lanes** p : {&sc.a, &sc.delta}) *p = next, next += kBlock * U;
    sc.out.resize(net.out_dim());
    sc.dout.resize(net.out_dim());
  }

  /** sc.right[lane] += whether example i is classified correctly (MLP::classified()) from its outputs zout. */
  static void count_right(const MLP<T>& net, Scratch& sc, std::int64_t i, int used, const Lanes* zout) {
    const std::int64_t kout = net.out_dim();
    if (kout == 1 && net.loss != NetLoss::softmax_ce) {  // classified()'s sign agreement, every lane at once
      const bool positive = net.Y[i] > T(0);  // y_cols() is 1 here
      for (int lane = 0; lane < used; ++lane) sc.right[lane] += (zout[0][lane] > T(0)) == positive;
      return;
    }
    for (int lane = 0; lane < used; ++lane) {
      for (std::int64_t j = 0; j < kout; ++j) sc.out[j] = zout[j][lane];
      sc.right[lane] += net.classified(i, sc.out.data());
    }
  }

  /** dout = the loss gradient of example i in each used lane (zero in the others), one lane at a time. */
  static void loss_gradients(const MLP<T>& net, Scratch& sc, std::int64_t i, int used, const Lanes* zout,
                             Lanes* dout) {
    const std::int64_t kout = net.out_dim();
    for (int lane = 0; lane < W; ++lane) {
      if (lane >= used) {
        for (std::int64_t j = 0; j < kout; ++j) dout[j][lane] = T(0);
        continue;
      }
      for (std::int64_t j = 0; j < kout; ++j) sc.out[j] = zout[j][lane];
      if (sc.losses) (*sc.losses)[i * W + lane] = net.example_loss(i, sc.out.data());
      net.loss_gradient(i, sc.out.data(), sc.dout.data());
      for (std::int64_t j = 0; j < kout; ++j) dout[j][lane] = sc.dout[j];
    }
  }

  /**
   * The forward pass of examples xs[e] (d_0 inputs each), e < E, through the lanes' networks: fills zs[e] and
   * the activations acts[e] (U lanes each; layer 0 of the activations is the inputs broadcast to every lane).
   * E examples at once interleave E independent sets of chains of additions.
   */
  template <int E>
  static void forward(const MLP<T>& net, const Scratch& sc, const T* const* xs, Lanes* const* acts,
                      Lanes* const* zs) {
    const int L = net.layers;
    const Lanes* theta = sc.theta;
    // A broadcast -0 input becomes +0: every sum that takes it starts from +0, where a zero's sign never shows.
    for (int e = 0; e < E; ++e)
      for (std::int64_t q = 0; q < net.widths[0]; ++q) acts[e][q] = zero() + splat(xs[e][q]);
    for (int l = 1; l <= L; ++l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], off = sc.w_off[l - 1];
      const Lanes* in[E];
      Lanes* z[E];
      for (int e = 0; e < E; ++e) in[e] = acts[e] + sc.unit_off[l - 1], z[e] = zs[e] + sc.unit_off[l];
      const Lanes* b = bias_of(net, theta, off, rows, cols);
      if (cols <= 8) {
        dot_layer<1, E>(theta + off, b, rows, cols, in, z);
      } else if (cols <= 16) {
        dot_layer<2, E>(theta + off, b, rows, cols, in, z);
      } else {
        for (int e = 0; e < E; ++e) {
          std::int64_t r = 0;
          for (; r + 2 <= rows; r += 2) dot_rows<2>(theta + off, b, r, cols, in[e], z[e]);
          for (; r < rows; ++r) dot_rows<1>(theta + off, b, r, cols, in[e], z[e]);
        }
      }
      for (int e = 0; e < E; ++e) {
        Lanes* a = acts[e] + sc.unit_off[l];
        if (l < L)
          net.act.values(reinterpret_cast<const T*>(z[e]), reinterpret_cast<T*>(a), rows * W);
        else
          std::copy_n(z[e], rows, a);
      }
    }
  }

  static const Lanes* bias_of(const MLP<T>& net, const Lanes* theta, std::int64_t off, std::int64_t rows,
                              std::int64_t cols) {
    return net.bias ? theta + off + rows * cols : nullptr;
  }

  /** dot_rows() for layers of at most 8 NT inputs, for E examples: two rows at a time (one for two examples). */
  template <int NT, int E>
  static void dot_layer(const Lanes* Wl, const Lanes* b, std::int64_t rows, std::int64_t cols, const Lanes* const* in,
                        Lanes* const* z) {
    constexpr int RB = E == 1 ? 2 : 1;
    std::int64_t r = 0;
    for (; r + RB <= rows; r += RB) dot_rows_short<RB, NT, E>(Wl, b, r, cols, in, z);
    for (; r < rows; ++r) dot_rows_short<1, NT, E>(Wl, b, r, cols, in, z);
  }

  /**
   * dot_rows() for at most 8 NT inputs, for E examples: each partial sum (at most NT terms) is finished and
   * folded into the tree as soon as its partner is, so that few values are live and the RB rows' and E examples'
   * chains interleave without spills.
   */
  template <int RB, int NT, int E>
  static void dot_rows_short(const Lanes* Wl, const Lanes* b, std::int64_t r, std::int64_t cols,
                             const Lanes* const* in, Lanes* const* z) {
    // the partial sum over inputs j, j + 8, ... (at most NT terms) from +0; written through a reference because a
    // function returning a 32-byte vector has no fixed ABI in the portable (SSE2) build (-Wpsabi)
    auto partial = [&](int i, int e, int j, Lanes& p) {
      p = zero();
#pragma GCC unroll 4
      for (int m = 0; m < NT; ++m)
        if (j + 8 * m < cols) p += Wl[(r + i) * cols + j + 8 * m] * in[e][j + 8 * m];
    };
    auto pair_sum = [&](int i, int e, int j, Lanes& sum) {  // partial j + partial j + 4
      Lanes lo, hi;
      partial(i, e, j, lo);
      partial(i, e, j + 4, hi);
      sum = lo + hi;
    };
    // s[t] = partial j + partial j + 4 for j = 0, 2, 1, 3: the tree's first additions, in the order it uses them
    Lanes s[4][RB][E];
#pragma GCC unroll 4
    for (int i = 0; i < RB; ++i)
#pragma GCC unroll 4
      for (int e = 0; e < E; ++e) {
        pair_sum(i, e, 0, s[0][i][e]);
        pair_sum(i, e, 2, s[1][i][e]);
        pair_sum(i, e, 1, s[2][i][e]);
        pair_sum(i, e, 3, s[3][i][e]);
      }
#pragma GCC unroll 4
    for (int i = 0; i < RB; ++i)
#pragma GCC unroll 4
      for (int e = 0; e < E; ++e)
        z[e][r + i] = ((s[0][i][e] + s[1][i][e]) + (s[2][i][e] + s[3][i][e])) + (b ? b[r + i] : zero());
  }

  /**
   * z[r + i] = dot(W_{r+i}, in) + b_{r+i} for i < RB, in lanes: dot()'s eight partial sums over q mod 8 (from +0),
   * its fixed tree, then the bias. RB rows at once give RB independent chains of additions.
   */
  template <int RB>
  static void dot_rows(const Lanes* Wl, const Lanes* b, std::int64_t r, std::int64_t cols, const Lanes* in,
                       Lanes* z) {
    Lanes p[RB][8];
#pragma GCC unroll 4
    for (int i = 0; i < RB; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) p[i][j] = zero();
    for (std::int64_t q0 = 0; q0 < cols; q0 += 8) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        if (q0 + j >= cols) break;
        const Lanes v = in[q0 + j];
#pragma GCC unroll 4
        for (int i = 0; i < RB; ++i) p[i][j] += Wl[(r + i) * cols + q0 + j] * v;
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < RB; ++i)
      z[r + i] = (((p[i][0] + p[i][4]) + (p[i][2] + p[i][6])) + ((p[i][1] + p[i][5]) + (p[i][3] + p[i][7]))) +
                 (b ? b[r + i] : zero());
  }

  /// Examples whose activations and deltas are kept at once: accumulate() adds their gradient terms with the
  /// running sums held in registers, one load and store of a sum per block instead of per example.
  static constexpr int kBlock = 8;

  /** Examples taken through the forward pass at once (forward<kPair>): twice the independent chains. */
  static constexpr int kPair = 2;

  /**
   * Examples is[e], e < E, through the lanes' networks: forward pass, loss gradient and backpropagated deltas,
   * kept in block slots k + e (activations at sc.a + (k + e) U, the inputs broadcast as layer 0; deltas at
   * sc.delta + (k + e) U).
   */
  template <int E>
  static void examples(const MLP<T>& net, Scratch& sc, const std::int64_t* is, int used, int k) {
    const std::int64_t U = sc.unit_off[net.layers + 1];
    const T* xs[E];
    Lanes *acts[E], *zs[E];
    for (int e = 0; e < E; ++e) {
      xs[e] = net.X + is[e] * net.widths[0];
      acts[e] = sc.a + (k + e) * U;
      zs[e] = sc.z + e * U;
    }
    forward<E>(net, sc, xs, acts, zs);
    for (int e = 0; e < E; ++e) backward(net, sc, is[e], used, zs[e], sc.delta + (k + e) * U);
  }

  /** Example i's loss gradient and deltas (into `deltas`, U lanes) from its forward pass's pre-activations z. */
  static void backward(const MLP<T>& net, Scratch& sc, std::int64_t i, int used, const Lanes* z, Lanes* deltas) {
    const int L = net.layers;
    const Lanes* theta = sc.theta;
    // --- loss gradient: squared loss in lanes (MLP::example_loss() and loss_gradient()'s arithmetic), the other
    // losses one lane at a time
    const std::int64_t kout = net.out_dim();
    const Lanes* zout = z + sc.unit_off[L];
    Lanes* dout = deltas + sc.unit_off[L];
    if (sc.count_right) count_right(net, sc, i, used, zout);
    if (net.loss == NetLoss::squared) {
      const T* y = net.Y + i * kout;
      Lanes total = zero();
      for (std::int64_t j = 0; j < kout; ++j) {
        const Lanes r = zout[j] - splat(y[j]);
        dout[j] = r;
        total += r * r;
        for (int lane = used; lane < W; ++lane) dout[j][lane] = T(0);
      }
      if (sc.losses) {  // every lane (the unused ones are never read)
        const Lanes half = splat(T(0.5)) * total;
        double* losses = sc.losses->data() + i * W;
        for (int lane = 0; lane < W; ++lane) losses[lane] = half[lane];
      }
    } else {
      loss_gradients(net, sc, i, used, zout, dout);
    }
    // --- deltas of the hidden layers
    for (int l = L; l > 1; --l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], off = sc.w_off[l - 1];
      const Lanes* delta = deltas + sc.unit_off[l];
      const Lanes* Wt = theta + off;
      Lanes* prev = deltas + sc.unit_off[l - 1];
      const T* zprev = reinterpret_cast<const T*>(z + sc.unit_off[l - 1]);
      for (std::int64_t q = 0; q < cols; ++q) prev[q] = zero();
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t q = 0; q < cols; ++q) prev[q] += Wt[r * cols + q] * delta[r];
      T* pt = reinterpret_cast<T*>(prev);
      // add_grad()'s product with h' (vector selects for the piecewise-linear kinds, same bits)
      SmallBatch<T>::times_first(net.act, zprev, pt, cols * W);
    }
  }

  /**
   * g += the gradient terms of the block's examples 0..count, example after example for each parameter (so each
   * sum sees its terms in the order of one example at a time): add_grad()'s (c * delta) * input with c = scale.
   */
  static void accumulate(const MLP<T>& net, Scratch& sc, int count, Lanes* __restrict g, T c) {
    const int L = net.layers;
    const std::int64_t U = sc.unit_off[L + 1];
    for (int l = 1; l <= L; ++l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], off = sc.w_off[l - 1];
      const Lanes* in = sc.a + sc.unit_off[l - 1];
      const Lanes* delta = sc.delta + sc.unit_off[l];
      Lanes* gl = g + off;
      // c * delta of the block's examples for every row of the layer, then tiles of two rows x four columns:
      // each input vector loaded serves two rows
      Lanes dr[64][kBlock];
      const Lanes cv = splat(c);
      for (std::int64_t r = 0; r < rows; ++r)
        for (int k = 0; k < count; ++k) dr[r][k] = cv * delta[k * U + r];
      std::int64_t r = 0;
      for (; r + 2 <= rows; r += 2) add_rows<2>(dr + r, count, in, U, gl + r * cols, cols);
      if (r < rows) add_rows<1>(dr + r, count, in, U, gl + r * cols, cols);
      if (net.bias)
        for (std::int64_t r = 0; r < rows; ++r) {
          Lanes sb = gl[rows * cols + r];
          for (int k = 0; k < count; ++k) sb += dr[r][k];
          gl[rows * cols + r] = sb;
        }
    }
  }

  /** gW_i[q] += dr[i][k] * in[k U + q] for k < count in order, rows i < RB, q < cols (rows of gW cols apart). */
  template <int RB>
  static void add_rows(const Lanes (*dr)[kBlock], int count, const Lanes* in, std::int64_t U, Lanes* gW,
                       std::int64_t cols) {
    std::int64_t q = 0;
    for (; q + 4 <= cols; q += 4) {
      Lanes s[RB][4];
      for (int i = 0; i < RB; ++i)
        for (int j = 0; j < 4; ++j) s[i][j] = gW[i * cols + q + j];
      for (int k = 0; k < count; ++k) {
        const Lanes* ink = in + k * U + q;
        for (int i = 0; i < RB; ++i)
          for (int j = 0; j < 4; ++j) s[i][j] += dr[i][k] * ink[j];
      }
      for (int i = 0; i < RB; ++i)
        for (int j = 0; j < 4; ++j) gW[i * cols + q + j] = s[i][j];
    }
    for (; q < cols; ++q) {
      Lanes s[RB];
      for (int i = 0; i < RB; ++i) s[i] = gW[i * cols + q];
      for (int k = 0; k < count; ++k)
        for (int i = 0; i < RB; ++i) s[i] += dr[i][k] * in[k * U + q];
      for (int i = 0; i < RB; ++i) gW[i * cols + q] = s[i];
    }
  }
};

}  // namespace detail

OPTCORE_ISA_END
}  // namespace optcore
