/** @file mlp_gemm.hpp
 *  The batch pass of networks with wide layers: whole blocks of examples through each layer as matrix products
 *  (gemm.hpp: OpenBLAS when registered), instead of one example at a time with a dot product per unit.
 *
 *  For a block of m examples (rows), with A_0 the block's inputs (m x d_0) and W_l (d_l x d_{l-1}) row-major:
 *    forward:   Z_l = A_{l-1} W_l' (+ b_l in every row),  A_l = h(Z_l) (l < L), the output is Z_L;
 *    backward:  D_L = d loss / d Z_L row by row (MLP::loss_gradient),
 *               grad W_l += c D_l' A_{l-1},  grad b_l += c (column sums of D_l),
 *               D_{l-1} = (D_l W_l) * h'(Z_{l-1}),
 *  with c = s * scale. Blocks of kRows examples keep a block's activations in the caches; the gradient
 *  accumulates block after block in example order.
 *
 *  MLP::add_grad_batch(), objective() and accuracy() take this pass when pays(): some width (input, hidden or
 *  output) above kMinWidth. Networks whose widths are all <= kMinWidth keep their passes and their bits (the
 *  networks-in-lanes pass of mlp_lanes.hpp replicates those bit for bit and refuses widths above 64).
 *  objective() and a full-batch gradient over the examples in their stored order run the same forward products on
 *  the same blocks, so grad_with_objective() gives objective()'s bits from the gradient's forward pass.
 */
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/gemm.hpp"
#include "optcore/isa.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

template <class T>
struct MLP;

namespace mlp_gemm {

/** Widest layer above which the matrix-product pass is used (networks up to it keep their passes and bits). */
constexpr std::int64_t kMinWidth = 64;
/**
 * Examples per block: measured at widths (10, 256, 256, 1) and (10, 128, 128, 1), batch 1024, float32 and float64,
 * blocks of 128, 256, 512 and 1024 rows were within the noise of each other, 256 as fast as any.
 */
constexpr std::int64_t kRows = 256;

/**
 * Whether a network takes the matrix-product pass: some width above kMinWidth (structure is the caller's job).
 * For any batch size: at widths 72 and 256, batches of 2, 4 and 8 examples measured as fast as the one-example
 * pass or faster (up to 2.5x at 8), so no minimum batch.
 */
template <class T>
bool pays(const MLP<T>& net) {
  for (int l = 0; l <= net.layers; ++l)
    if (net.widths[l] > kMinWidth) return true;
  return false;
}

/** Per-thread buffers: Z_l, A_l and D_l of every layer as (kRows, d_l) blocks, the gathered inputs, column sums. */
template <class T>
struct Scratch {
  std::vector<T> z, a, delta, inputs, sums;
  std::vector<std::int64_t> at;  ///< start of layer l's block in z/a/delta
};

template <class T>
Scratch<T>& scratch(const MLP<T>& net) {
  thread_local Scratch<T> s;
  s.at.resize(net.layers + 2);
  std::int64_t units = 0, widest = 0;
  for (int l = 0; l <= net.layers; ++l) {
    s.at[l] = units * kRows;
    units += net.widths[l];
    widest = std::max(widest, net.widths[l]);
  }
  s.at[net.layers + 1] = units * kRows;
  const std::size_t need = static_cast<std::size_t>(units * kRows);
  for (auto* v : {&s.z, &s.a, &s.delta})
    if (v->size() < need) v->resize(need);
  if (s.inputs.size() < static_cast<std::size_t>(kRows * net.widths[0])) s.inputs.resize(kRows * net.widths[0]);
  if (s.sums.size() < static_cast<std::size_t>(widest)) s.sums.resize(widest);
  return s;
}

/**
 * The inputs of examples base + idx[j], j < m (idx null: base + j), as an (m, d_0) row-major block: the data
 * itself when the examples are consecutive, else a gathered copy.
 */
template <class T>
const T* inputs(const MLP<T>& net, const std::uint32_t* idx, std::int64_t m, std::int64_t base, Scratch<T>& sc) {
  const std::int64_t d0 = net.widths[0];
  if (!idx) return net.X + base * d0;
  bool consecutive = true;
  for (std::int64_t j = 1; j < m && consecutive; ++j) consecutive = idx[j] == idx[0] + j;
  if (consecutive) return net.X + (base + idx[0]) * d0;
  for (std::int64_t j = 0; j < m; ++j) std::copy_n(net.X + (base + idx[j]) * d0, d0, sc.inputs.data() + j * d0);
  return sc.inputs.data();
}

/** Forward pass of an (m, d_0) block of inputs: fills sc.z and sc.a; returns Z_L, (m, d_L). */
template <class T>
const T* forward(const MLP<T>& net, const T* theta, const T* in, std::int64_t m, Scratch<T>& sc) {
  std::int64_t off = 0;
  for (int l = 1; l <= net.layers; ++l) {
    const std::int64_t rows = net.widths[l], cols = net.widths[l - 1];
    const T* W = theta + off;
    T* z = sc.z.data() + sc.at[l];
    gemm<T>(Trans::no, Trans::yes, m, rows, cols, T(1), in, cols, W, cols, T(0), z, rows);
    if (net.bias) {
      const T* b = W + rows * cols;
      for (std::int64_t e = 0; e < m; ++e)
        for (std::int64_t r = 0; r < rows; ++r) z[e * rows + r] += b[r];
    }
    if (l < net.layers) {
      T* a = sc.a.data() + sc.at[l];
      net.act.values(z, a, m * rows);
      in = a;
    }
    off += rows * cols + (net.bias ? rows : 0);
  }
  return sc.z.data() + sc.at[net.layers];
}

/**
 * g += s * sum over j < count of grad f_i, i = base + idx[j]. With `loss_total`, also adds the example losses
 * loss(net(x_i), y_i) to it in the order of idx, in double (objective()'s sum when idx is 0, 1, ..., n - 1); with
 * `right`, adds the number of examples classified correctly (MLP::classified()) to it.
 */
template <class T>
void add_grad(const MLP<T>& net, const std::uint32_t* idx, std::int64_t count, std::int64_t base, const T* theta,
              T* g, T s, double* loss_total = nullptr, std::int64_t* right = nullptr) {
  Scratch<T>& sc = scratch(net);
  const int L = net.layers;
  const std::int64_t k = net.out_dim();
  const T c = s * net.scale;
  for (std::int64_t b0 = 0; b0 < count; b0 += kRows) {
    const std::int64_t m = std::min(kRows, count - b0);
    const std::uint32_t* rows_idx = idx ? idx + b0 : nullptr;
    const T* in = inputs(net, rows_idx, m, idx ? base : base + b0, sc);
    const T* zout = forward(net, theta, in, m, sc);
    T* dout = sc.delta.data() + sc.at[L];
    for (std::int64_t e = 0; e < m; ++e) {
      const std::int64_t i = base + (idx ? idx[b0 + e] : b0 + e);
      if (loss_total) *loss_total += net.example_loss(i, zout + e * k);
      if (right) *right += net.classified(i, zout + e * k);
      net.loss_gradient(i, zout + e * k, dout + e * k);
    }
    for (int l = L; l >= 1; --l) {
      const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], off = net.w_offset(l - 1);
      const T* delta = sc.delta.data() + sc.at[l];
      const T* a_in = l > 1 ? sc.a.data() + sc.at[l - 1] : in;
      gemm<T>(Trans::yes, Trans::no, rows, cols, m, c, delta, rows, a_in, cols, T(1), g + off, cols);
      if (net.bias) {
        T* sums = sc.sums.data();
        std::fill_n(sums, rows, T(0));
        for (std::int64_t e = 0; e < m; ++e)
          for (std::int64_t r = 0; r < rows; ++r) sums[r] += delta[e * rows + r];
        T* gb = g + off + rows * cols;
        for (std::int64_t r = 0; r < rows; ++r) gb[r] += c * sums[r];
      }
      if (l > 1) {
        T* prev = sc.delta.data() + sc.at[l - 1];
        gemm<T>(Trans::no, Trans::no, m, cols, rows, T(1), delta, rows, theta + off, cols, T(0), prev, cols);
        net.act.times_first(sc.z.data() + sc.at[l - 1], prev, m * cols);
      }
    }
  }
}

/** The sum of the example losses over all n examples in order, in double (MLP::objective()'s sum). */
template <class T>
double loss_total(const MLP<T>& net, const T* theta) {
  Scratch<T>& sc = scratch(net);
  const std::int64_t k = net.out_dim();
  double total = 0;
  for (std::int64_t b0 = 0; b0 < net.n; b0 += kRows) {
    const std::int64_t m = std::min(kRows, net.n - b0);
    const T* zout = forward(net, theta, inputs(net, nullptr, m, b0, sc), m, sc);
    for (std::int64_t e = 0; e < m; ++e) total += net.example_loss(b0 + e, zout + e * k);
  }
  return total;
}

/** The outputs of all n examples, (n, d_L) row-major, into `out`. */
template <class T>
void outputs(const MLP<T>& net, const T* theta, T* out) {
  Scratch<T>& sc = scratch(net);
  const std::int64_t k = net.out_dim();
  for (std::int64_t b0 = 0; b0 < net.n; b0 += kRows) {
    const std::int64_t m = std::min(kRows, net.n - b0);
    const T* zout = forward(net, theta, inputs(net, nullptr, m, b0, sc), m, sc);
    std::copy_n(zout, m * k, out + b0 * k);
  }
}

/** loss_total() and correct() from one forward pass: *total += the losses' sum, *right += the count. */
template <class T>
void loss_and_correct(const MLP<T>& net, const T* theta, double* total, std::int64_t* right) {
  Scratch<T>& sc = scratch(net);
  const std::int64_t k = net.out_dim();
  for (std::int64_t b0 = 0; b0 < net.n; b0 += kRows) {
    const std::int64_t m = std::min(kRows, net.n - b0);
    const T* zout = forward(net, theta, inputs(net, nullptr, m, b0, sc), m, sc);
    for (std::int64_t e = 0; e < m; ++e) {
      *total += net.example_loss(b0 + e, zout + e * k);
      *right += net.classified(b0 + e, zout + e * k);
    }
  }
}

/** The number of examples classified correctly (MLP::classified()). */
template <class T>
std::int64_t correct(const MLP<T>& net, const T* theta) {
  Scratch<T>& sc = scratch(net);
  const std::int64_t k = net.out_dim();
  std::int64_t right = 0;
  for (std::int64_t b0 = 0; b0 < net.n; b0 += kRows) {
    const std::int64_t m = std::min(kRows, net.n - b0);
    const T* zout = forward(net, theta, inputs(net, nullptr, m, b0, sc), m, sc);
    for (std::int64_t e = 0; e < m; ++e) right += net.classified(b0 + e, zout + e * k);
  }
  return right;
}

/** Whether idx[0..count) with base are all n examples in their stored order (the objective's blocks). */
inline bool whole_data_in_order(const std::uint32_t* idx, std::int64_t count, std::int64_t base, std::int64_t n) {
  if (base != 0 || count != n) return false;
  for (std::int64_t j = 0; j < count; ++j)
    if (idx[j] != static_cast<std::uint32_t>(j)) return false;
  return true;
}

}  // namespace mlp_gemm

OPTCORE_ISA_END
}  // namespace optcore
