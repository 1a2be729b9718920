// Networks outside the training loop: losses, gradients, per-example gradients, Hessian-vector products and dense
// Hessians of R networks in one call (optcore.nn).
#include <string>

#include "interrupt.hpp"
#include "mlp_data.hpp"
#include "optcore/mlp_eval.hpp"
#include "pybind11.hpp"
#include "sgd_dispatch.hpp"

namespace optcore::bindings {

namespace {

MlpEvalKind eval_kind(const std::string& what) {
  if (what == "forward") return MlpEvalKind::forward;
  if (what == "loss") return MlpEvalKind::loss;
  if (what == "grad") return MlpEvalKind::grad;
  if (what == "accuracy") return MlpEvalKind::accuracy;
  if (what == "per_example") return MlpEvalKind::per_example;
  if (what == "hvp") return MlpEvalKind::hvp;
  if (what == "hessian") return MlpEvalKind::hessian;
  OPTCORE_CHECK(false, "unknown evaluation '" << what << "'");
  return MlpEvalKind::loss;
}

template <class T>
py::dict mlp_eval_py(const py::dict& data, py::array_t<T> params, const std::string& what, const py::object& v_obj,
                     int threads, const std::string& isa_requested) {
  OPTCORE_CHECK(params.ndim() == 2 && (params.flags() & py::array::c_style), "'params' must be a C-contiguous (R, P) array");
  const MlpEvalKind kind = eval_kind(what);
  const std::string isa = resolve_isa(isa_requested);
  const std::int64_t R = params.shape(0), P = params.shape(1);
  const std::int64_t n = checked_array<T>(data, "X", {-1, -1}).shape(0);
  ProblemData<T> pd;
  mlp_data_from<T>(data, n, P, pd);
  const std::int64_t k = pd.widths[pd.layers];
  MlpEvalArgs<T> args;
  args.theta = params.data();
  args.runs = R;
  args.threads = threads;
  py::array_t<T> v_arr;
  if (kind == MlpEvalKind::hvp) {
    v_arr = v_obj.cast<py::array_t<T>>();
    OPTCORE_CHECK(v_arr.ndim() == 2 && v_arr.shape(0) == R && v_arr.shape(1) == P && (v_arr.flags() & py::array::c_style),
                  "'v' must be a C-contiguous (R, P) array");
    args.v = v_arr.data();
  }
  py::dict out;
  py::array_t<T> result, acc, grad;
  switch (kind) {
    case MlpEvalKind::forward:
      result = py::array_t<T>({R, n, k});
      break;
    case MlpEvalKind::loss:
    case MlpEvalKind::grad:
    case MlpEvalKind::accuracy:
      result = py::array_t<T>(R);
      acc = py::array_t<T>(R);
      grad = py::array_t<T>({R, kind == MlpEvalKind::grad ? P : std::int64_t(0)});
      args.accuracy = acc.mutable_data();
      args.grad = grad.mutable_data();
      break;
    case MlpEvalKind::per_example:
      result = py::array_t<T>({R, n, P});
      break;
    case MlpEvalKind::hvp:
      result = py::array_t<T>({R, P});
      break;
    case MlpEvalKind::hessian:
      result = py::array_t<T>({R, P, P});
      break;
  }
  args.out = result.mutable_data();
  run_interruptible([&](StopToken* stop) {  // plain arrays only from here on
    args.stop = stop;
#define OPTCORE_EVAL_ON_COPY(name, cpu_check) \
  if (isa == #name) {                         \
    mlp_eval_##name(pd, kind, args);          \
    return;                                   \
  }
    OPTCORE_ISA_COPIES(OPTCORE_EVAL_ON_COPY)
#undef OPTCORE_EVAL_ON_COPY
    mlp_eval<T>(pd, kind, args);  // the portable copy
  });
  switch (kind) {
    case MlpEvalKind::forward:
      out["outputs"] = result;
      break;
    case MlpEvalKind::loss:
    case MlpEvalKind::grad:
    case MlpEvalKind::accuracy:
      out["loss"] = result;
      out["accuracy"] = acc;
      if (kind == MlpEvalKind::grad) out["grad"] = grad;
      break;
    case MlpEvalKind::per_example:
      out["grads"] = result;
      break;
    case MlpEvalKind::hvp:
      out["hvp"] = result;
      break;
    case MlpEvalKind::hessian:
      out["hessian"] = result;
      break;
  }
  return out;
}

}  // namespace

void bind_nn(py::module_& m) {
  m.def("mlp_eval", &mlp_eval_py<float>, py::arg("data"), py::arg("params").noconvert(), py::arg("what"),
        py::arg("v") = py::none(), py::arg("threads") = 1, py::arg("isa") = "auto");
  m.def("mlp_eval", &mlp_eval_py<double>, py::arg("data"), py::arg("params").noconvert(), py::arg("what"),
        py::arg("v") = py::none(), py::arg("threads") = 1, py::arg("isa") = "auto",
        "Evaluate R networks: what in {forward, loss, grad, accuracy, per_example, hvp, hessian}, on the "
        "instruction-set copy `isa` (auto, or one of isa_info()['usable']).");
}

}  // namespace optcore::bindings
