// Networks outside the training loop: losses, gradients, per-example gradients, Hessian-vector products and dense
// Hessians of R networks in one call (optcore.nn).
#include <algorithm>
#include <cmath>
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

/** One evaluation's arguments, read out of the dict the Python layer builds (optcore.nn.MLP._data). */
template <class T>
struct EvalCall {
  MlpEvalKind kind = MlpEvalKind::loss;
  std::string isa;
  std::int64_t R = 0, P = 0, n = 0, k = 0;
  ProblemData<T> pd;
};

template <class T>
EvalCall<T> read_eval(const py::dict& data, const py::array_t<T>& params, const std::string& what,
                      const std::string& isa_requested) {
  OPTCORE_CHECK(params.ndim() == 2 && (params.flags() & py::array::c_style), "'params' must be a C-contiguous (R, P) array");
  EvalCall<T> c;
  c.kind = eval_kind(what);
  c.isa = resolve_isa(isa_requested);
  c.R = params.shape(0);
  c.P = params.shape(1);
  c.n = checked_array<T>(data, "X", {-1, -1}).shape(0);
  mlp_data_from<T>(data, c.n, c.P, c.pd);
  c.k = c.pd.widths[c.pd.layers];
  return c;
}

template <class T>
py::dict evaluate(const EvalCall<T>& c, const py::array_t<T>& params, const py::object& v_obj, int threads) {
  const std::int64_t R = c.R, P = c.P, n = c.n, k = c.k;
  const MlpEvalKind kind = c.kind;
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
  const ProblemData<T>& pd = c.pd;
  const std::string& isa = c.isa;
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
  const auto set = [&out](const char* name, const py::handle value) {
    if (PyDict_SetItem(out.ptr(), interned_key(name), value.ptr()) != 0) throw py::error_already_set();
  };
  switch (kind) {
    case MlpEvalKind::forward:
      set("outputs", result);
      break;
    case MlpEvalKind::loss:
    case MlpEvalKind::grad:
    case MlpEvalKind::accuracy:
      set("loss", result);
      set("accuracy", acc);
      if (kind == MlpEvalKind::grad) set("grad", grad);
      break;
    case MlpEvalKind::per_example:
      set("grads", result);
      break;
    case MlpEvalKind::hvp:
      set("hvp", result);
      break;
    case MlpEvalKind::hessian:
      set("hessian", result);
      break;
  }
  return out;
}

template <class T>
py::dict mlp_eval_py(const py::dict& data, py::array_t<T> params, const std::string& what, const py::object& v_obj,
                     int threads, const std::string& isa_requested) {
  return evaluate<T>(read_eval<T>(data, params, what, isa_requested), params, v_obj, threads);
}

template <class T>
bool all_finite(const T* v, std::int64_t count) {
  bool finite = true;
  for (std::int64_t i = 0; i < count; ++i) finite &= std::isfinite(v[i]);
  return finite;
}

/** Whether the targets are what the loss takes: labels +-1 (logistic, exponential), class indices (softmax). */
template <class T>
bool valid_targets(const ProblemData<T>& pd, std::int64_t n, std::int64_t k) {
  if (pd.net_loss == 1 || pd.net_loss == 2) {
    for (std::int64_t i = 0; i < n; ++i)
      if (std::abs(pd.b[i]) != T(1)) return false;
  } else if (pd.net_loss == 3) {
    for (std::int64_t i = 0; i < n; ++i)
      if (!(pd.b[i] >= T(0) && pd.b[i] < static_cast<T>(k) && std::floor(pd.b[i]) == pd.b[i])) return false;
  }
  return true;
}

/**
 * mlp_eval with the checks of the Python layer's usual call done here, in one pass each: returns (0, outputs);
 * (1, None), evaluating nothing, when params, X, Y or the direction v (hvp) hold a non-finite value or Y a target
 * the loss does not take (the Python layer then raises its error); (2, outputs) when an output other than the
 * accuracy is not finite (it then warns).
 */
template <class T>
py::tuple mlp_eval_checked_py(const py::dict& data, py::array_t<T> params, const std::string& what,
                              const py::object& v_obj, int threads, const std::string& isa_requested) {
  const EvalCall<T> c = read_eval<T>(data, params, what, isa_requested);
  OPTCORE_CHECK((c.kind == MlpEvalKind::hvp) != v_obj.is_none(), "a direction v is given for 'hvp' and only then");
  const std::int64_t y_cols = c.pd.net_loss == 0 ? c.k : 1;
  bool valid = all_finite(params.data(), c.R * c.P) && all_finite(c.pd.A, c.n * c.pd.widths[0]) &&
               all_finite(c.pd.b, c.n * y_cols) && valid_targets(c.pd, c.n, c.k);
  if (valid && c.kind == MlpEvalKind::hvp) {
    const py::array v = checked_array_object<T>(v_obj, "v", {c.R, c.P});
    valid = all_finite(static_cast<const T*>(v.data()), c.R * c.P);
  }
  if (!valid) return py::make_tuple(1, py::none());
  py::dict out = evaluate<T>(c, params, v_obj, threads);
  int status = 0;
  for (const char* name : {"outputs", "loss", "grad", "grads", "hvp", "hessian"}) {  // all but the accuracy
    if (PyObject* a = dict_item(out, name)) {
      const auto array = py::reinterpret_borrow<py::array_t<T>>(a);
      if (!all_finite(array.data(), array.size())) status = 2;
    }
  }
  return py::make_tuple(status, std::move(out));
}

}  // namespace

void bind_nn(py::module_& m) {
  m.def("mlp_eval", &mlp_eval_py<float>, py::arg("data"), py::arg("params").noconvert(), py::arg("what"),
        py::arg("v") = py::none(), py::arg("threads") = 1, py::arg("isa") = "auto");
  m.def("mlp_eval", &mlp_eval_py<double>, py::arg("data"), py::arg("params").noconvert(), py::arg("what"),
        py::arg("v") = py::none(), py::arg("threads") = 1, py::arg("isa") = "auto",
        "Evaluate R networks: what in {forward, loss, grad, accuracy, per_example, hvp, hessian}, on the "
        "instruction-set copy `isa` (auto, or one of isa_info()['usable']).");
  m.def("mlp_eval_checked", &mlp_eval_checked_py<float>, py::arg("data"), py::arg("params").noconvert(),
        py::arg("what"), py::arg("v") = py::none(), py::arg("threads") = 1, py::arg("isa") = "auto");
  m.def("mlp_eval_checked", &mlp_eval_checked_py<double>, py::arg("data"), py::arg("params").noconvert(),
        py::arg("what"), py::arg("v") = py::none(), py::arg("threads") = 1, py::arg("isa") = "auto",
        "mlp_eval with the inputs checked first and the outputs after: (status, outputs), status 0 (all finite), "
        "1 (a non-finite or invalid input: nothing evaluated, outputs None) or 2 (a non-finite output).");
}

}  // namespace optcore::bindings
