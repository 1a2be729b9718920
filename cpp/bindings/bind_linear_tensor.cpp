// Linear tensor networks: full-batch GD of R runs in one call (optcore.implicit_bias).
#include <string>

#include "interrupt.hpp"
#include "optcore/linear_tensor.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

namespace {

template <class T>
py::dict linear_tensor_gd_py(const py::dict& net, const py::dict& data, py::array_t<T> theta, const py::dict& options) {
  OPTCORE_CHECK(theta.ndim() == 2 && (theta.flags() & py::array::c_style) && theta.writeable(),
                "'theta' must be a writeable C-contiguous (runs, params) array");
  TensorNetSpec<T> s;
  const std::string kind = get_scalar<std::string>(net, "kind");
  OPTCORE_CHECK(kind == "fully_connected" || kind == "diagonal" || kind == "convolutional" || kind == "odeco" ||
                    kind == "hadamard",
                "unknown network kind '" << kind << "'");
  s.kind = kind == "fully_connected" ? TensorNetKind::fully_connected
           : kind == "diagonal"      ? TensorNetKind::diagonal
           : kind == "convolutional" ? TensorNetKind::convolutional
           : kind == "odeco"         ? TensorNetKind::odeco
                                     : TensorNetKind::hadamard;
  const std::string loss = get_scalar<std::string>(options, "loss");
  OPTCORE_CHECK(loss == "exponential" || loss == "logistic" || loss == "squared", "unknown loss '" << loss << "'");
  s.loss = loss == "exponential" ? TensorLossKind::exponential
           : loss == "logistic"  ? TensorLossKind::logistic
                                 : TensorLossKind::squared;
  s.depth = get_scalar<std::int64_t>(net, "depth");
  s.dim = get_scalar<std::int64_t>(net, "dim");
  s.width = get_scalar<std::int64_t>(net, "width");
  s.rank = get_scalar<std::int64_t>(net, "rank");
  s.factor = get_scalar<std::int64_t>(net, "factor");
  s.n = checked_array<T>(data, "X", {-1, s.dim}).shape(0);
  s.X = in_ptr<T>(data, "X", {s.n, s.dim});
  s.y = in_ptr<T>(data, "y", {s.n});
  if (s.kind == TensorNetKind::odeco) {
    s.S = in_ptr<T>(net, "S", {s.rank, s.dim});
    s.U = in_ptr<T>(net, "U", {s.depth, s.factor, s.rank});
  }
  if (s.kind == TensorNetKind::hadamard) {
    s.terms = get_scalar<std::int64_t>(net, "terms");
    s.factor_term = in_ptr<std::int64_t>(net, "factor_term", {s.depth});
    s.factor_power = in_ptr<std::int64_t>(net, "factor_power", {s.depth});
    s.term_coef = in_ptr<T>(net, "term_coef", {s.terms});
  }
  s.steps = get_scalar<std::int64_t>(options, "steps");
  s.threads = get_scalar<int>(options, "threads");
  py::array rec = checked_array<std::int64_t>(options, "record_at", {-1});
  s.record_at = static_cast<const std::int64_t*>(rec.data());
  s.records = rec.shape(0);
  check_tensor_net_spec(s);
  const std::int64_t R = theta.shape(0), P = s.params(), K = s.records;
  OPTCORE_CHECK(theta.shape(1) == P, "'theta' has " << theta.shape(1) << " parameters per run, the network has " << P);
  TensorNetRuns<T> runs;
  runs.runs = R;
  runs.theta = theta.mutable_data();
  runs.step = in_ptr<T>(options, "step_size", {R});
  runs.step_params = optional_in<T>(options, "step_params", {R, P});
  py::array_t<T> beta({R, K, s.dim}), lossv({R, K});
  py::array_t<std::int64_t> diverged(R);
  runs.beta = beta.mutable_data();
  runs.loss = lossv.mutable_data();
  runs.diverged = diverged.mutable_data();
  // safe without the GIL: the loop touches only the raw buffers taken above, which the dicts and arrays keep alive
  run_interruptible([&](StopToken* stop) {
    s.stop = stop;
    linear_tensor_gd(s, runs);
  });
  py::dict out;
  out["beta"] = beta;
  out["loss"] = lossv;
  out["diverged"] = diverged;
  return out;
}

}  // namespace

void bind_linear_tensor(py::module_& m) {
  const char* doc =
      "linear_tensor_gd(net, data, theta, options) -> dict(beta, loss, diverged): full-batch GD on a linear tensor "
      "network for every row of theta (updated in place to the final parameters).";
  m.def("linear_tensor_gd", &linear_tensor_gd_py<float>, py::arg("net"), py::arg("data"), py::arg("theta").noconvert(),
        py::arg("options"), doc);
  m.def("linear_tensor_gd", &linear_tensor_gd_py<double>, py::arg("net"), py::arg("data"), py::arg("theta").noconvert(),
        py::arg("options"), doc);
}

}  // namespace optcore::bindings
