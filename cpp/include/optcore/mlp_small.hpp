/** @file mlp_small.hpp
 *  Batch gradients of one narrow network (every layer at most kMaxWidth units) with the arithmetic of
 *  MLP::add_grad(), one example at a time, but computed for a block of examples at once.
 *
 *  add_grad_batch()'s one-example order is: for each example in batch order, the forward pass (each unit's
 *  pre-activation is dot()'s eight partial sums over inputs j mod 8, combined as a fixed tree, plus the bias), the
 *  loss gradient, and backpropagation, whose terms (s * delta_r) * input_c are added to the gradient one example
 *  after the other. Done literally, the gradient is read and written once per example, and every dot product and
 *  axpy is a loop of a few dozen elements. Here the same sums, in the same order, are reorganized:
 *    - forward and delta passes run examples in vector lanes (units x examples, "unit-major"): each lane keeps its
 *      example's eight partial sums, or its running sum over the output units, exactly as the one-example pass;
 *    - gradient terms run along the columns of a weight row (examples x units, "example-major"): a block of the
 *      row stays in registers while the examples' terms are added to it in batch order.
 *  So every gradient entry and every loss gets the bits of the one-example pass (mlp_lanes.hpp's group pass,
 *  which replicates that pass, stays exact; tests/test_nn_group.py and tests/test_nn_small.py check it), and a
 *  batch's losses, from the same forward pass, give MLP::objective() at the same parameters.
 */
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/mlp.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

template <class T>
struct SmallBatch {
  /** Networks whose layers (inputs and outputs included) are at most this wide take this pass. */
  static constexpr std::int64_t kMaxWidth = 64;
  /** Examples per block: the per-block buffers stay in L2, and the gradient is streamed once per block. */
  static constexpr int kBlock = 64;
  static constexpr int V = 32 / static_cast<int>(sizeof(T));  ///< examples (or columns) per vector
  typedef T Vec __attribute__((vector_size(32)));              ///< one AVX register (two SSE registers)
  static constexpr int kBlockVecs = kBlock / V;

  static bool pays(const MLP<T>& net) {
    if (net.group) return false;
    for (int l = 0; l <= net.layers; ++l)
      if (net.widths[l] > kMaxWidth) return false;
    return true;
  }

  /** Per-thread buffers for one block: unit-major (units, vectors of examples) and example-major arrays. */
  struct Scratch {
    std::vector<T> store;               ///< all the arrays below, 32-byte aligned
    Vec *z, *a, *delta;                 ///< unit-major, (units, kBlockVecs)
    T* em;                              ///< example-major activations of layers 0..L-1, then the scaled deltas
    std::vector<std::int64_t> unit_off, em_off, padded;
    std::int64_t sd_off = 0;            ///< start of the scaled deltas (kBlock, padded widest) in em
    std::vector<T> out, dout;
    std::vector<double> losses;
  };

  static std::int64_t pad(std::int64_t n) { return (n + V - 1) / V * V; }

  static Scratch& scratch(const MLP<T>& net) {
    thread_local Scratch s;
    const int L = net.layers;
    s.unit_off.assign(L + 2, 0);
    s.em_off.assign(L + 1, 0);
    s.padded.assign(L + 1, 0);
    std::int64_t widest = 0;
    for (int l = 0; l <= L; ++l) {
      s.unit_off[l + 1] = s.unit_off[l] + net.widths[l];
      s.padded[l] = pad(net.widths[l]);
      widest = std::max(widest, s.padded[l]);
      if (l < L) s.em_off[l + 1] = s.em_off[l] + kBlock * s.padded[l];
    }
    s.sd_off = s.em_off[L];
    const std::size_t units = static_cast<std::size_t>(s.unit_off[L + 1]) * kBlockVecs * V;
    const std::size_t em = static_cast<std::size_t>(s.sd_off + kBlock * widest);
    if (s.store.size() < 3 * units + em + V) s.store.resize(3 * units + em + V);
    const std::uintptr_t raw = reinterpret_cast<std::uintptr_t>(s.store.data());
    T* next = reinterpret_cast<T*>((raw + sizeof(Vec) - 1) / sizeof(Vec) * sizeof(Vec));
    for (Vec** p : {&s.z, &s.a, &s.delta}) *p = reinterpret_cast<Vec*>(next), next += units;
    s.em = next;
    s.out.resize(net.out_dim());
    s.dout.resize(net.out_dim());
    return s;
  }

  /**
   * g += s * sum of the gradients of examples base + idx[j], j < count (the bits of add_grad() called on each in
   * turn). If `losses` is given, losses[idx[j]] = example j's loss, from the same forward pass.
   */
  static void add_grad_batch(const MLP<T>& net, const std::uint32_t* idx, std::int64_t count, std::int64_t base,
                             const T* theta, T* g, T s, double* losses) {
    Scratch& sc = scratch(net);
    const T c = s * net.scale;  // add_grad() passes s * scale to backward()
    for (std::int64_t j0 = 0; j0 < count; j0 += kBlock) {
      const int nb = static_cast<int>(std::min<std::int64_t>(kBlock, count - j0));
      block(net, sc, idx + j0, nb, base, theta, g, c, losses);
    }
  }

  /** MLP::objective(): the example losses from this file's forward pass (same bits), summed in example order. */
  static T objective(const MLP<T>& net, const T* theta) {
    Scratch& sc = scratch(net);
    std::vector<std::uint32_t>& order = identity(kBlock);
    sc.losses.resize(static_cast<std::size_t>(net.n));
    for (std::int64_t j0 = 0; j0 < net.n; j0 += kBlock) {
      const int nb = static_cast<int>(std::min<std::int64_t>(kBlock, net.n - j0));
      block(net, sc, order.data(), nb, j0, theta, nullptr, T(0), sc.losses.data() + j0);
    }
    return total_objective(net, sc.losses.data());
  }

  /** As MLP::objective() from the losses of examples 0..n-1: summed in example order, in double. */
  static T total_objective(const MLP<T>& net, const double* losses) {
    double total = 0;
    for (std::int64_t i = 0; i < net.n; ++i) total += losses[i];
    return static_cast<T>(total * static_cast<double>(net.scale) / static_cast<double>(net.n));
  }

 private:
  static std::vector<std::uint32_t>& identity(int n) {
    thread_local std::vector<std::uint32_t> v;
    if (static_cast<int>(v.size()) < n) {
      v.resize(n);
      for (int i = 0; i < n; ++i) v[i] = static_cast<std::uint32_t>(i);
    }
    return v;
  }

  /**
   * One block of nb <= kBlock examples base + idx[e]: forward, losses (if asked), and, if g is not null, the
   * gradient terms (c * delta) * input added to g in example order.
   */
  static void block(const MLP<T>& net, Scratch& sc, const std::uint32_t* idx, int nb, std::int64_t base,
                    const T* theta, T* g, T c, double* losses) {
    const int L = net.layers;
    const int nv = (nb + V - 1) / V;
    const std::int64_t d0 = net.widths[0];
    T* em = sc.em;
    // inputs: unit-major (zeros in the unused lanes) and example-major (zeros in the padding columns)
    {
      Vec* a0 = sc.a;
      T* x_em = em + sc.em_off[0];
      const std::int64_t p0 = sc.padded[0];
      for (std::int64_t q = 0; q < d0 * nv; ++q) a0[q] = Vec{};
      for (int e = 0; e < nb; ++e) {
        const T* x = net.X + (base + idx[e]) * d0;
        T* row = x_em + e * p0;
        for (std::int64_t col = 0; col < d0; ++col) {
          a0[col * nv + e / V][e % V] = x[col];
          row[col] = x[col];
        }
        for (std::int64_t col = d0; col < p0; ++col) row[col] = T(0);
      }
    }
    // forward
    std::int64_t off = 0;
    for (int l = 1; l <= L; ++l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1];
      const T* W = theta + off;
      const T* b = net.bias ? theta + off + rows * cols : nullptr;
      const Vec* in = sc.a + sc.unit_off[l - 1] * nv;
      Vec* z = sc.z + sc.unit_off[l] * nv;
      Vec* a = sc.a + sc.unit_off[l] * nv;
      forward_layer(W, b, rows, cols, in, z, nv);
      if (l < L) {
        net.act.values(reinterpret_cast<const T*>(z), reinterpret_cast<T*>(a), rows * nv * V);
        if (g) to_example_major(a, rows, nv, nb, em + sc.em_off[l], sc.padded[l]);
      }
      off += rows * cols + (net.bias ? rows : 0);
    }
    // output: losses and loss gradients, one example at a time
    const std::int64_t k = net.out_dim();
    const Vec* zout = sc.z + sc.unit_off[L] * nv;
    Vec* dout = sc.delta + sc.unit_off[L] * nv;
    for (int e = 0; e < nv * V; ++e) {
      if (e >= nb) {
        for (std::int64_t j = 0; j < k; ++j) dout[j * nv + e / V][e % V] = T(0);
        continue;
      }
      const std::int64_t i = base + idx[e];
      for (std::int64_t j = 0; j < k; ++j) sc.out[j] = zout[j * nv + e / V][e % V];
      if (losses) losses[idx[e]] = net.example_loss(i, sc.out.data());
      if (!g) continue;
      net.loss_gradient(i, sc.out.data(), sc.dout.data());
      for (std::int64_t j = 0; j < k; ++j) dout[j * nv + e / V][e % V] = sc.dout[j];
    }
    if (!g) return;
    // backward
    T* sd = em + sc.sd_off;
    for (int l = L; l >= 1; --l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], woff = net.w_offset(l - 1);
      const Vec* delta = sc.delta + sc.unit_off[l] * nv;
      const std::int64_t prow = sc.padded[l];
      // sd = (c * delta), example-major, zeros in the padding columns
      for (int e = 0; e < nb; ++e) {
        T* row = sd + e * prow;
        for (std::int64_t r = 0; r < rows; ++r) row[r] = c * delta[r * nv + e / V][e % V];
        for (std::int64_t r = rows; r < prow; ++r) row[r] = T(0);
      }
      const T* in_em = em + sc.em_off[l - 1];
      const std::int64_t pcols = sc.padded[l - 1];
      for (std::int64_t r = 0; r < rows; ++r) add_terms<false>(sd + r, prow, in_em, pcols, nb, g + woff + r * cols, cols);
      if (net.bias) add_terms<true>(sd, prow, sd, prow, nb, g + woff + rows * cols, rows);
      if (l > 1) {
        Vec* prev = sc.delta + sc.unit_off[l - 1] * nv;
        backprop_layer(theta + woff, rows, cols, delta, prev, nv);
        times_first(net.act, reinterpret_cast<const T*>(sc.z + sc.unit_off[l - 1] * nv),
                    reinterpret_cast<T*>(prev), cols * nv * V);
      }
    }
  }

  /** z[r] = dot(W_r, in) + b_r for each example lane: eight partial sums over inputs j mod 8, dot()'s tree. */
  static void forward_layer(const T* W, const T* b, std::int64_t rows, std::int64_t cols, const Vec* in, Vec* z,
                            int nv) {
    const std::int64_t full = cols / 8 * 8;
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* w = W + r * cols;
      const T br = b ? b[r] : T(0);
      for (int v = 0; v < nv; ++v) {
        Vec p[8];
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q) p[q] = Vec{};
        const Vec* x = in + v;
        std::int64_t col = 0;
        for (; col < full; col += 8) {
#pragma GCC unroll 8
          for (int q = 0; q < 8; ++q) p[q] += w[col + q] * x[(col + q) * nv];
        }
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q)
          if (col + q < cols) p[q] += w[col + q] * x[(col + q) * nv];
        z[r * nv + v] = (((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]))) + br;
      }
    }
  }

  /** prev[col] = sum over r, in order, of delta_r * W[r][col], for each example lane (backward()'s axpy loop). */
  static void backprop_layer(const T* W, std::int64_t rows, std::int64_t cols, const Vec* delta, Vec* prev, int nv) {
    for (std::int64_t c0 = 0; c0 < cols; c0 += 8) {
      for (int v = 0; v < nv; ++v) {
        Vec acc[8];
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q) acc[q] = Vec{};
        if (c0 + 8 <= cols) {
          for (std::int64_t r = 0; r < rows; ++r) {
            const Vec dv = delta[r * nv + v];
            const T* w = W + r * cols + c0;
#pragma GCC unroll 8
            for (int q = 0; q < 8; ++q) acc[q] += dv * w[q];
          }
        } else {
          for (std::int64_t r = 0; r < rows; ++r) {
            const Vec dv = delta[r * nv + v];
            const T* w = W + r * cols + c0;
#pragma GCC unroll 8
            for (int q = 0; q < 8; ++q)
              if (c0 + q < cols) acc[q] += dv * w[q];
          }
        }
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q)
          if (c0 + q < cols) prev[(c0 + q) * nv + v] = acc[q];
      }
    }
  }

  /** d[i] *= h'(z[i]): backward()'s product with the derivative (not a select, so zeros keep its signs). */
  static void times_first(const ActivationFn<T>& act, const T* z, T* d, std::int64_t n) {
    switch (act.kind) {
      case Activation::relu:
        for (std::int64_t i = 0; i < n; ++i) d[i] *= z[i] > T(0) ? T(1) : T(0);
        return;
      case Activation::leaky:
        for (std::int64_t i = 0; i < n; ++i) d[i] *= z[i] > T(0) ? act.s_pos : act.s_neg;
        return;
      case Activation::linear:
        for (std::int64_t i = 0; i < n; ++i) d[i] *= T(1);
        return;
      case Activation::hardtanh:
        for (std::int64_t i = 0; i < n; ++i) d[i] *= (z[i] > T(-1) && z[i] < T(1)) ? T(1) : T(0);
        return;
      default:
        for (std::int64_t i = 0; i < n; ++i) d[i] *= act.first(z[i]);
    }
  }

  /** dst (cols padded to `stride`, zeros there) = the first nb example lanes of src (units x vectors). */
  static void to_example_major(const Vec* src, std::int64_t units, int nv, int nb, T* dst, std::int64_t stride) {
    for (int e = 0; e < nb; ++e) {
      T* row = dst + e * stride;
      for (std::int64_t u = 0; u < units; ++u) row[u] = src[u * nv + e / V][e % V];
      for (std::int64_t u = units; u < stride; ++u) row[u] = T(0);
    }
  }

  /**
   * out[col] += term(e, col) for e = 0..nb-1 in order, col < n: term = coef[e * cstride] * x[e * xstride + col]
   * (gradient of a weight row), or x[e * xstride + col] alone (Bias: the bias gradients, x = the scaled deltas).
   * Up to 8 vectors of the row stay in registers across the examples.
   */
  template <bool Bias>
  static void add_terms(const T* coef, std::int64_t cstride, const T* x, std::int64_t xstride, int nb, T* out,
                        std::int64_t n) {
    for (std::int64_t c0 = 0; c0 < n; c0 += 8 * V) {
      const int nvec = static_cast<int>(std::min<std::int64_t>(8, (n - c0 + V - 1) / V));
      switch (nvec) {
        case 1: add_terms_block<Bias, 1>(coef, cstride, x + c0, xstride, nb, out + c0, n - c0); break;
        case 2: add_terms_block<Bias, 2>(coef, cstride, x + c0, xstride, nb, out + c0, n - c0); break;
        case 3: add_terms_block<Bias, 3>(coef, cstride, x + c0, xstride, nb, out + c0, n - c0); break;
        case 4: add_terms_block<Bias, 4>(coef, cstride, x + c0, xstride, nb, out + c0, n - c0); break;
        case 5: add_terms_block<Bias, 5>(coef, cstride, x + c0, xstride, nb, out + c0, n - c0); break;
        case 6: add_terms_block<Bias, 6>(coef, cstride, x + c0, xstride, nb, out + c0, n - c0); break;
        case 7: add_terms_block<Bias, 7>(coef, cstride, x + c0, xstride, nb, out + c0, n - c0); break;
        default: add_terms_block<Bias, 8>(coef, cstride, x + c0, xstride, nb, out + c0, n - c0); break;
      }
    }
  }

  template <bool Bias, int NV>
  static void add_terms_block(const T* coef, std::int64_t cstride, const T* x, std::int64_t xstride, int nb, T* out,
                              std::int64_t left) {
    const std::int64_t used = std::min<std::int64_t>(left, NV * V);
    alignas(32) T buf[NV * V];
    std::memcpy(buf, out, sizeof(T) * used);
    for (std::int64_t q = used; q < NV * V; ++q) buf[q] = T(0);
    Vec acc[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) std::memcpy(&acc[v], buf + v * V, sizeof(Vec));
    for (int e = 0; e < nb; ++e) {
      const Vec* xe = reinterpret_cast<const Vec*>(x + e * xstride);
      if constexpr (Bias) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[v] += xe[v];
      } else {
        const T ce = coef[e * cstride];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[v] += ce * xe[v];
      }
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) std::memcpy(buf + v * V, &acc[v], sizeof(Vec));
    std::memcpy(out, buf, sizeof(T) * used);
  }
};

OPTCORE_ISA_END
}  // namespace optcore
