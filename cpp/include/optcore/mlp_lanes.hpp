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
  };

  /**
   * grads[g] = the gradient of batch idx[0..b) (examples base + idx[e]) at thetas[g], g < count, exactly as
   * MLP::add_grad_batch(idx, b, base, thetas[g], grads[g], 1) leaves it in a zero-filled grads[g].
   */
  static void grads(const MLP<T>& net, const std::uint32_t* idx, std::int64_t b, std::int64_t base,
                    const T* const* thetas, T* const* grads, int count, T* objective = nullptr) {
    thread_local Scratch sc;
    prepare(net, sc);
    sc.losses = objective ? &sc.loss_store : nullptr;
    if (objective) sc.loss_store.assign(static_cast<std::size_t>(net.n) * W, 0.0);
    const std::int64_t P = net.d;
    for (int g0 = 0; g0 < count; g0 += W) {
      const int used = std::min(W, count - g0);
      load_lanes(sc, thetas + g0, used, P);
      std::fill_n(sc.total, P, zero());
      for (std::int64_t e = 0; e < b;) {
        int k = 0;
        for (; k < kBlock && e < b; ++k, ++e) example(net, sc, base + idx[e], used, k);
        accumulate(net, sc, k, sc.total, net.scale);
      }
      to_runs(sc.total, grads + g0, used, P);
      if (objective) {  // as MLP::objective(): the example losses summed in example order, in double
        double total[W] = {};
        for (std::int64_t i = 0; i < net.n; ++i)  // the lanes' sums side by side: W chains of additions, not one
          for (int l = 0; l < W; ++l) total[l] += sc.loss_store[i * W + l];
        for (int l = 0; l < used; ++l)
          objective[g0 + l] = static_cast<T>(total[l] * static_cast<double>(net.scale) / static_cast<double>(net.n));
      }
    }
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
        forward(net, sc, net.X + i * d0);
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
        objective[g0 + l] = static_cast<T>(total[l] * static_cast<double>(net.scale) / static_cast<double>(net.n));
        if (accuracy) accuracy[g0 + l] = static_cast<T>(right[l]) / static_cast<T>(net.n);
      }
    }
  }

 private:
  static Lanes zero() { return Lanes{} * T(0); }

  /** grads[l][q] = 0 + total[q][l] for the lanes l < used: the lanes' sums back to the runs' gradients. */
  static void to_runs(const Lanes* total, T* const* grads, int used, std::int64_t P) {
    for (std::int64_t q = 0; q < P; ++q) {  // one vector per parameter, then its lanes (no gathers)
      const Lanes v = T(0) + total[q];
      for (int l = 0; l < used; ++l) grads[l][q] = v[l];
    }
  }

  /** sc.theta = the parameters of networks thetas[0..used) in lanes 0..used (zeros in the other lanes). */
  static void load_lanes(Scratch& sc, const T* const* thetas, int used, std::int64_t P) {
    for (std::int64_t q = 0; q < P; ++q)
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
    sc.store.resize((2 * P + (1 + 2 * kBlock) * U + 1) * W);
    const std::uintptr_t raw = reinterpret_cast<std::uintptr_t>(sc.store.data());
    Lanes* next = reinterpret_cast<Lanes*>((raw + sizeof(Lanes) - 1) / sizeof(Lanes) * sizeof(Lanes));
    for (Lanes** p : {&sc.theta, &sc.total}) *p = next, next += P;
    sc.z = next, next += U;
    for (Lanes** p : {&sc.a, &sc.delta}) *p = next, next += kBlock * U;
    sc.out.resize(net.out_dim());
    sc.dout.resize(net.out_dim());
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
   * The forward pass of example x (d_0 inputs) through the lanes' networks: fills sc.z and the activations (acts,
   * or sc.a), whose layer 0 is the inputs broadcast to every lane.
   */
  static void forward(const MLP<T>& net, Scratch& sc, const T* x, Lanes* acts = nullptr) {
    const int L = net.layers;
    const Lanes* theta = sc.theta;
    Lanes* const act = acts ? acts : sc.a;
    // A broadcast -0 input becomes +0: every sum that takes it starts from +0, where a zero's sign never shows.
    for (std::int64_t q = 0; q < net.widths[0]; ++q) act[q] = zero() + x[q];
    for (int l = 1; l <= L; ++l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], off = sc.w_off[l - 1];
      const Lanes* in = act + sc.unit_off[l - 1];
      Lanes* z = sc.z + sc.unit_off[l];
      // two rows at a time: two independent sets of chains (one row's tree of dependent additions bounds it)
      std::int64_t r = 0;
      for (; r + 2 <= rows; r += 2) {
        const Lanes* W0 = theta + off + r * cols;
        const Lanes* W1 = W0 + cols;
        Lanes p0[8], p1[8];
        for (int j = 0; j < 8; ++j) p0[j] = zero(), p1[j] = zero();
        for (std::int64_t q0 = 0; q0 < cols; q0 += 8) {
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) {
            if (q0 + j >= cols) break;
            const Lanes v = in[q0 + j];
            p0[j] += W0[q0 + j] * v;
            p1[j] += W1[q0 + j] * v;
          }
        }
        const Lanes b0 = net.bias ? theta[off + rows * cols + r] : zero();
        const Lanes b1 = net.bias ? theta[off + rows * cols + r + 1] : zero();
        z[r] = (((p0[0] + p0[4]) + (p0[2] + p0[6])) + ((p0[1] + p0[5]) + (p0[3] + p0[7]))) + b0;
        z[r + 1] = (((p1[0] + p1[4]) + (p1[2] + p1[6])) + ((p1[1] + p1[5]) + (p1[3] + p1[7]))) + b1;
      }
      for (; r < rows; ++r) {
        const Lanes* Wr = theta + off + r * cols;
        const Lanes br = net.bias ? theta[off + rows * cols + r] : zero();
        // dot(): eight partial sums over q mod 8, a fixed tree, then the bias
        Lanes part[8];
        for (auto& p : part) p = zero();
        // unrolled by 8, so that partial sum q mod 8 has a fixed register
        const std::int64_t full = cols / 8 * 8;
        for (std::int64_t q = 0; q < full; q += 8)
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) part[j] += Wr[q + j] * in[q + j];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j)
          if (full + j < cols) part[j] += Wr[full + j] * in[full + j];
        z[r] = (((part[0] + part[4]) + (part[2] + part[6])) + ((part[1] + part[5]) + (part[3] + part[7]))) + br;
      }
      Lanes* a = act + sc.unit_off[l];
      if (l < L)
        net.act.values(reinterpret_cast<const T*>(z), reinterpret_cast<T*>(a), rows * W);
      else
        std::copy_n(z, rows, a);
    }
  }

  /// Examples whose activations and deltas are kept at once: accumulate() adds their gradient terms with the
  /// running sums held in registers, one load and store of a sum per block instead of per example.
  static constexpr int kBlock = 8;

  /**
   * Example i through the lanes' networks: forward pass, loss gradient and backpropagated deltas, kept in block
   * slot k (activations at sc.a + k U, the inputs broadcast as layer 0; deltas at sc.delta + k U).
   */
  static void example(const MLP<T>& net, Scratch& sc, std::int64_t i, int used, int k) {
    const int L = net.layers;
    const Lanes* theta = sc.theta;
    const std::int64_t U = sc.unit_off[L + 1];
    const T* x = net.X + i * net.widths[0];
    Lanes* act = sc.a + k * U;
    Lanes* deltas = sc.delta + k * U;
    forward(net, sc, x, act);
    // --- loss gradient: squared loss in lanes (MLP::example_loss() and loss_gradient()'s arithmetic), the other
    // losses one lane at a time
    const std::int64_t kout = net.out_dim();
    const Lanes* zout = sc.z + sc.unit_off[L];
    Lanes* dout = deltas + sc.unit_off[L];
    if (net.loss == NetLoss::squared) {
      const T* y = net.Y + i * kout;
      Lanes total = zero();
      for (std::int64_t j = 0; j < kout; ++j) {
        const Lanes r = zout[j] - y[j];
        dout[j] = r;
        total += r * r;
        for (int lane = used; lane < W; ++lane) dout[j][lane] = T(0);
      }
      if (sc.losses) {  // every lane (the unused ones are never read)
        const Lanes half = T(0.5) * total;
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
      const T* zprev = reinterpret_cast<const T*>(sc.z + sc.unit_off[l - 1]);
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
      for (std::int64_t r = 0; r < rows; ++r) {
        Lanes dr[kBlock];
        for (int k = 0; k < count; ++k) dr[k] = c * delta[k * U + r];
        Lanes* gW = gl + r * cols;
        std::int64_t q = 0;
        for (; q + 4 <= cols; q += 4) {
          Lanes s0 = gW[q], s1 = gW[q + 1], s2 = gW[q + 2], s3 = gW[q + 3];
          for (int k = 0; k < count; ++k) {
            const Lanes* ink = in + k * U + q;
            s0 += dr[k] * ink[0], s1 += dr[k] * ink[1], s2 += dr[k] * ink[2], s3 += dr[k] * ink[3];
          }
          gW[q] = s0, gW[q + 1] = s1, gW[q + 2] = s2, gW[q + 3] = s3;
        }
        for (; q + 2 <= cols; q += 2) {
          Lanes s0 = gW[q], s1 = gW[q + 1];
          for (int k = 0; k < count; ++k) s0 += dr[k] * in[k * U + q], s1 += dr[k] * in[k * U + q + 1];
          gW[q] = s0, gW[q + 1] = s1;
        }
        if (q < cols) {
          Lanes s0 = gW[q];
          for (int k = 0; k < count; ++k) s0 += dr[k] * in[k * U + q];
          gW[q] = s0;
        }
        if (net.bias) {
          Lanes sb = gl[rows * cols + r];
          for (int k = 0; k < count; ++k) sb += dr[k];
          gl[rows * cols + r] = sb;
        }
      }
    }
  }
};

}  // namespace detail

OPTCORE_ISA_END
}  // namespace optcore
