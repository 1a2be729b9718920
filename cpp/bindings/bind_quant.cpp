// Quantized networks outside the training loop: Q(params) of R parameter vectors (optcore.quantized), the
// quantizer the engine applies at every step (mlp_quant.hpp), and the passes of networks with per-layer activation
// resolutions (learned alpha, mlp_alpha.hpp).
#include <vector>

#include "interrupt.hpp"
#include "mlp_data.hpp"
#include "optcore/mlp_alpha.hpp"
#include "optcore/mlp_quant.hpp"
#include "optcore/stop.hpp"
#include "optcore/run_problem.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

namespace {

template <class T>
py::array_t<T> quantize_params(const py::dict& data, py::array_t<T> params) {
  OPTCORE_CHECK(params.ndim() == 2 && (params.flags() & py::array::c_style),
                "'params' must be a C-contiguous (R, P) array");
  const std::int64_t R = params.shape(0), P = params.shape(1);
  const std::int64_t n = checked_array<T>(data, "X", {-1, -1}).shape(0);
  ProblemData<T> pd;
  mlp_data_from<T>(data, n, P, pd);
  OPTCORE_CHECK(pd.weight_quant != 0, "the network has no weight quantizer");
  const QuantizedMLP<T> net = make_quantized_mlp(pd);
  py::array_t<T> out({R, P});
  const T* in = params.data();
  T* q = out.mutable_data();
  {
    py::gil_scoped_release release;  // O(R P): no stop checks needed
    for (std::int64_t r = 0; r < R; ++r) net.quantize(in + r * P, q + r * P);
  }
  return out;
}

/**
 * Loss, gradient and accuracy of R networks (R, P + H), each with its own H hidden-layer resolutions after its P
 * parameters, as the training loop of learned resolutions computes them (LearnedAlphaMLP): at Q(w) when `data`
 * has a weight quantizer, else at w. The gradient's last H entries are d F / d alpha_l with the rule `alpha_grad`
 * of `data` (raw: neither scaled by rate_factor nor clipped). With `outputs`, also the outputs (R, n, k).
 */
template <class T>
py::dict alpha_eval(const py::dict& data, py::array_t<T> params, bool with_grad, bool with_outputs) {
  OPTCORE_CHECK(params.ndim() == 2 && (params.flags() & py::array::c_style),
                "'params' must be a C-contiguous (R, P + H) array");
  const std::int64_t R = params.shape(0), D = params.shape(1);
  const std::int64_t n = checked_array<T>(data, "X", {-1, -1}).shape(0);
  ProblemData<T> pd;
  mlp_data_from<T>(data, n, D, pd);
  OPTCORE_CHECK(pd.learn_alpha, "the network has no learned resolutions ('learn_alpha')");
  std::vector<std::uint8_t> none(static_cast<std::size_t>(pd.layers), 0);  // full-precision weights: Q = identity
  if (pd.weight_quant == 0) pd.quant_layers = none.data();
  const LearnedAlphaMLP<T> net{make_quantized_mlp(pd), static_cast<AlphaGrad>(pd.alpha_grad), pd.rate_factor};
  const std::int64_t k = pd.widths[pd.layers];
  py::array_t<T> loss(R), acc(R), grad({R, with_grad ? D : std::int64_t(0)});
  py::array_t<T> outputs({R, with_outputs ? n : std::int64_t(0), k});
  T* o = outputs.mutable_data();
  const T* theta = params.data();
  T* l = loss.mutable_data();
  T* a = acc.mutable_data();
  T* g = grad.mutable_data();
  std::vector<std::uint32_t> all(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) all[i] = static_cast<std::uint32_t>(i);
  run_interruptible([&](StopToken* stop) {
    detail::parallel_chunks(R, 1, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t r = lo; r < hi; ++r) {
        checkpoint(stop);
        l[r] = net.objective(theta + r * D);
        a[r] = net.accuracy(theta + r * D);
        if (with_outputs) {
          const MLP<T>& m = net.net();
          const T* q = net.quant.quantized(theta + r * D);
          typename MLP<T>::Scratch& sc = m.scratch();
          for (std::int64_t i = 0; i < n; ++i)
            std::copy_n(m.forward(i, q, sc, net.alphas(theta + r * D)), k, o + (r * n + i) * k);
        }
        if (!with_grad) continue;
        std::fill_n(g + r * D, D, T(0));
        net.add_grad_batch(all.data(), n, 0, theta + r * D, g + r * D, T(1) / static_cast<T>(n));
      }
    }, stop);
  });
  py::dict out;
  out["loss"] = loss;
  out["accuracy"] = acc;
  if (with_grad) out["grad"] = grad;
  if (with_outputs) out["outputs"] = outputs;
  return out;
}

}  // namespace

void bind_quant(py::module_& m) {
  m.def("alpha_eval", &alpha_eval<float>, py::arg("data"), py::arg("params").noconvert(), py::arg("grad"),
        py::arg("outputs") = false);
  m.def("alpha_eval", &alpha_eval<double>, py::arg("data"), py::arg("params").noconvert(), py::arg("grad"),
        py::arg("outputs") = false,
        "Loss, accuracy, (grad=True) gradient, the learned resolutions' included, and (outputs=True) outputs of R "
        "networks (R, P + H).");
  m.def("quantize_params", &quantize_params<float>, py::arg("data"), py::arg("params").noconvert());
  m.def("quantize_params", &quantize_params<double>, py::arg("data"), py::arg("params").noconvert(),
        "Q(params) of R networks (R, P): the weight quantizer of `data` on its quantized layers.");
}

}  // namespace optcore::bindings
