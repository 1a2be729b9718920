// Deep linear generators with the Bures-Wasserstein loss: loss/gradient at many points and GD of R runs per call
// (optcore.implicit_bias.bures_wasserstein).
#include <string>
#include <vector>

#include "interrupt.hpp"
#include "optcore/bures_wasserstein.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

namespace {

/** The spec of a call from the net and options dicts; `widths` keeps the widths alive. */
GeneratorSpec<double> generator_spec(const py::dict& net, const py::dict& options, std::vector<std::int64_t>& widths) {
  GeneratorSpec<double> s;
  widths = get_scalar<std::vector<std::int64_t>>(net, "widths");
  OPTCORE_CHECK(widths.size() >= 2, "widths must hold d_0 .. d_N (at least 2 values), got " << widths.size());
  s.depth = static_cast<std::int64_t>(widths.size()) - 1;
  s.widths = widths.data();
  for (std::int64_t j = 0; j <= s.depth; ++j)
    OPTCORE_CHECK(widths[j] >= 1, "widths must be >= 1, got widths[" << j << "] = " << widths[j]);
  const std::int64_t dx = s.dx();
  s.root = in_ptr<double>(net, "root", {dx, dx});
  s.target = in_ptr<double>(net, "target", {dx, dx});
  s.trace_target = get_scalar<double>(net, "trace_target");
  s.tau = get_scalar<double>(options, "tau");
  const std::string loss = get_scalar<std::string>(options, "loss");
  OPTCORE_CHECK(loss == "bures_wasserstein" || loss == "square", "unknown loss '" << loss << "'");
  s.loss = loss == "square" ? GeneratorLossKind::square : GeneratorLossKind::bures_wasserstein;
  s.threads = get_scalar<int>(options, "threads");
  return s;
}

py::dict generator_evaluate_py(const py::dict& net, py::array_t<double> theta, const py::dict& options) {
  std::vector<std::int64_t> widths;
  GeneratorSpec<double> s = generator_spec(net, options, widths);
  check_generator_spec(s);
  OPTCORE_CHECK(theta.ndim() == 2 && (theta.flags() & py::array::c_style), "'theta' must be a C-contiguous (R, P) array");
  const std::int64_t R = theta.shape(0), P = s.params();
  OPTCORE_CHECK(theta.shape(1) == P, "'theta' has " << theta.shape(1) << " parameters per point, the network has " << P);
  const bool want_grad = get_scalar<bool>(options, "gradient");
  py::array_t<double> loss(R);
  py::array_t<double> grad(want_grad ? std::vector<py::ssize_t>{R, P} : std::vector<py::ssize_t>{0, P});
  const double* th = theta.data();
  double* lo = loss.mutable_data();
  double* gr = want_grad ? grad.mutable_data() : nullptr;
  run_interruptible([&](StopToken* stop) {
    s.stop = stop;
    generator_evaluate(s, R, th, lo, gr);
  });
  py::dict out;
  out["loss"] = loss;
  out["grad"] = want_grad ? py::object(grad) : py::object(py::none());
  return out;
}

py::dict generator_gd_py(const py::dict& net, py::array_t<double> theta, const py::dict& options) {
  OPTCORE_CHECK(theta.ndim() == 2 && (theta.flags() & py::array::c_style) && theta.writeable(),
                "'theta' must be a writeable C-contiguous (runs, params) array");
  std::vector<std::int64_t> widths;
  GeneratorSpec<double> s = generator_spec(net, options, widths);
  s.steps = get_scalar<std::int64_t>(options, "steps");
  py::array rec = checked_array<std::int64_t>(options, "record_at", {-1});
  s.record_at = static_cast<const std::int64_t*>(rec.data());
  s.records = rec.shape(0);
  check_generator_spec(s);
  const std::int64_t R = theta.shape(0), P = s.params(), K = s.records;
  OPTCORE_CHECK(theta.shape(1) == P, "'theta' has " << theta.shape(1) << " parameters per run, the network has " << P);
  GeneratorRuns<double> runs;
  runs.runs = R;
  runs.theta = theta.mutable_data();
  runs.step = in_ptr<double>(options, "step_size", {R});
  py::array_t<double> loss({R, K}), grad_norm({R, K}), drift({R, K}), e2e({R, K, s.dx(), s.dz()});
  py::array_t<std::int64_t> diverged(R);
  runs.loss = loss.mutable_data();
  runs.grad_norm = grad_norm.mutable_data();
  runs.drift = drift.mutable_data();
  runs.end_to_end = e2e.mutable_data();
  runs.diverged = diverged.mutable_data();
  // safe without the GIL: the loop touches only the raw buffers taken above, which the dicts and arrays keep alive
  run_interruptible([&](StopToken* stop) {
    s.stop = stop;
    generator_gd(s, runs);
  });
  py::dict out;
  out["loss"] = loss;
  out["grad_norm"] = grad_norm;
  out["drift"] = drift;
  out["end_to_end"] = e2e;
  out["diverged"] = diverged;
  return out;
}

}  // namespace

void bind_bures_wasserstein(py::module_& m) {
  m.def("generator_evaluate", &generator_evaluate_py, py::arg("net"), py::arg("theta").noconvert(),
        py::arg("options"),
        "generator_evaluate(net, theta, options) -> dict(loss, grad): loss (and per-layer gradient) of a deep linear "
        "generator at every row of theta (float64).");
  m.def("generator_gd", &generator_gd_py, py::arg("net"), py::arg("theta").noconvert(), py::arg("options"),
        "generator_gd(net, theta, options) -> dict(loss, grad_norm, drift, end_to_end, diverged): full-batch GD of a "
        "deep linear generator for every row of theta (updated in place to the final parameters; float64).");
}

}  // namespace optcore::bindings
