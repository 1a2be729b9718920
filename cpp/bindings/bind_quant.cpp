// Quantized networks outside the training loop: Q(params) of R parameter vectors (optcore.quantized), the
// quantizer the engine applies at every step (mlp_quant.hpp).
#include "mlp_data.hpp"
#include "optcore/mlp_quant.hpp"
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
  const QuantizedMLP<T> net{make_mlp(pd), static_cast<WeightQuant>(pd.weight_quant), pd.weight_bits, pd.rho,
                            pd.quant_layers};
  py::array_t<T> out({R, P});
  const T* in = params.data();
  T* q = out.mutable_data();
  {
    py::gil_scoped_release release;  // O(R P): no stop checks needed
    for (std::int64_t r = 0; r < R; ++r) net.quantize(in + r * P, q + r * P);
  }
  return out;
}

}  // namespace

void bind_quant(py::module_& m) {
  m.def("quantize_params", &quantize_params<float>, py::arg("data"), py::arg("params").noconvert());
  m.def("quantize_params", &quantize_params<double>, py::arg("data"), py::arg("params").noconvert(),
        "Q(params) of R networks (R, P): the weight quantizer of `data` on its quantized layers.");
}

}  // namespace optcore::bindings
