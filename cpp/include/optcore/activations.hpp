/** @file activations.hpp
 *  The activation functions of the networks and their first and second derivatives, shared by the CPU build
 *  (mlp.hpp) and the CUDA kernels (python/optcore/cuda/nn.cu): the scalar forms are OPTCORE_HD.
 *
 *  Derivative convention at kinks: the left derivative (see mlp.hpp and optcore.nn).
 */
#pragma once

#include <cmath>
#include <cstdint>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

enum class Activation : int { relu = 0, leaky = 1, linear = 2, hardtanh = 3, tanh = 4, sigmoid = 5, softplus = 6,
                              quantized = 7 };

/**
 * The derivative the backward pass uses for the quantized activation (a straight-through estimator, RELATED.md
 * 3.2): its true derivative is 0 almost everywhere, so backpropagation takes a proxy's.
 */
enum class Ste : int { clipped_relu = 0, relu = 1, identity = 2 };

/**
 * The derivative in alpha of the quantized activation that trains a learned resolution (RELATED.md 3.2, the
 * paper code's gd_type). sigma is piecewise constant in x but not in alpha: at fixed x it is alpha times a count
 * of steps, so 'ae' is its exact derivative almost everywhere; 'pact' keeps only the saturated part (as PACT's
 * clipping level); 'mean' replaces the count inside (0, L alpha] by its average (L + 1) / 2 (the code's default).
 */
enum class AlphaGrad : int { ae = 0, pact = 1, mean = 2 };

/** min(1, max(-1, z)), written out as std::min/std::max compute it (same result for every z, NaN included), so
 *  that it needs no <algorithm> on the GPU. */
template <class T>
OPTCORE_HD inline T hardtanh_value(T z) {
  const T upper = T(-1) < z ? z : T(-1);  // std::max(T(-1), z)
  return upper < T(1) ? upper : T(1);     // std::min(T(1), upper)
}

/** h, h' and h'' of the activation at z. */
template <class T>
struct ActivationFn {
  Activation kind;
  /// slopes of the two-slope activation h(z) = s_pos z (z > 0), s_neg z (z <= 0), any signs (relu: 1, 0); for
  /// s_pos, s_neg >= 0 this is the max(s+ z, 0) + min(s- z, 0) of THEORY.md 1.1 (see optcore.nn)
  T s_pos, s_neg;
  /// The quantized activation (optcore.nn, RELATED.md 3.2): b bits, levels = 2^b - 1 = L steps of resolution
  /// alpha, sigma(z) = 0 (z <= 0), alpha min(ceil(z / alpha), L) (z > 0); the backward pass multiplies by the
  /// derivative of the proxy `ste` instead (clipped ReLU: 1{0 < z <= L alpha}; ReLU: 1{z > 0}; identity: 1).
  T alpha = T(1);
  T levels = T(1);
  Ste ste = Ste::clipped_relu;

  OPTCORE_HD T quantized_value(T z) const {
    if (!(z > T(0))) return T(0);
    const T steps = std::ceil(z / alpha);
    return alpha * (steps < levels ? steps : levels);
  }
  /** d sigma / d alpha at z: 0 for z <= 0 and L for z > L alpha under every rule; inside (0, L alpha]
   *  min(ceil(z / alpha), L) ('ae', so sigma = alpha ae exactly), 0 ('pact') or (L + 1) / 2 ('mean'). */
  OPTCORE_HD T alpha_first(T z, AlphaGrad rule) const {
    if (!(z > T(0))) return T(0);
    if (z > levels * alpha) return levels;
    switch (rule) {
      case AlphaGrad::ae: {
        const T steps = std::ceil(z / alpha);
        return steps < levels ? steps : levels;
      }
      case AlphaGrad::pact: return T(0);
      case AlphaGrad::mean: return (levels + T(1)) / T(2);
    }
    return T(0);
  }
  OPTCORE_HD T ste_first(T z) const {
    switch (ste) {
      case Ste::clipped_relu: return (z > T(0) && z <= levels * alpha) ? T(1) : T(0);
      case Ste::relu: return z > T(0) ? T(1) : T(0);
      case Ste::identity: return T(1);
    }
    return T(1);
  }

  OPTCORE_HD T value(T z) const {
    switch (kind) {
      case Activation::relu: return z > T(0) ? z : T(0);
      case Activation::leaky: return z > T(0) ? s_pos * z : s_neg * z;
      case Activation::linear: return z;
      case Activation::hardtanh: return hardtanh_value(z);
      case Activation::tanh: return std::tanh(z);
      case Activation::sigmoid: return T(1) / (T(1) + std::exp(-z));
      case Activation::softplus: return z > T(0) ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
      case Activation::quantized: return quantized_value(z);
    }
    return z;
  }
  OPTCORE_HD T first(T z) const {
    switch (kind) {
      case Activation::relu: return z > T(0) ? T(1) : T(0);
      case Activation::leaky: return z > T(0) ? s_pos : s_neg;
      case Activation::linear: return T(1);
      case Activation::hardtanh: return (z > T(-1) && z < T(1)) ? T(1) : T(0);
      case Activation::tanh: {
        const T t = std::tanh(z);
        return T(1) - t * t;
      }
      case Activation::sigmoid:
      case Activation::softplus: {  // softplus' = sigmoid
        const T s = T(1) / (T(1) + std::exp(-z));
        return kind == Activation::sigmoid ? s * (T(1) - s) : s;
      }
      case Activation::quantized: return ste_first(z);  // the proxy's derivative (coarse gradient)
    }
    return T(1);
  }
  /** a[i] = h(z[i]) for i < n, with the kind dispatched once (the loops vectorize). */
  void values(const T* z, T* a, std::int64_t n) const {
    switch (kind) {
      case Activation::relu:
        for (std::int64_t i = 0; i < n; ++i) a[i] = z[i] > T(0) ? z[i] : T(0);
        return;
      case Activation::leaky:
        for (std::int64_t i = 0; i < n; ++i) a[i] = z[i] > T(0) ? s_pos * z[i] : s_neg * z[i];
        return;
      case Activation::linear:
        for (std::int64_t i = 0; i < n; ++i) a[i] = z[i];
        return;
      case Activation::hardtanh:
        for (std::int64_t i = 0; i < n; ++i) a[i] = hardtanh_value(z[i]);
        return;
      default:
        for (std::int64_t i = 0; i < n; ++i) a[i] = value(z[i]);
    }
  }
  /** d[i] *= h'(z[i]) for i < n, with the kind dispatched once. */
  void times_first(const T* z, T* d, std::int64_t n) const {
    switch (kind) {
      case Activation::relu:
        for (std::int64_t i = 0; i < n; ++i) d[i] = z[i] > T(0) ? d[i] : T(0);
        return;
      case Activation::leaky:
        for (std::int64_t i = 0; i < n; ++i) d[i] *= z[i] > T(0) ? s_pos : s_neg;
        return;
      case Activation::linear:
        return;
      case Activation::hardtanh:
        for (std::int64_t i = 0; i < n; ++i) d[i] = (z[i] > T(-1) && z[i] < T(1)) ? d[i] : T(0);
        return;
      default:
        for (std::int64_t i = 0; i < n; ++i) d[i] *= first(z[i]);
    }
  }
  OPTCORE_HD T second(T z) const {
    switch (kind) {
      case Activation::tanh: {
        const T t = std::tanh(z);
        return T(-2) * t * (T(1) - t * t);
      }
      case Activation::sigmoid: {
        const T s = T(1) / (T(1) + std::exp(-z));
        return s * (T(1) - s) * (T(1) - T(2) * s);
      }
      case Activation::softplus: {
        const T s = T(1) / (T(1) + std::exp(-z));
        return s * (T(1) - s);
      }
      default: return T(0);
    }
  }
};

OPTCORE_ISA_END
}  // namespace optcore
