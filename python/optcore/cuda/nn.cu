// Fully connected networks on the GPU, batched over R networks: forward pass, loss and accuracy, gradient
// (backpropagation), per-example gradients and exact Hessian-vector products (Pearlmutter's R-operator).
//
// One thread per network (per (network, example) for per-example gradients), each running the one-example passes
// of the CPU core (mlp.hpp: MLP::forward, backward, add_hvp) over the examples in order. The activations and their
// derivatives come from the shared header activations.hpp and the dot products and updates from kernels.hpp; the
// losses below mirror MLP::example_loss, loss_gradient and loss_hessian_times line by line (mlp.hpp keeps them as
// members of a host-only class). Parameter layout: per layer W (d_out x d_in, row-major), then b if bias.
#include "optcore/activations.hpp"
#include "optcore/kernels.hpp"

namespace optcore_cuda {

using optcore::Activation;
using optcore::ActivationFn;

enum Loss : int { squared = 0, logistic = 1, exponential = 2, softmax_ce = 3 };
enum What : int { forward_pass = 0, loss_only = 1, gradient = 2, per_example = 3, hvp = 4 };

template <class T>
struct Net {
  const std::int64_t* widths;  // (L + 1,)
  int layers;
  bool bias;
  ActivationFn<T> act;
  int loss;
  const T* X;  // (n, d_0)
  const T* Y;  // (n, d_L) for squared loss, (n, 1) otherwise
  std::int64_t n;
  T scale;

  __device__ std::int64_t out_dim() const { return widths[layers]; }
  __device__ std::int64_t y_cols() const { return loss == squared ? out_dim() : 1; }
  __device__ std::int64_t w_offset(int l) const {
    std::int64_t off = 0;
    for (int k = 0; k < l; ++k) off += widths[k + 1] * widths[k] + (bias ? widths[k + 1] : 0);
    return off;
  }
  __device__ std::int64_t unit_offset(int l) const {
    std::int64_t off = 0;
    for (int k = 0; k < l; ++k) off += widths[k];
    return off;
  }
};

/** One thread's buffers: z, a, delta, rz, ra, rdelta of all units, and two rows of the widest layer. */
template <class T>
struct Scratch {
  T *z, *a, *delta, *rz, *ra, *rdelta, *back, *rback;
  __device__ Scratch(T* base, std::int64_t units, std::int64_t widest)
      : z(base), a(base + units), delta(base + 2 * units), rz(base + 3 * units), ra(base + 4 * units),
        rdelta(base + 5 * units), back(base + 6 * units), rback(base + 6 * units + widest) {}
};

template <class T>
__device__ T max_entry(const T* out, std::int64_t k) {  // the value *std::max_element(out, out + k) returns
  T mx = out[0];
  for (std::int64_t j = 1; j < k; ++j)
    if (mx < out[j]) mx = out[j];
  return mx;
}
template <class T>
__device__ std::int64_t argmax(const T* out, std::int64_t k) {  // std::max_element: the first maximum
  std::int64_t best = 0;
  for (std::int64_t j = 1; j < k; ++j)
    if (out[best] < out[j]) best = j;
  return best;
}

/** MLP::forward: fills z and a of every layer; returns the output z_L. */
template <class T>
__device__ const T* forward(const Net<T>& net, std::int64_t i, const T* theta, Scratch<T>& s) {
  const std::int64_t d0 = net.widths[0];
  for (std::int64_t j = 0; j < d0; ++j) s.a[j] = s.z[j] = net.X[i * d0 + j];
  std::int64_t off = 0, in_off = 0;
  for (int l = 1; l <= net.layers; ++l) {
    const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], out_off = in_off + cols;
    const T* W = theta + off;
    const T* b = theta + off + rows * cols;
    const T* in = s.a + in_off;
    T* z = s.z + out_off;
    T* a = s.a + out_off;
    for (std::int64_t r = 0; r < rows; ++r) {
      z[r] = optcore::dot(W + r * cols, in, cols) + (net.bias ? b[r] : T(0));
      a[r] = l < net.layers ? net.act.value(z[r]) : z[r];
    }
    off += rows * cols + (net.bias ? rows : 0);
    in_off = out_off;
  }
  return s.z + in_off;
}

/** MLP::example_loss. */
template <class T>
__device__ T example_loss(const Net<T>& net, std::int64_t i, const T* out) {
  const std::int64_t k = net.out_dim();
  const T* Y = net.Y;
  switch (net.loss) {
    case squared: {
      T total = T(0);
      for (std::int64_t j = 0; j < k; ++j) {
        const T r = out[j] - Y[i * k + j];
        total += r * r;
      }
      return T(0.5) * total;
    }
    case logistic: {
      const T m = Y[i] * out[0];
      return m > T(0) ? log1p(exp(-m)) : -m + log1p(exp(m));
    }
    case exponential: return exp(-Y[i] * out[0]);
    default: {  // softmax_ce
      const T mx = max_entry(out, k);
      T sum = T(0);
      for (std::int64_t j = 0; j < k; ++j) sum += exp(out[j] - mx);
      return mx + log(sum) - out[static_cast<std::int64_t>(Y[i])];
    }
  }
}

/** MLP::loss_gradient: delta = d loss / d out. */
template <class T>
__device__ void loss_gradient(const Net<T>& net, std::int64_t i, const T* out, T* delta) {
  const std::int64_t k = net.out_dim();
  const T* Y = net.Y;
  switch (net.loss) {
    case squared:
      for (std::int64_t j = 0; j < k; ++j) delta[j] = out[j] - Y[i * k + j];
      return;
    case logistic: {
      const T m = Y[i] * out[0];
      const T sig = m >= T(0) ? exp(-m) / (T(1) + exp(-m)) : T(1) / (T(1) + exp(m));
      delta[0] = -Y[i] * sig;
      return;
    }
    case exponential: delta[0] = -Y[i] * exp(-Y[i] * out[0]); return;
    default: {
      const T mx = max_entry(out, k);
      T sum = T(0);
      for (std::int64_t j = 0; j < k; ++j) sum += exp(out[j] - mx);
      for (std::int64_t j = 0; j < k; ++j) delta[j] = exp(out[j] - mx) / sum;
      delta[static_cast<std::int64_t>(Y[i])] -= T(1);
      return;
    }
  }
}

/** MLP::loss_hessian_times: rdelta = (Hessian of the loss in the output) rout. */
template <class T>
__device__ void loss_hessian_times(const Net<T>& net, std::int64_t i, const T* out, const T* rout, T* rdelta) {
  const std::int64_t k = net.out_dim();
  const T* Y = net.Y;
  switch (net.loss) {
    case squared:
      for (std::int64_t j = 0; j < k; ++j) rdelta[j] = rout[j];
      return;
    case logistic: {
      const T m = Y[i] * out[0];
      const T p = T(1) / (T(1) + exp(-m));
      rdelta[0] = p * (T(1) - p) * rout[0];
      return;
    }
    case exponential: rdelta[0] = exp(-Y[i] * out[0]) * rout[0]; return;
    default: {
      const T mx = max_entry(out, k);
      T sum = T(0), pr = T(0);
      for (std::int64_t j = 0; j < k; ++j) sum += exp(out[j] - mx);
      for (std::int64_t j = 0; j < k; ++j) pr += exp(out[j] - mx) / sum * rout[j];
      for (std::int64_t j = 0; j < k; ++j) {
        const T p = exp(out[j] - mx) / sum;
        rdelta[j] = p * (rout[j] - pr);
      }
      return;
    }
  }
}

/** MLP::backward: g += s * gradient, from the output delta already in s.delta. */
template <class T>
__device__ void backward(const Net<T>& net, const T* theta, Scratch<T>& sc, T* g, T s) {
  for (int l = net.layers; l >= 1; --l) {
    const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], off = net.w_offset(l - 1);
    const std::int64_t in_off = net.unit_offset(l - 1), out_off = in_off + cols;
    const T* W = theta + off;
    const T* delta = sc.delta + out_off;
    const T* in = sc.a + in_off;
    for (std::int64_t r = 0; r < rows; ++r) {
      optcore::axpy(s * delta[r], in, g + off + r * cols, cols);
      if (net.bias) g[off + rows * cols + r] += s * delta[r];
    }
    if (l > 1) {
      T* prev = sc.delta + in_off;
      const T* zprev = sc.z + in_off;
      for (std::int64_t c = 0; c < cols; ++c) prev[c] = T(0);
      for (std::int64_t r = 0; r < rows; ++r) optcore::axpy(delta[r], W + r * cols, prev, cols);
      for (std::int64_t c = 0; c < cols; ++c) prev[c] *= net.act.first(zprev[c]);
    }
  }
}

/** MLP::add_grad: g += s * scale * grad loss_i. */
template <class T>
__device__ void add_grad(const Net<T>& net, std::int64_t i, const T* theta, Scratch<T>& sc, T* g, T s) {
  const T* out = forward(net, i, theta, sc);
  loss_gradient(net, i, out, sc.delta + net.unit_offset(net.layers));
  backward(net, theta, sc, g, s * net.scale);
}

/** MLP::add_hvp: hv += s * H_i v, forward R-pass then backward R-pass. */
template <class T>
__device__ void add_hvp(const Net<T>& net, std::int64_t i, const T* theta, const T* v, Scratch<T>& sc, T* hv, T s) {
  const T* out = forward(net, i, theta, sc);
  for (std::int64_t j = 0; j < net.widths[0]; ++j) sc.ra[j] = T(0);
  for (int l = 1; l <= net.layers; ++l) {
    const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], off = net.w_offset(l - 1);
    const std::int64_t in_off = net.unit_offset(l - 1), out_off = in_off + cols;
    const T* in = sc.a + in_off;
    const T* rin = sc.ra + in_off;
    T* rz = sc.rz + out_off;
    T* ra = sc.ra + out_off;
    const T* z = sc.z + out_off;
    for (std::int64_t r = 0; r < rows; ++r) {
      rz[r] = optcore::dot(v + off + r * cols, in, cols) + optcore::dot(theta + off + r * cols, rin, cols) +
              (net.bias ? v[off + rows * cols + r] : T(0));
      ra[r] = l < net.layers ? net.act.first(z[r]) * rz[r] : rz[r];
    }
  }
  const std::int64_t last = net.unit_offset(net.layers);
  loss_gradient(net, i, out, sc.delta + last);
  loss_hessian_times(net, i, out, sc.rz + last, sc.rdelta + last);
  const T c = s * net.scale;
  for (int l = net.layers; l >= 1; --l) {
    const std::int64_t rows = net.widths[l], cols = net.widths[l - 1], off = net.w_offset(l - 1);
    const std::int64_t in_off = net.unit_offset(l - 1), out_off = in_off + cols;
    const T* W = theta + off;
    const T* V = v + off;
    const T* delta = sc.delta + out_off;
    const T* rdelta = sc.rdelta + out_off;
    const T* in = sc.a + in_off;
    const T* rin = sc.ra + in_off;
    for (std::int64_t r = 0; r < rows; ++r) {
      optcore::axpy(c * rdelta[r], in, hv + off + r * cols, cols);
      optcore::axpy(c * delta[r], rin, hv + off + r * cols, cols);
      if (net.bias) hv[off + rows * cols + r] += c * rdelta[r];
    }
    if (l > 1) {
      T* pd = sc.delta + in_off;
      T* prd = sc.rdelta + in_off;
      const T* zp = sc.z + in_off;
      const T* rzp = sc.rz + in_off;
      for (std::int64_t q = 0; q < cols; ++q) sc.back[q] = sc.rback[q] = T(0);
      for (std::int64_t r = 0; r < rows; ++r) {
        optcore::axpy(delta[r], W + r * cols, sc.back, cols);
        optcore::axpy(delta[r], V + r * cols, sc.rback, cols);
        optcore::axpy(rdelta[r], W + r * cols, sc.rback, cols);
      }
      for (std::int64_t q = 0; q < cols; ++q) {
        pd[q] = sc.back[q] * net.act.first(zp[q]);
        prd[q] = sc.rback[q] * net.act.first(zp[q]) + sc.back[q] * net.act.second(zp[q]) * rzp[q];
      }
    }
  }
}

/** MLP::objective (one-example pass, sums in double) and MLP::accuracy. */
template <class T>
__device__ void loss_and_accuracy(const Net<T>& net, const T* theta, Scratch<T>& sc, T* loss, T* accuracy) {
  const std::int64_t k = net.out_dim();
  double total = 0;
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < net.n; ++i) {
    const T* out = forward(net, i, theta, sc);
    total += example_loss(net, i, out);
    bool ok;
    if (net.loss == softmax_ce) {
      ok = argmax(out, k) == static_cast<std::int64_t>(net.Y[i]);
    } else if (net.loss == squared && k > 1) {
      ok = argmax(out, k) == argmax(net.Y + i * k, k);
    } else {
      ok = (out[0] > T(0)) == (net.Y[i * net.y_cols()] > T(0));
    }
    right += ok;
  }
  *loss = static_cast<T>(total * static_cast<double>(net.scale) / static_cast<double>(net.n));
  *accuracy = static_cast<T>(right) / static_cast<T>(net.n);
}

template <class T>
__device__ void mlp_eval(int what, const std::int64_t* widths, int layers, int bias, int activation, int loss,
                         T s_pos, T s_neg, T scale, const T* X, const T* Y, std::int64_t n, std::int64_t P,
                         std::int64_t R, std::int64_t units, std::int64_t widest, const T* theta, const T* v, T* out_a,
                         T* out_b, T* out_c, T* work) {
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t threads = what == per_example ? R * n : R;
  if (t >= threads) return;
  Net<T> net{widths, layers, bias != 0, ActivationFn<T>{static_cast<Activation>(activation), s_pos, s_neg},
             loss, X, Y, n, scale};
  Scratch<T> sc(work + t * (6 * units + 2 * widest), units, widest);
  const std::int64_t k = net.out_dim();
  if (what == per_example) {  // thread (r, i): the gradient of f_i = scale * loss_i
    const std::int64_t r = t / n, i = t % n;
    T* gi = out_a + t * P;
    for (std::int64_t j = 0; j < P; ++j) gi[j] = T(0);
    add_grad(net, i, theta + r * P, sc, gi, T(1));
    return;
  }
  const std::int64_t r = t;
  const T* th = theta + r * P;
  switch (what) {
    case forward_pass:
      for (std::int64_t i = 0; i < n; ++i) {
        const T* out = forward(net, i, th, sc);
        for (std::int64_t j = 0; j < k; ++j) out_a[(r * n + i) * k + j] = out[j];
      }
      return;
    case loss_only:
      loss_and_accuracy(net, th, sc, out_a + r, out_b + r);
      return;
    case gradient: {
      loss_and_accuracy(net, th, sc, out_a + r, out_b + r);
      T* g = out_c + r * P;
      for (std::int64_t j = 0; j < P; ++j) g[j] = T(0);
      const T s = T(1) / static_cast<T>(n);
      for (std::int64_t i = 0; i < n; ++i) add_grad(net, i, th, sc, g, s);
      return;
    }
    case hvp: {
      T* hv = out_a + r * P;
      for (std::int64_t j = 0; j < P; ++j) hv[j] = T(0);
      const T s = T(1) / static_cast<T>(n);
      for (std::int64_t i = 0; i < n; ++i) add_hvp(net, i, th, v + r * P, sc, hv, s);
      return;
    }
    default: return;
  }
}

}  // namespace optcore_cuda

#define OPTCORE_MLP_KERNEL(NAME, T)                                                                                 \
  extern "C" __global__ void NAME(int what, const std::int64_t* widths, int layers, int bias, int activation,       \
                                  int loss, T s_pos, T s_neg, T scale, const T* X, const T* Y, std::int64_t n,       \
                                  std::int64_t P, std::int64_t R, std::int64_t units, std::int64_t widest,          \
                                  const T* theta, const T* v, T* out_a, T* out_b, T* out_c, T* work) {              \
    optcore_cuda::mlp_eval<T>(what, widths, layers, bias, activation, loss, s_pos, s_neg, scale, X, Y, n, P, R,     \
                              units, widest, theta, v, out_a, out_b, out_c, work);                                  \
  }

OPTCORE_MLP_KERNEL(optcore_mlp_f64, double)
OPTCORE_MLP_KERNEL(optcore_mlp_f32, float)
