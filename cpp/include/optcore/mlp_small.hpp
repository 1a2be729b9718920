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
#include <type_traits>
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
  /**
   * Most examples per block (the buffers' capacity): the per-block buffers stay in L2, and the gradient is streamed
   * once per block. block_size() picks the block of a network.
   */
  static constexpr int kBlock = 64;
  static constexpr int V = 32 / static_cast<int>(sizeof(T));  ///< examples (or columns) per vector
  typedef T Vec __attribute__((vector_size(32)));              ///< one AVX register (two SSE registers)
  static constexpr int kBlockVecs = kBlock / V;
  /**
   * Register tiles of the products: kTileUnits units (rows, or columns of a weight matrix) x kTileVecs vectors
   * (of examples, or of columns), 12 accumulators of the 16 AVX registers (measured on Zen 3 against 4 x 2, 2 x 4,
   * 3 x 3, 5 x 2, 6 x 2 and 8 x 1: 10-15% faster at width 64).
   */
  static constexpr int kTileUnits = 3, kTileVecs = 4;
  /** Lane indices for __builtin_shuffle on Vec. */
  typedef std::conditional_t<sizeof(T) == 8, std::int64_t, std::int32_t> Index;
  typedef Index Mask __attribute__((vector_size(32)));

  /**
   * A vector of V copies of t. Written as an initializer list, the portable (SSE2) build makes it with a register
   * shuffle; `t * vector` there went through two 8-byte stores and a 16-byte load, a failed store forward per
   * product (a float64 step of width 64 took 3x as long). The AVX2 build broadcasts either way.
   */
  static Vec splat(T t) {
    if constexpr (V == 4)
      return Vec{t, t, t, t};
    else
      return Vec{t, t, t, t, t, t, t, t};
  }

  /** Whether the network's shape fits this pass: every layer at most kMaxWidth wide. */
  static bool fits(const MLP<T>& net) {
    for (int l = 0; l <= net.layers; ++l)
      if (net.widths[l] > kMaxWidth) return false;
    return true;
  }
  /** Whether this pass computes the network's batch gradients (structured networks go through unstructured()). */
  static bool pays(const MLP<T>& net) { return !net.group && fits(net); }

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
  /**
   * Examples per block for this network: kBlock, or half of it in float64 when some layer is wider than 32 units,
   * where a block's unit-major arrays (64 units x 64 examples x 8 bytes = 32 KiB each) no longer fit beside the
   * weights in L1 (Zen 3, widths 10-64-64-1, batch 1024, interleaved: 15% faster than 64 examples; 48 about as
   * fast; float32 and narrower float64 nets measured fastest at 64). Any block size gives the same bits: every
   * example's forward pass is its own, and the gradient entries add the examples' terms in batch order across blocks.
   */
  static int block_size(const MLP<T>& net) {
    if constexpr (sizeof(T) == 8)
      for (int l = 0; l <= net.layers; ++l)
        if (net.widths[l] > 32) return kBlock / 2;
    return kBlock;
  }
  /**
   * Vectors between consecutive units of the unit-major arrays holding nv vectors of examples: nv rounded up to
   * odd. With an even stride (16 vectors of float64 = 512 bytes), the units j, j + 8, j + 16, ... that a partial
   * sum of forward_tile() reads lie 4 KiB apart and fall into the same few L1 sets, which evicted each other
   * (float64 at width 64 ran at 44% of the FMA peak, float32 at 54%); an odd stride spreads them over the sets.
   * Only the layout changes: every sum keeps its terms and its order.
   */
  static int unit_stride(int nv) { return nv | 1; }

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
    const std::size_t units = static_cast<std::size_t>(s.unit_off[L + 1]) * unit_stride(kBlockVecs) * V;
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
   * turn). If `losses` is given, losses[idx[j]] = example j's loss, and if `right` is given, *right += the number
   * of the batch's examples classified correctly, both from the same forward pass.
   */
  static void add_grad_batch(const MLP<T>& net, const std::uint32_t* idx, std::int64_t count, std::int64_t base,
                             const T* theta, T* g, T s, double* losses, std::int64_t* right = nullptr) {
    Scratch& sc = scratch(net);
    const T c = s * net.scale;  // add_grad() passes s * scale to backward()
    const int per_block = block_size(net);
    for (std::int64_t j0 = 0; j0 < count; j0 += per_block) {
      const int nb = static_cast<int>(std::min<std::int64_t>(per_block, count - j0));
      block(net, sc, idx + j0, nb, base, theta, g, c, losses, right);
    }
  }

  /**
   * MLP::objective(): the example losses from this file's forward pass (same bits), summed in example order; if
   * `right` is given, also *right += the number of examples classified correctly (correct()) from the same pass.
   */
  static T objective(const MLP<T>& net, const T* theta, std::int64_t* right = nullptr) {
    Scratch& sc = scratch(net);
    std::vector<std::uint32_t>& order = identity(kBlock);
    sc.losses.resize(static_cast<std::size_t>(net.n));
    const int per_block = block_size(net);
    for (std::int64_t j0 = 0; j0 < net.n; j0 += per_block) {
      const int nb = static_cast<int>(std::min<std::int64_t>(per_block, net.n - j0));
      block(net, sc, order.data(), nb, j0, theta, nullptr, T(0), sc.losses.data() + j0, right);
    }
    return total_objective(net, sc.losses.data());
  }

  /** The number of examples MLP::classified() calls right, from this file's forward pass (same outputs). */
  static std::int64_t correct(const MLP<T>& net, const T* theta) {
    Scratch& sc = scratch(net);
    std::vector<std::uint32_t>& order = identity(kBlock);
    std::int64_t right = 0;
    const int per_block = block_size(net);
    for (std::int64_t j0 = 0; j0 < net.n; j0 += per_block) {
      const int nb = static_cast<int>(std::min<std::int64_t>(per_block, net.n - j0));
      block(net, sc, order.data(), nb, j0, theta, nullptr, T(0), nullptr, &right);
    }
    return right;
  }

  /** As MLP::objective() from the losses of examples 0..n-1: summed in example order, in double. */
  static T total_objective(const MLP<T>& net, const double* losses) {
    double total = 0;
    for (std::int64_t i = 0; i < net.n; ++i) total += losses[i];
    return static_cast<T>(total * static_cast<double>(net.scale) / static_cast<double>(net.n));
  }

  /**
   * d[i] *= h'(z[i]) for n (a multiple of V) aligned entries: backward()'s product with the derivative (a product,
   * not a select, so zeros keep backward()'s signs), as vector selects and products for the piecewise-linear kinds.
   */
  static void times_first(const ActivationFn<T>& act, const T* z, T* d, std::int64_t n) {
    const Vec* zv = reinterpret_cast<const Vec*>(z);
    Vec* dv = reinterpret_cast<Vec*>(d);
    const std::int64_t nv = n / V;
    const Vec zero = Vec{}, one = Vec{} + T(1);
    switch (act.kind) {
      case Activation::relu:
        for (std::int64_t i = 0; i < nv; ++i) dv[i] *= zv[i] > zero ? one : zero;
        return;
      case Activation::leaky: {
        const Vec pos = Vec{} + act.s_pos, neg = Vec{} + act.s_neg;
        for (std::int64_t i = 0; i < nv; ++i) dv[i] *= zv[i] > zero ? pos : neg;
        return;
      }
      case Activation::linear:
        for (std::int64_t i = 0; i < nv; ++i) dv[i] *= one;
        return;
      case Activation::hardtanh: {
        const Vec lo = Vec{} - T(1);
        for (std::int64_t i = 0; i < nv; ++i) dv[i] *= ((zv[i] > lo) & (zv[i] < one)) ? one : zero;
        return;
      }
      default:
        for (std::int64_t i = 0; i < n; ++i) d[i] *= act.first(z[i]);
    }
  }

  /** r[i][j] <- r[j][i]: a V x V block transposed in registers (two or three rounds of shuffles). */
  static void transpose(Vec* r) {
    if constexpr (V == 4) {
      const Vec t0 = __builtin_shuffle(r[0], r[1], Mask{0, 4, 2, 6});  // (r0[0], r1[0], r0[2], r1[2])
      const Vec t1 = __builtin_shuffle(r[0], r[1], Mask{1, 5, 3, 7});  // (r0[1], r1[1], r0[3], r1[3])
      const Vec t2 = __builtin_shuffle(r[2], r[3], Mask{0, 4, 2, 6});
      const Vec t3 = __builtin_shuffle(r[2], r[3], Mask{1, 5, 3, 7});
      r[0] = __builtin_shuffle(t0, t2, Mask{0, 1, 4, 5});
      r[1] = __builtin_shuffle(t1, t3, Mask{0, 1, 4, 5});
      r[2] = __builtin_shuffle(t0, t2, Mask{2, 3, 6, 7});
      r[3] = __builtin_shuffle(t1, t3, Mask{2, 3, 6, 7});
    } else {
      static_assert(V == 8, "32-byte vectors of 4 or 8 elements");
      Vec a[8], b[8];
      for (int k = 0; k < 4; ++k) {  // pairs of rows interleaved: (r0[0], r1[0], r0[1], r1[1], r0[4], r1[4], ...)
        a[2 * k] = __builtin_shuffle(r[2 * k], r[2 * k + 1], Mask{0, 8, 1, 9, 4, 12, 5, 13});
        a[2 * k + 1] = __builtin_shuffle(r[2 * k], r[2 * k + 1], Mask{2, 10, 3, 11, 6, 14, 7, 15});
      }
      for (int h = 0; h < 2; ++h)  // rows 4h..4h+3: b[4h + j] holds columns j and j + 4 of them
        for (int k = 0; k < 2; ++k) {
          const Vec& lo = a[4 * h + k];
          const Vec& hi = a[4 * h + 2 + k];
          b[4 * h + 2 * k] = __builtin_shuffle(lo, hi, Mask{0, 1, 8, 9, 4, 5, 12, 13});
          b[4 * h + 2 * k + 1] = __builtin_shuffle(lo, hi, Mask{2, 3, 10, 11, 6, 7, 14, 15});
        }
      for (int j = 0; j < 4; ++j) {
        r[j] = __builtin_shuffle(b[j], b[4 + j], Mask{0, 1, 2, 3, 8, 9, 10, 11});
        r[j + 4] = __builtin_shuffle(b[j], b[4 + j], Mask{4, 5, 6, 7, 12, 13, 14, 15});
      }
    }
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
   * One block of nb <= kBlock examples base + idx[e]: forward, losses (if asked), the count of correctly
   * classified examples added to *right (if asked), and, if g is not null, the gradient terms (c * delta) * input
   * added to g in example order.
   */
  static void block(const MLP<T>& net, Scratch& sc, const std::uint32_t* idx, int nb, std::int64_t base,
                    const T* theta, T* g, T c, double* losses, std::int64_t* right = nullptr) {
    const int L = net.layers;
    const int nv = (nb + V - 1) / V, ns = unit_stride(nv);
    const std::int64_t d0 = net.widths[0];
    T* em = sc.em;
    // inputs: unit-major (zeros in the unused lanes) and example-major (zeros in the padding columns)
    {
      T* a0 = reinterpret_cast<T*>(sc.a);
      T* x_em = em + sc.em_off[0];
      const std::int64_t p0 = sc.padded[0], lanes = static_cast<std::int64_t>(ns) * V;
      std::fill_n(a0, d0 * lanes, T(0));
      for (int e = 0; e < nb; ++e) {
        const T* x = net.X + (base + idx[e]) * d0;
        T* row = x_em + e * p0;
        for (std::int64_t col = 0; col < d0; ++col) a0[col * lanes + e] = row[col] = x[col];
        for (std::int64_t col = d0; col < p0; ++col) row[col] = T(0);
      }
    }
    // forward
    std::int64_t off = 0;
    for (int l = 1; l <= L; ++l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1];
      const T* W = theta + off;
      const T* b = net.bias ? theta + off + rows * cols : nullptr;
      const Vec* in = sc.a + sc.unit_off[l - 1] * ns;
      Vec* z = sc.z + sc.unit_off[l] * ns;
      Vec* a = sc.a + sc.unit_off[l] * ns;
      forward_layer(W, b, rows, cols, in, z, nv, ns);
      if (l < L) {
        net.act.values(reinterpret_cast<const T*>(z), reinterpret_cast<T*>(a), rows * ns * V);
        if (g) to_example_major(a, rows, nv, ns, nb, em + sc.em_off[l], sc.padded[l]);
      }
      off += rows * cols + (net.bias ? rows : 0);
    }
    // output: losses and loss gradients, one example at a time
    const std::int64_t k = net.out_dim();
    const Vec* zout = sc.z + sc.unit_off[L] * ns;
    Vec* dout = sc.delta + sc.unit_off[L] * ns;
    for (int e = 0; e < nv * V; ++e) {
      if (e >= nb) {
        for (std::int64_t j = 0; j < k; ++j) dout[j * ns + e / V][e % V] = T(0);
        continue;
      }
      const std::int64_t i = base + idx[e];
      for (std::int64_t j = 0; j < k; ++j) sc.out[j] = zout[j * ns + e / V][e % V];
      if (losses) losses[idx[e]] = net.example_loss(i, sc.out.data());
      if (right) *right += net.classified(i, sc.out.data());
      if (!g) continue;
      net.loss_gradient(i, sc.out.data(), sc.dout.data());
      for (std::int64_t j = 0; j < k; ++j) dout[j * ns + e / V][e % V] = sc.dout[j];
    }
    if (!g) return;
    // backward
    T* sd = em + sc.sd_off;
    for (int l = L; l >= 1; --l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], woff = net.w_offset(l - 1);
      const Vec* delta = sc.delta + sc.unit_off[l] * ns;
      const std::int64_t prow = sc.padded[l];
      to_example_major(delta, rows, nv, ns, nb, sd, prow, c, true);  // sd = c * delta, as backward()'s terms
      const T* in_em = em + sc.em_off[l - 1];
      const std::int64_t pcols = sc.padded[l - 1];
      add_terms<false>(sd, prow, in_em, pcols, nb, g + woff, cols, rows, cols);
      if (net.bias) add_terms<true>(sd, prow, sd, prow, nb, g + woff + rows * cols, 0, 1, rows);
      if (l > 1) {
        Vec* prev = sc.delta + sc.unit_off[l - 1] * ns;
        backprop_layer(theta + woff, rows, cols, delta, prev, nv, ns);
        times_first(net.act, reinterpret_cast<const T*>(sc.z + sc.unit_off[l - 1] * ns),
                    reinterpret_cast<T*>(prev), cols * ns * V);
      }
    }
  }

  /**
   * z[r] = dot(W_r, in) + b_r for each example lane: eight partial sums over inputs j mod 8, then dot()'s tree.
   * Tiles of kTileUnits rows x kTileVecs vectors of examples: partial sum q of the tile's 12 (row, vector) pairs
   * stays in registers while its inputs j = q, q + 8, ... go by, so each input vector and each weight is loaded
   * once per tile.
   */
  static void forward_layer(const T* W, const T* b, std::int64_t rows, std::int64_t cols, const Vec* in, Vec* z,
                            int nv, int ns) {
    std::int64_t r0 = 0;
    for (; r0 + kTileUnits <= rows; r0 += kTileUnits) forward_rows<kTileUnits>(W, b, r0, cols, in, z, nv, ns);
    for (; r0 < rows; ++r0) forward_rows<1>(W, b, r0, cols, in, z, nv, ns);
  }

  template <int RB>
  static void forward_rows(const T* W, const T* b, std::int64_t r0, std::int64_t cols, const Vec* in, Vec* z,
                           int nv, int ns) {
    int v0 = 0;
    for (; v0 + kTileVecs <= nv; v0 += kTileVecs) forward_tile<RB, kTileVecs>(W, b, r0, cols, in, z, ns, v0);
    for (; v0 < nv; ++v0) forward_tile<RB, 1>(W, b, r0, cols, in, z, ns, v0);
  }

  template <int RB, int EB>
  static void forward_tile(const T* W, const T* b, std::int64_t r0, std::int64_t cols, const Vec* in, Vec* z,
                           int ns, int v0) {
    Vec part[8][RB][EB];
    for (int q = 0; q < 8; ++q) {
      Vec acc[RB][EB];
#pragma GCC unroll 8
      for (int i = 0; i < RB; ++i)
#pragma GCC unroll 8
        for (int e = 0; e < EB; ++e) acc[i][e] = Vec{};
      for (std::int64_t j = q; j < cols; j += 8) {
        Vec x[EB];
#pragma GCC unroll 8
        for (int e = 0; e < EB; ++e) x[e] = in[j * ns + v0 + e];
#pragma GCC unroll 8
        for (int i = 0; i < RB; ++i) {
          const Vec w = splat(W[(r0 + i) * cols + j]);
#pragma GCC unroll 8
          for (int e = 0; e < EB; ++e) acc[i][e] += w * x[e];
        }
      }
#pragma GCC unroll 8
      for (int i = 0; i < RB; ++i)
#pragma GCC unroll 8
        for (int e = 0; e < EB; ++e) part[q][i][e] = acc[i][e];
    }
    for (int i = 0; i < RB; ++i) {
      const T br = b ? b[r0 + i] : T(0);
      for (int e = 0; e < EB; ++e)
        z[(r0 + i) * ns + v0 + e] = (((part[0][i][e] + part[4][i][e]) + (part[2][i][e] + part[6][i][e])) +
                                     ((part[1][i][e] + part[5][i][e]) + (part[3][i][e] + part[7][i][e]))) + br;
    }
  }

  /**
   * prev[col] = sum over r, in order, of delta_r * W[r][col], for each example lane (backward()'s axpy loop), in
   * tiles of kTileUnits columns x kTileVecs vectors of examples.
   */
  static void backprop_layer(const T* W, std::int64_t rows, std::int64_t cols, const Vec* delta, Vec* prev, int nv,
                             int ns) {
    std::int64_t c0 = 0;
    for (; c0 + kTileUnits <= cols; c0 += kTileUnits) backprop_cols<kTileUnits>(W, rows, cols, c0, delta, prev, nv, ns);
    for (; c0 < cols; ++c0) backprop_cols<1>(W, rows, cols, c0, delta, prev, nv, ns);
  }

  template <int CB>
  static void backprop_cols(const T* W, std::int64_t rows, std::int64_t cols, std::int64_t c0, const Vec* delta,
                            Vec* prev, int nv, int ns) {
    int v0 = 0;
    for (; v0 + kTileVecs <= nv; v0 += kTileVecs) backprop_tile<CB, kTileVecs>(W, rows, cols, c0, delta, prev, ns, v0);
    for (; v0 < nv; ++v0) backprop_tile<CB, 1>(W, rows, cols, c0, delta, prev, ns, v0);
  }

  template <int CB, int EB>
  static void backprop_tile(const T* W, std::int64_t rows, std::int64_t cols, std::int64_t c0, const Vec* delta,
                            Vec* prev, int ns, int v0) {
    Vec acc[CB][EB];
#pragma GCC unroll 8
    for (int i = 0; i < CB; ++i)
#pragma GCC unroll 8
      for (int e = 0; e < EB; ++e) acc[i][e] = Vec{};
    for (std::int64_t r = 0; r < rows; ++r) {
      Vec dv[EB];
#pragma GCC unroll 8
      for (int e = 0; e < EB; ++e) dv[e] = delta[r * ns + v0 + e];
#pragma GCC unroll 8
      for (int i = 0; i < CB; ++i) {
        const Vec w = splat(W[r * cols + c0 + i]);
#pragma GCC unroll 8
        for (int e = 0; e < EB; ++e) acc[i][e] += dv[e] * w;
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < CB; ++i)
#pragma GCC unroll 8
      for (int e = 0; e < EB; ++e) prev[(c0 + i) * ns + v0 + e] = acc[i][e];
  }

  /**
   * dst[e * stride + u] = c * src[u * (ns V) + e] (ns = unit_stride(nv)) for e < nb, u < units (zeros for units <= u < stride): the first
   * nb example lanes of a unit-major array, example-major (c = 1: the activations; c = scale: the scaled deltas).
   * Blocks of V units x V examples are transposed in registers; rows nb <= e < nv V of dst may be overwritten
   * (the block buffers have kBlock rows, and only rows e < nb are read).
   */
  static void to_example_major(const Vec* src, std::int64_t units, int nv, int ns, int nb, T* dst, std::int64_t stride,
                               T c = T(1), bool scaled = false) {
    const Vec cv = splat(c);
    std::int64_t u0 = 0;
    for (; u0 + V <= units; u0 += V)
      for (int v = 0; v < nv; ++v) {
        Vec r[V];
#pragma GCC unroll 8
        for (int i = 0; i < V; ++i) r[i] = scaled ? cv * src[(u0 + i) * ns + v] : src[(u0 + i) * ns + v];
        transpose(r);
#pragma GCC unroll 8
        for (int i = 0; i < V; ++i) std::memcpy(dst + (v * V + i) * stride + u0, &r[i], sizeof(Vec));
      }
    for (; u0 < units; ++u0)  // the last units mod V, one at a time
      for (int e = 0; e < nb; ++e) {
        const T x = src[u0 * ns + e / V][e % V];
        dst[e * stride + u0] = scaled ? c * x : x;
      }
    for (int e = 0; e < nb; ++e)
      for (std::int64_t u = units; u < stride; ++u) dst[e * stride + u] = T(0);
  }

  /**
   * For each row r < nrows: out_r[col] += term(e, col) for e = 0..nb-1 in order, col < n, where out_r = out + r *
   * ostride and term = coef[e * cstride + r] * x[e * xstride + col] (a weight row's gradient terms), or, with
   * Bias, x[e * xstride + col] alone (one row: the bias gradients, x = the scaled deltas). A tile of rows x up to
   * kTileVecs vectors of columns stays in registers across the examples.
   */
  template <bool Bias>
  static void add_terms(const T* coef, std::int64_t cstride, const T* x, std::int64_t xstride, int nb, T* out,
                        std::int64_t ostride, std::int64_t nrows, std::int64_t n) {
    std::int64_t c0 = 0;
    for (; c0 + kTileVecs * V <= n; c0 += kTileVecs * V)
      add_terms_cols<Bias, kTileVecs>(coef, cstride, x + c0, xstride, nb, out + c0, ostride, nrows, n - c0);
    for (; c0 < n; c0 += V)  // the last columns a vector at a time (the last one zero-padded)
      add_terms_cols<Bias, 1>(coef, cstride, x + c0, xstride, nb, out + c0, ostride, nrows, n - c0);
  }

  /**
   * add_terms() for NV vectors of columns: tiles of RB rows (kTileUnits rows of kTileVecs vectors; 8 rows of one
   * vector), then one row at a time.
   */
  template <bool Bias, int NV>
  static void add_terms_cols(const T* coef, std::int64_t cstride, const T* x, std::int64_t xstride, int nb, T* out,
                             std::int64_t ostride, std::int64_t nrows, std::int64_t left) {
    constexpr int RB = Bias ? 1 : NV == 1 ? 8 : kTileUnits;
    std::int64_t r = 0;
    for (; r + RB <= nrows; r += RB) add_terms_tile<Bias, NV, RB>(coef + r, cstride, x, xstride, nb, out + r * ostride, ostride, left);
    for (; r < nrows; ++r) add_terms_tile<Bias, NV, 1>(coef + r, cstride, x, xstride, nb, out + r * ostride, ostride, left);
  }

  template <bool Bias, int NV, int RB>
  static void add_terms_tile(const T* coef, std::int64_t cstride, const T* x, std::int64_t xstride, int nb, T* out,
                             std::int64_t ostride, std::int64_t left) {
    const std::int64_t used = std::min<std::int64_t>(left, NV * V);
    const bool whole = used == NV * V;  // else the row's last columns go through a zero-padded buffer
    alignas(32) T buf[RB][NV * V];
    Vec acc[RB][NV];
    for (int i = 0; i < RB; ++i) {
      const T* src = out + i * ostride;
      if (!whole) {
        std::memcpy(buf[i], src, sizeof(T) * used);
        for (std::int64_t q = used; q < NV * V; ++q) buf[i][q] = T(0);
        src = buf[i];
      }
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) std::memcpy(&acc[i][v], src + v * V, sizeof(Vec));
    }
    for (int e = 0; e < nb; ++e) {
      const Vec* xe = reinterpret_cast<const Vec*>(x + e * xstride);
      Vec xv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) xv[v] = xe[v];
      if constexpr (Bias) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[0][v] += xv[v];
      } else {
#pragma GCC unroll 8
        for (int i = 0; i < RB; ++i) {
          const Vec ce = splat(coef[e * cstride + i]);
#pragma GCC unroll 8
          for (int v = 0; v < NV; ++v) acc[i][v] += ce * xv[v];
        }
      }
    }
    for (int i = 0; i < RB; ++i) {
      T* dst = whole ? out + i * ostride : buf[i];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) std::memcpy(dst + v * V, &acc[i][v], sizeof(Vec));
      if (!whole) std::memcpy(out + i * ostride, buf[i], sizeof(T) * used);
    }
  }
};

OPTCORE_ISA_END
}  // namespace optcore
