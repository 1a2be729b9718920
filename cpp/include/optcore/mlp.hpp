/** @file mlp.hpp
 *  Fully connected networks as finite-sum problems: forward pass, loss, gradient (backpropagation) and exact
 *  Hessian-vector products (Pearlmutter's R-operator) for one example at a time.
 *
 *  Parameters of one network are one flat vector: for each layer l = 1..L, W_l (d_l x d_{l-1}, row-major), then
 *  b_l (d_l) if the network has biases. Hidden layers apply the activation; the output layer is linear.
 *
 *  Derivative convention at kinks (documented in optcore.nn): the left derivative. ReLU and the two-slope
 *  h(x) = s+ x (x > 0), s- x (x <= 0) have h'(0) = s- (so relu'(0) = 0, as in PyTorch); hard-tanh has
 *  h'(+-1) = 0. Second derivatives of piecewise-linear activations are 0.
 */
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "optcore/activations.hpp"
#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/kernels.hpp"
#include "optcore/mlp_gemm.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

enum class NetLoss : int { squared = 0, logistic = 1, exponential = 2, softmax_ce = 3 };

template <class T>
struct SmallBatch;  // mlp_small.hpp: the one-example arithmetic, a block of examples at a time

/**
 * A network and its data as a finite sum: f_i(theta) = scale * loss(net(theta, x_i), y_i), with scale = 1 for
 * the mean reduction (F = mean of the losses) and n for the sum reduction (F = sum of the losses).
 * Scratch memory is per thread, so one MLP object serves every thread of the engine.
 */
template <class T>
struct MLP {
  static constexpr bool kFixedDimKernels = false;

  const std::int64_t* widths;  ///< (L + 1,): input dim, hidden widths, output dim
  int layers;                  ///< L >= 1 weight layers
  bool bias;
  ActivationFn<T> act;
  NetLoss loss;
  const T* X;  ///< (n, d_0)
  const T* Y;  ///< (n, d_L) targets for squared loss; (n,) labels +-1 or class indices otherwise
  std::int64_t n;
  T scale;     ///< 1 (mean) or n (sum)
  std::int64_t d;  ///< number of parameters
  /// Structured networks only (see "structured networks" below): the group of each of the d parameters, -1 for a
  /// masked weight (fixed at zero), else the index in [0, groups) of the set of parameters tied to it.
  /// nullptr (the default) is the plain fully connected network, whose code path does not change.
  const std::int64_t* group = nullptr;
  std::int64_t groups = 0;

  std::int64_t out_dim() const { return widths[layers]; }
  std::int64_t y_cols() const { return loss == NetLoss::squared ? out_dim() : 1; }

  /** Offsets of W_l and b_l in the flat parameter vector (l = 0..L-1). */
  std::int64_t w_offset(int l) const {
    std::int64_t off = 0;
    for (int k = 0; k < l; ++k) off += widths[k + 1] * widths[k] + (bias ? widths[k + 1] : 0);
    return off;
  }

  static std::int64_t count_params(const std::int64_t* widths, int layers, bool bias) {
    std::int64_t total = 0;
    for (int k = 0; k < layers; ++k) total += widths[k + 1] * widths[k] + (bias ? widths[k + 1] : 0);
    return total;
  }

  /** Per-thread scratch: pre-activations z_l and activations a_l of all layers (and their R-versions). */
  struct Scratch {
    std::vector<T> z, a, delta, rz, ra, rdelta;
    std::vector<std::int64_t> offsets;  ///< start of layer l's units in z/a (layer 0 = input)
  };

  Scratch& scratch() const {
    thread_local Scratch s;
    std::int64_t total = 0;
    s.offsets.resize(layers + 2);
    for (int l = 0; l <= layers; ++l) {
      s.offsets[l] = total;
      total += widths[l];
    }
    s.offsets[layers + 1] = total;
    for (auto* v : {&s.z, &s.a, &s.delta, &s.rz, &s.ra, &s.rdelta})
      if (static_cast<std::int64_t>(v->size()) < total) v->resize(total);
    return s;
  }

  /** The activation of hidden layer l (1-based): `act`, with the resolution alphas[l - 1] of a quantized
   *  activation whose resolutions are learned per layer (mlp_alpha.hpp) when `alphas` is given. */
  ActivationFn<T> activation_of(int l, const T* alphas) const {
    ActivationFn<T> h = act;
    if (alphas) h.alpha = alphas[l - 1];
    return h;
  }

  /** Forward pass of example i: fills z and a of every layer; returns a pointer to the output (z_L). `alphas`:
   *  per-hidden-layer resolutions of the quantized activation (learned alpha), else act.alpha everywhere. */
  const T* forward(std::int64_t i, const T* theta, Scratch& s, const T* alphas = nullptr) const {
    const std::int64_t d0 = widths[0];
    std::copy_n(X + i * d0, d0, s.a.data());
    std::copy_n(X + i * d0, d0, s.z.data());
    std::int64_t off = 0;
    for (int l = 1; l <= layers; ++l) {
      const std::int64_t rows = widths[l], cols = widths[l - 1];
      const T* W = theta + off;
      const T* b = theta + off + rows * cols;
      const T* in = s.a.data() + s.offsets[l - 1];
      T* z = s.z.data() + s.offsets[l];
      T* a = s.a.data() + s.offsets[l];
      const ActivationFn<T> h = activation_of(l, l < layers ? alphas : nullptr);
      for (std::int64_t r = 0; r < rows; ++r) {
        z[r] = dot(W + r * cols, in, cols) + (bias ? b[r] : T(0));
        a[r] = l < layers ? h.value(z[r]) : z[r];
      }
      off += rows * cols + (bias ? rows : 0);
    }
    return s.z.data() + s.offsets[layers];
  }

  /** The loss of output `out` against example i's target. */
  T example_loss(std::int64_t i, const T* out) const {
    const std::int64_t k = out_dim();
    switch (loss) {
      case NetLoss::squared: {
        T total = T(0);
        for (std::int64_t j = 0; j < k; ++j) {
          const T r = out[j] - Y[i * k + j];
          total += r * r;
        }
        return T(0.5) * total;
      }
      case NetLoss::logistic: {
        const T m = Y[i] * out[0];
        return m > T(0) ? std::log1p(std::exp(-m)) : -m + std::log1p(std::exp(m));
      }
      case NetLoss::exponential: return std::exp(-Y[i] * out[0]);
      case NetLoss::softmax_ce: {
        const T mx = *std::max_element(out, out + k);
        T sum = T(0);
        for (std::int64_t j = 0; j < k; ++j) sum += std::exp(out[j] - mx);
        return mx + std::log(sum) - out[static_cast<std::int64_t>(Y[i])];
      }
    }
    return T(0);
  }

  /** delta = d loss / d out (written to `delta`), for example i. */
  void loss_gradient(std::int64_t i, const T* out, T* delta) const {
    const std::int64_t k = out_dim();
    switch (loss) {
      case NetLoss::squared:
        for (std::int64_t j = 0; j < k; ++j) delta[j] = out[j] - Y[i * k + j];
        return;
      case NetLoss::logistic: {
        const T m = Y[i] * out[0];
        const T sig = m >= T(0) ? std::exp(-m) / (T(1) + std::exp(-m)) : T(1) / (T(1) + std::exp(m));  // 1/(1+e^m)
        delta[0] = -Y[i] * sig;
        return;
      }
      case NetLoss::exponential: delta[0] = -Y[i] * std::exp(-Y[i] * out[0]); return;
      case NetLoss::softmax_ce: {
        const T mx = *std::max_element(out, out + k);
        T sum = T(0);
        for (std::int64_t j = 0; j < k; ++j) sum += std::exp(out[j] - mx);
        for (std::int64_t j = 0; j < k; ++j) delta[j] = std::exp(out[j] - mx) / sum;
        delta[static_cast<std::int64_t>(Y[i])] -= T(1);
        return;
      }
    }
  }

  /** rdelta = Hessian of the loss in the output, applied to rout. */
  void loss_hessian_times(std::int64_t i, const T* out, const T* rout, T* rdelta) const {
    const std::int64_t k = out_dim();
    switch (loss) {
      case NetLoss::squared:
        for (std::int64_t j = 0; j < k; ++j) rdelta[j] = rout[j];
        return;
      case NetLoss::logistic: {
        const T m = Y[i] * out[0];
        const T p = T(1) / (T(1) + std::exp(-m));
        rdelta[0] = p * (T(1) - p) * rout[0];  // y^2 = 1
        return;
      }
      case NetLoss::exponential: rdelta[0] = std::exp(-Y[i] * out[0]) * rout[0]; return;
      case NetLoss::softmax_ce: {
        const T mx = *std::max_element(out, out + k);
        T sum = T(0), pr = T(0);
        for (std::int64_t j = 0; j < k; ++j) sum += std::exp(out[j] - mx);
        for (std::int64_t j = 0; j < k; ++j) pr += std::exp(out[j] - mx) / sum * rout[j];
        for (std::int64_t j = 0; j < k; ++j) {
          const T p = std::exp(out[j] - mx) / sum;
          rdelta[j] = p * (rout[j] - pr);  // (diag(p) - p p') rout
        }
        return;
      }
    }
  }

  /**
   * Backpropagation from delta of the output layer: g += s * grad. Leaves the deltas of every layer in s.delta.
   * With per-layer resolutions `alphas` (learned alpha, see forward()) also g_alpha[l - 1] += s * d/d alpha_l,
   * where d sigma / d alpha is the rule's (ActivationFn::alpha_first).
   */
  void backward(const T* theta, Scratch& sc, T* g, T s, const T* alphas = nullptr, T* g_alpha = nullptr,
                AlphaGrad rule = AlphaGrad::mean) const {
    for (int l = layers; l >= 1; --l) {
      const std::int64_t rows = widths[l], cols = widths[l - 1], off = w_offset(l - 1);
      const T* W = theta + off;
      const T* delta = sc.delta.data() + sc.offsets[l];
      const T* in = sc.a.data() + sc.offsets[l - 1];
      for (std::int64_t r = 0; r < rows; ++r) {
        axpy(s * delta[r], in, g + off + r * cols, cols);
        if (bias) g[off + rows * cols + r] += s * delta[r];
      }
      if (l > 1) {
        T* prev = sc.delta.data() + sc.offsets[l - 1];
        const T* zprev = sc.z.data() + sc.offsets[l - 1];
        for (std::int64_t c = 0; c < cols; ++c) prev[c] = T(0);
        for (std::int64_t r = 0; r < rows; ++r) axpy(delta[r], W + r * cols, prev, cols);
        const ActivationFn<T> h = activation_of(l - 1, alphas);
        if (g_alpha) {  // prev is d loss / d a_{l-1} here, before the STE's derivative
          T total = T(0);
          for (std::int64_t c = 0; c < cols; ++c) total += prev[c] * h.alpha_first(zprev[c], rule);
          g_alpha[l - 2] += s * total;
        }
        for (std::int64_t c = 0; c < cols; ++c) prev[c] *= h.first(zprev[c]);
      }
    }
  }

  // --- batched gradients -----------------------------------------------------------------------------------------
  // Networks with a layer wider than 64 take matrix products (mlp_gemm.hpp), the others the one-example arithmetic
  // a block of examples at a time (mlp_small.hpp).

  void add_grad_batch(const std::uint32_t* idx, std::int64_t count, std::int64_t base, const T* theta, T* g,
                      T s) const {
    if (group) return structured_add_grad_batch(idx, count, base, theta, g, s);
    if (mlp_gemm::pays(*this)) return mlp_gemm::add_grad(*this, idx, count, base, theta, g, s);  // wide layers
    add_grad_batch_losses(idx, count, base, theta, g, s, nullptr);
  }

  /**
   * Whether add_grad_batch_objective() can give objective() over a full batch (count == n): its forward pass must
   * be the objective's.
   */
  bool batch_objective_matches() const {
    if (group) return false;
    return mlp_gemm::pays(*this) || SmallBatch<T>::pays(*this);  // wide layers: for batches in stored order
  }

  /**
   * add_grad_batch() over a batch holding every example once (idx a permutation of 0..n-1, base 0), which also
   * gives objective() and accuracy() at theta (each where its pointer is not null) from the same forward pass
   * (same bits: the same outputs; the accuracy is a count, whatever the examples' order). Needs
   * batch_objective_matches(). Returns whether they were set: wide networks (mlp_gemm.hpp) give them only for the
   * examples in their stored order, whose blocks of matrix products are objective()'s and accuracy()'s.
   */
  bool add_grad_batch_objective(const std::uint32_t* idx, std::int64_t count, const T* theta, T* g, T s,
                                T* objective, T* accuracy = nullptr) const {
    std::int64_t right = 0;
    if (mlp_gemm::pays(*this)) {
      if (!mlp_gemm::whole_data_in_order(idx, count, 0, n)) {
        add_grad_batch(idx, count, 0, theta, g, s);
        return false;
      }
      double total = 0;
      mlp_gemm::add_grad(*this, idx, count, 0, theta, g, s, objective ? &total : nullptr, accuracy ? &right : nullptr);
      if (objective) *objective = mean_loss(total);
      if (accuracy) *accuracy = fraction_right(right);
      return true;
    }
    std::vector<double>& losses = loss_tmp(n);
    add_grad_batch_losses(idx, count, 0, theta, g, s, objective ? losses.data() : nullptr,
                          accuracy ? &right : nullptr);
    if (objective) *objective = SmallBatch<T>::total_objective(*this, losses.data());
    if (accuracy) *accuracy = fraction_right(right);
    return true;
  }

  /** objective() from the sum of the n example losses in double: scale times their mean. */
  T mean_loss(double total) const {
    return static_cast<T>(total * static_cast<double>(scale) / static_cast<double>(n));
  }
  /** accuracy() from the number of examples classified correctly. */
  T fraction_right(std::int64_t right) const { return static_cast<T>(right) / static_cast<T>(n); }

  static std::vector<double>& loss_tmp(std::int64_t size) {
    thread_local std::vector<double> v;
    if (static_cast<std::int64_t>(v.size()) < size) v.resize(size);
    return v;
  }

  /**
   * add_grad_batch(); if `losses` is not null, also losses[idx[j]] = the loss of example j of the batch, and if
   * `right` is not null, *right += the number of the batch's examples classified correctly (classified()).
   */
  void add_grad_batch_losses(const std::uint32_t* idx, std::int64_t count, std::int64_t base, const T* theta, T* g,
                             T s, double* losses, std::int64_t* right = nullptr) const {
    if (count > 1 && SmallBatch<T>::pays(*this))  // the one-example arithmetic, a block of examples at a time
      return SmallBatch<T>::add_grad_batch(*this, idx, count, base, theta, g, s, losses, right);
    for (std::int64_t j = 0; j < count; ++j) {
      if (losses || right) {
        Scratch& one = scratch();
        const T* out = forward(base + idx[j], theta, one);
        if (losses) losses[idx[j]] = example_loss(base + idx[j], out);
        if (right) *right += classified(base + idx[j], out);
      }
      add_grad(base + idx[j], theta, g, s);
    }
  }

  // --- the engine's interface ------------------------------------------------------------------------------------
  void add_grad(std::int64_t i, const T* theta, T* g, T s) const {
    if (group) return structured_add_grad(i, theta, g, s);
    Scratch& sc = scratch();
    const T* out = forward(i, theta, sc);
    loss_gradient(i, out, sc.delta.data() + sc.offsets[layers]);
    backward(theta, sc, g, s * scale);
  }
  void step(std::int64_t i, T* theta, T eta, T* tmp) const {
    std::fill(tmp, tmp + d, T(0));
    add_grad(i, theta, tmp, T(1));
    axpy(-eta, tmp, theta, d);
  }
  T objective(const T* theta) const {
    if (mlp_gemm::pays(*this)) return mean_loss(mlp_gemm::loss_total(*this, theta));  // wide: matrix products
    if (n > 1 && !group && SmallBatch<T>::pays(*this)) return SmallBatch<T>::objective(*this, theta);
    Scratch& one = scratch();
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += example_loss(i, forward(i, theta, one));
    return mean_loss(total);
  }
  /** Fraction of examples classified correctly (sign for +-1 labels, argmax for classes; squared: argmax vs
   * argmax of the target when d_L > 1, sign agreement when d_L = 1). */
  T accuracy(const T* theta) const {
    if (mlp_gemm::pays(*this)) return fraction_right(mlp_gemm::correct(*this, theta));
    if (n > 1 && !group && SmallBatch<T>::pays(*this)) return fraction_right(SmallBatch<T>::correct(*this, theta));
    Scratch& sc = scratch();
    std::int64_t right = 0;
    for (std::int64_t i = 0; i < n; ++i) right += classified(i, forward(i, theta, sc));
    return fraction_right(right);
  }
  /**
   * *objective = objective(theta) and *accuracy = accuracy(theta) from one forward pass over the data (the same
   * passes as those two, so the same bits): what the engine's records take when both are recorded.
   */
  void objective_and_accuracy(const T* theta, T* objective, T* accuracy) const {
    double total = 0;
    std::int64_t right = 0;
    if (mlp_gemm::pays(*this)) {
      mlp_gemm::loss_and_correct(*this, theta, &total, &right);
      *objective = mean_loss(total);
      *accuracy = fraction_right(right);
      return;
    }
    if (n > 1 && !group && SmallBatch<T>::pays(*this)) {
      *objective = SmallBatch<T>::objective(*this, theta, &right);
      *accuracy = fraction_right(right);
      return;
    }
    Scratch& one = scratch();
    for (std::int64_t i = 0; i < n; ++i) {
      const T* out = forward(i, theta, one);
      total += example_loss(i, out);
      right += classified(i, out);
    }
    *objective = mean_loss(total);
    *accuracy = fraction_right(right);
  }
  /** Whether output `out` classifies example i correctly (see accuracy()). */
  bool classified(std::int64_t i, const T* out) const {
    const std::int64_t k = out_dim();
    if (loss == NetLoss::softmax_ce) return std::max_element(out, out + k) - out == static_cast<std::int64_t>(Y[i]);
    if (loss == NetLoss::squared && k > 1)
      return std::max_element(out, out + k) - out == std::max_element(Y + i * k, Y + i * k + k) - (Y + i * k);
    return (out[0] > T(0)) == (Y[i * y_cols()] > T(0));
  }

  /** Hessian-vector product of f_i: hv += s * H_i v (R-operator: forward R-pass, then backward R-pass). */
  void add_hvp(std::int64_t i, const T* theta, const T* v, T* hv, T s) const {
    Scratch& sc = scratch();
    const T* out = forward(i, theta, sc);
    // forward R-pass: rz_l = V_l a_{l-1} + W_l ra_{l-1} + vb_l, ra_l = h'(z_l) rz_l (ra_0 = 0)
    std::fill_n(sc.ra.data(), widths[0], T(0));
    for (int l = 1; l <= layers; ++l) {
      const std::int64_t rows = widths[l], cols = widths[l - 1], off = w_offset(l - 1);
      const T* in = sc.a.data() + sc.offsets[l - 1];
      const T* rin = sc.ra.data() + sc.offsets[l - 1];
      T* rz = sc.rz.data() + sc.offsets[l];
      T* ra = sc.ra.data() + sc.offsets[l];
      const T* z = sc.z.data() + sc.offsets[l];
      for (std::int64_t r = 0; r < rows; ++r) {
        rz[r] = dot(v + off + r * cols, in, cols) + dot(theta + off + r * cols, rin, cols) +
                (bias ? v[off + rows * cols + r] : T(0));
        ra[r] = l < layers ? act.first(z[r]) * rz[r] : rz[r];
      }
    }
    T* delta_out = sc.delta.data() + sc.offsets[layers];
    loss_gradient(i, out, delta_out);
    loss_hessian_times(i, out, sc.rz.data() + sc.offsets[layers], sc.rdelta.data() + sc.offsets[layers]);
    const T c = s * scale;
    for (int l = layers; l >= 1; --l) {
      const std::int64_t rows = widths[l], cols = widths[l - 1], off = w_offset(l - 1);
      const T* W = theta + off;
      const T* V = v + off;
      const T* delta = sc.delta.data() + sc.offsets[l];
      const T* rdelta = sc.rdelta.data() + sc.offsets[l];
      const T* in = sc.a.data() + sc.offsets[l - 1];
      const T* rin = sc.ra.data() + sc.offsets[l - 1];
      for (std::int64_t r = 0; r < rows; ++r) {  // R{dW_l} = R{delta_l} a' + delta_l R{a}'
        axpy(c * rdelta[r], in, hv + off + r * cols, cols);
        axpy(c * delta[r], rin, hv + off + r * cols, cols);
        if (bias) hv[off + rows * cols + r] += c * rdelta[r];
      }
      if (l > 1) {
        const std::int64_t prev_off = sc.offsets[l - 1];
        T* pd = sc.delta.data() + prev_off;
        T* prd = sc.rdelta.data() + prev_off;
        const T* zp = sc.z.data() + prev_off;
        const T* rzp = sc.rz.data() + prev_off;
        std::vector<T>& back = backprop_tmp(cols);  // W' delta
        std::vector<T>& rback = backprop_tmp2(cols);  // V' delta + W' R{delta}
        std::fill_n(back.data(), cols, T(0));
        std::fill_n(rback.data(), cols, T(0));
        for (std::int64_t r = 0; r < rows; ++r) {
          axpy(delta[r], W + r * cols, back.data(), cols);
          axpy(delta[r], V + r * cols, rback.data(), cols);
          axpy(rdelta[r], W + r * cols, rback.data(), cols);
        }
        for (std::int64_t q = 0; q < cols; ++q) {
          pd[q] = back[q] * act.first(zp[q]);
          prd[q] = rback[q] * act.first(zp[q]) + back[q] * act.second(zp[q]) * rzp[q];
        }
      }
    }
  }

  // --- structured networks: masked (locally connected) and tied (weight-shared) parameters -----------------------
  //
  // A structured network is the function G(phi) = F(T phi) of its free parameters phi, where F is the fully
  // connected network and T copies each free parameter into the entries of its group (masked entries get none, so
  // they are 0). Its iterate is kept in the full layout theta = T phi. Then grad G, lifted back, is P grad F with
  // P = T T': each free entry receives the sum of the raw gradient over its group, masked entries receive 0. An SGD
  // step theta -= eta P grad F is exactly the step phi -= eta grad G, so masked weights stay exactly 0 and tied ones
  // stay equal. The forward pass is the unstructured one: theta already has zeros at the masked entries (the
  // Python layer checks this), so no mask is applied there. The dense layout costs the flops of the fully connected
  // layers; it keeps this path a thin wrapper around the unstructured kernels.

  /** out += c * P raw: the sum of raw over each parameter's group (0 for masked entries). */
  void add_projected(const T* raw, T* out, T c) const {
    std::vector<T>& sums = group_tmp(groups);
    std::fill_n(sums.data(), groups, T(0));
    for (std::int64_t q = 0; q < d; ++q)
      if (group[q] >= 0) sums[group[q]] += raw[q];
    for (std::int64_t q = 0; q < d; ++q)
      if (group[q] >= 0) out[q] += c * sums[group[q]];
  }

  /** This network without its structure: the fully connected kernels on the same layout. */
  MLP<T> unstructured() const {
    MLP<T> plain = *this;
    plain.group = nullptr;
    plain.groups = 0;
    return plain;
  }

  void structured_add_grad(std::int64_t i, const T* theta, T* g, T s) const {
    std::vector<T>& raw = structured_tmp(d);
    std::fill_n(raw.data(), d, T(0));
    unstructured().add_grad(i, theta, raw.data(), s);
    add_projected(raw.data(), g, T(1));
  }

  void structured_add_grad_batch(const std::uint32_t* idx, std::int64_t count, std::int64_t base, const T* theta,
                                 T* g, T s) const {
    std::vector<T>& raw = structured_tmp(d);  // one projection per batch, not per example
    std::fill_n(raw.data(), d, T(0));
    unstructured().add_grad_batch(idx, count, base, theta, raw.data(), s);
    add_projected(raw.data(), g, T(1));
  }

  static std::vector<T>& structured_tmp(std::int64_t size) {
    thread_local std::vector<T> v;
    if (static_cast<std::int64_t>(v.size()) < size) v.resize(size);
    return v;
  }
  static std::vector<T>& group_tmp(std::int64_t size) {
    thread_local std::vector<T> v;
    if (static_cast<std::int64_t>(v.size()) < size) v.resize(size);
    return v;
  }

  static std::vector<T>& backprop_tmp(std::int64_t size) {
    thread_local std::vector<T> v;
    if (static_cast<std::int64_t>(v.size()) < size) v.resize(size);
    return v;
  }
  static std::vector<T>& backprop_tmp2(std::int64_t size) {
    thread_local std::vector<T> v;
    if (static_cast<std::int64_t>(v.size()) < size) v.resize(size);
    return v;
  }
};

OPTCORE_ISA_END
}  // namespace optcore

#include "optcore/mlp_small.hpp"
