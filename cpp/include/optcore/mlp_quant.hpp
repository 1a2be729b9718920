/** @file mlp_quant.hpp
 *  Networks with quantized weights trained by coarse gradients: BinaryConnect and blended coarse gradient descent
 *  (BCGD; Yin et al. 2019, RELATED.md 3.2).
 *
 *  The iterate is the float ("latent") parameter vector w. Each step quantizes the weight matrices of the chosen
 *  layers, q = Q(w) (biases and the other layers are copied as they are), computes the batch gradient g at q with
 *  the network's usual passes (the coarse gradient when the activations are quantized too), and updates
 *      quantized entries:  w <- ((1 - rho_k) w + rho_k q) + c g  (BCGD; rho = 0 is BinaryConnect: w <- w + c g)
 *      other entries:      w <- w + c g
 *  with c = -eta / b, the engine's coefficient, and rho_k the blending weight of epoch k: rho_0 = rho,
 *  rho_k = min(rho_rate rho_{k-1}, rho_max) (the paper code's per-epoch growth, with rho_max = 0.01 there). The objective and accuracy of an iterate are those of the network
 *  at Q(w): the quantized network is the one that is used.
 *
 *  Weight quantizers, per weight matrix of n entries (the penhunt/full-quantization-DNN code's, util/quant.py):
 *    binary:  delta sign(w), delta = mean |w|
 *    ternary: t = 0.7 mean |w|; q = s sign(w) 1{|w| >= t}, s = (sum of |w| over |w| >= t) / n
 *    bits b:  delta = max |w| / (2^b - 1); level k = ceil((|w| / delta - 1) / 2) clipped to [0, 2^(b-1) - 1] (so
 *             k = j on ((2j - 1) delta, (2j + 1) delta]); q = s k sign(w), s = sum |w| k / sum k^2 (least squares)
 *    sign:    sign(w), the fixed set {-1, +1} (the 1-D example of RELATED.md 3.3)
 *  with sign(0) = 0 (as torch.sign). Sums run in double, in index order, and the scales are rounded once to T, so
 *  a NumPy loop in the same order gives the same bits (tests/test_quantized_net.py).
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/kernels.hpp"
#include "optcore/mlp.hpp"
#include "optcore/types.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

/** Weight quantizers; the integer values are part of the Python/C++ interface (optcore.quantized). */
enum class WeightQuant : int { none = 0, binary = 1, ternary = 2, bits = 3, sign = 4 };

template <class T>
inline T sign_of(T w) {
  return w > T(0) ? T(1) : (w < T(0) ? T(-1) : T(0));
}

/** The b-bit quantizer's level of w: ceil((|w| / delta - 1) / 2) clipped to [0, top] (0 where delta = 0). */
template <class T>
double level(T w, double delta, double top) {
  if (!(delta > 0)) return 0;
  const double k = std::ceil((static_cast<double>(std::abs(w)) / delta - 1.0) / 2.0);
  return std::min(top, std::max(0.0, k));
}

/** q = Q(w) for one weight matrix of n entries (see the file comment). */
template <class T>
void quantize_weights(WeightQuant kind, int bits, const T* w, T* q, std::int64_t n) {
  switch (kind) {
    case WeightQuant::none: std::copy_n(w, n, q); return;
    case WeightQuant::sign:
      for (std::int64_t j = 0; j < n; ++j) q[j] = sign_of(w[j]);
      return;
    case WeightQuant::binary: {
      double total = 0;
      for (std::int64_t j = 0; j < n; ++j) total += static_cast<double>(std::abs(w[j]));
      const T delta = static_cast<T>(total / static_cast<double>(n));
      for (std::int64_t j = 0; j < n; ++j) q[j] = w[j] > T(0) ? delta : (w[j] < T(0) ? -delta : T(0));
      return;
    }
    case WeightQuant::ternary: {
      double total = 0;
      for (std::int64_t j = 0; j < n; ++j) total += static_cast<double>(std::abs(w[j]));
      const T threshold = static_cast<T>(0.7 * (total / static_cast<double>(n)));
      double kept = 0;
      for (std::int64_t j = 0; j < n; ++j)
        if (std::abs(w[j]) >= threshold) kept += static_cast<double>(std::abs(w[j]));
      const T s = static_cast<T>(kept / static_cast<double>(n));
      for (std::int64_t j = 0; j < n; ++j) q[j] = std::abs(w[j]) >= threshold ? s * sign_of(w[j]) : T(0);
      return;
    }
    case WeightQuant::bits: {
      T largest = T(0);
      for (std::int64_t j = 0; j < n; ++j) largest = std::max(largest, std::abs(w[j]));
      const double top = static_cast<double>((std::int64_t(1) << (bits - 1)) - 1);
      const double delta = static_cast<double>(largest) / static_cast<double>((std::int64_t(1) << bits) - 1);
      double num = 0, den = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const double k = level(w[j], delta, top);
        num += static_cast<double>(std::abs(w[j])) * k;
        den += k * k;
      }
      const T s = den > 0 ? static_cast<T>(num / den) : T(0);
      for (std::int64_t j = 0; j < n; ++j) {
        const T k = static_cast<T>(level(w[j], delta, top));
        q[j] = k > T(0) ? sign_of(w[j]) * (s * k) : T(0);
      }
      return;
    }
  }
}


/**
 * A network whose weights are quantized at every evaluation: the engine's problem interface (engine.hpp) on
 * Q(theta), and the blended update (the engine's `update` hook).
 */
template <class T>
struct QuantizedMLP {
  static constexpr bool kFixedDimKernels = false;

  MLP<T> net;
  WeightQuant kind;
  int bits;
  T rho;                             ///< BCGD blending weight of epoch 0; 0 is BinaryConnect
  const std::uint8_t* quant_layers;  ///< (layers,) 1 where the layer's weight matrix is quantized
  T rho_rate = T(1);                 ///< per-epoch growth of rho (1: constant)
  T rho_max = T(1);                  ///< its cap

  /** rho_k: rho_0 = rho, rho_k = min(rho_rate rho_{k-1}, rho_max), in T, one product per epoch (so a NumPy loop
   *  gives the same bits; k is at most the number of epochs, small next to a gradient pass). */
  T rho_at(std::int64_t k) const {
    T r = rho;
    if (rho_rate == T(1)) return r;
    for (std::int64_t j = 0; j < k; ++j) r = std::min(rho_rate * r, rho_max);
    return r;
  }

  /** q = Q(theta): the quantized layers' weight matrices quantized, everything else copied. */
  void quantize(const T* theta, T* q) const {
    std::copy_n(theta, net.d, q);
    for (int l = 0; l < net.layers; ++l) {
      if (!quant_layers[l]) continue;
      const std::int64_t off = net.w_offset(l), size = net.widths[l + 1] * net.widths[l];
      quantize_weights(kind, bits, theta + off, q + off, size);
    }
  }

  /** Q(theta) in a per-thread buffer (valid until the next call on this thread). */
  const T* quantized(const T* theta) const {
    thread_local std::vector<T> q;
    if (static_cast<std::int64_t>(q.size()) < net.d) q.resize(net.d);
    quantize(theta, q.data());
    return q.data();
  }

  // --- the engine's interface: the network's passes at Q(theta) ---------------------------------------------------
  void add_grad(std::int64_t i, const T* theta, T* g, T s) const { net.add_grad(i, quantized(theta), g, s); }
  void add_grad_batch(const std::uint32_t* idx, std::int64_t count, std::int64_t base, const T* theta, T* g,
                      T s) const {
    net.add_grad_batch(idx, count, base, quantized(theta), g, s);
  }
  bool batch_objective_matches() const { return net.batch_objective_matches(); }
  bool add_grad_batch_objective(const std::uint32_t* idx, std::int64_t count, const T* theta, T* g, T s,
                                T* objective, T* accuracy = nullptr) const {
    return net.add_grad_batch_objective(idx, count, quantized(theta), g, s, objective, accuracy);
  }
  T objective(const T* theta) const { return net.objective(quantized(theta)); }
  T accuracy(const T* theta) const { return net.accuracy(quantized(theta)); }
  void objective_and_accuracy(const T* theta, T* objective, T* accuracy) const {
    net.objective_and_accuracy(quantized(theta), objective, accuracy);
  }

  /**
   * theta <- ((1 - rho_k) theta + rho_k Q(theta)) + c grad on the quantized layers' weights, theta + c grad
   * elsewhere, c = -eta / count (and everywhere when rho_k = 0: BinaryConnect is exactly SGD on the latent weights
   * with the gradient at Q). The engine's hook (engine.hpp HasUpdate); the network's first net.d entries only.
   */
  void update(T* theta, const T* grad, const UpdateStep<T>& step) const {
    const T c = step.coef(), blend = rho_at(step.epoch);
    if (blend == T(0)) return axpy(c, grad, theta, net.d);
    const T* q = quantized(theta);
    const T keep = T(1) - blend;
    std::int64_t done = 0;  // entries before `done` are updated
    for (int l = 0; l < net.layers; ++l) {
      if (!quant_layers[l]) continue;
      const std::int64_t off = net.w_offset(l), size = net.widths[l + 1] * net.widths[l];
      axpy(c, grad + done, theta + done, off - done);
      for (std::int64_t j = off; j < off + size; ++j) theta[j] = (keep * theta[j] + blend * q[j]) + c * grad[j];
      done = off + size;
    }
    axpy(c, grad + done, theta + done, net.d - done);
  }
};

OPTCORE_ISA_END
}  // namespace optcore
