// The batched gradient loop: optcore._core.run_sgd(kind, data, x, runs, spec, recording).
#include "optcore/engine.hpp"
#include "optcore/problems.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

OrderSpec order_spec_from(const py::dict& spec, const py::dict& arrays);

namespace {

template <class T, class Problem>
void run_with(const Problem& problem, const LoopSpec& spec, const RunArrays<T>& runs, const Recording<T>& rec) {
  // Every array was checked and its pointer taken above; the loop touches no Python object, so the GIL can go.
  py::gil_scoped_release release;
  run_sgd<T>(problem, spec, runs, rec);
}

template <class T>
void run_sgd_py(const std::string& kind, const py::dict& data, py::array_t<T> x, const py::dict& run_arrays,
                const py::dict& spec_dict, const py::dict& rec_arrays) {
  OPTCORE_CHECK(x.ndim() == 2, "'x' must be 2-D (runs, dim), got ndim " << x.ndim());
  OPTCORE_CHECK(x.flags() & py::array::c_style, "'x' must be C-contiguous");
  const std::int64_t R = x.shape(0), d = x.shape(1);

  LoopSpec spec;
  spec.order = order_spec_from(spec_dict, run_arrays);
  spec.epochs = get_scalar<std::int64_t>(spec_dict, "epochs");
  spec.batch = get_scalar<std::uint32_t>(spec_dict, "batch_size");
  spec.mode = static_cast<WorkerMode>(get_scalar<int>(spec_dict, "mode"));
  spec.sync_every = get_scalar<std::int64_t>(spec_dict, "sync_every");
  spec.record_every = get_scalar<std::int64_t>(spec_dict, "record_every");
  spec.threads = get_scalar<int>(spec_dict, "threads");
  const std::int64_t K = spec.epochs, n = static_cast<std::int64_t>(spec.order.workers) * spec.order.per_worker;
  OPTCORE_CHECK(K >= 1, "epochs must be >= 1, got " << K);
  OPTCORE_CHECK(spec.order.kind != OrderKind::explicit_order ||
                    ((spec.order.explicit_runs == 1 || spec.order.explicit_runs == R) &&
                     (spec.order.explicit_epochs == 1 || spec.order.explicit_epochs == K)),
                "explicit orders need 1 or R runs and 1 or K epochs");

  RunArrays<T> runs;
  runs.runs = R;
  runs.dim = d;
  runs.seeds = in_ptr<std::uint64_t>(run_arrays, "seeds", {R});
  runs.run_ids = in_ptr<std::uint32_t>(run_arrays, "run_ids", {R});
  runs.x = x.mutable_data();
  runs.step_table = in_ptr<T>(run_arrays, "step_table", {R, K});
  runs.decay = in_ptr<T>(run_arrays, "decay", {R});

  const std::int64_t nrec = spec.records();
  Recording<T> rec;
  rec.x_star = optional_in<T>(rec_arrays, "x_star", {d});
  rec.hessian = optional_in<T>(rec_arrays, "hessian", {d, d});
  rec.has_f_star = rec_arrays.contains("f_star") && !rec_arrays["f_star"].is_none();
  if (rec.has_f_star) rec.f_star = rec_arrays["f_star"].cast<T>();
  rec.gap = optional_out<T>(rec_arrays, "gap", {R, nrec});
  rec.dist = optional_out<T>(rec_arrays, "dist", {R, nrec});
  rec.objective = optional_out<T>(rec_arrays, "objective", {R, nrec});
  rec.iterates = optional_out<T>(rec_arrays, "iterates", {R, nrec, d});
  rec.diverged = optional_out<std::uint8_t>(rec_arrays, "diverged", {R});
  OPTCORE_CHECK(!rec.gap || rec.has_f_star || (rec.hessian && rec.x_star), "recording 'gap' needs f_star or x_star+hessian");
  OPTCORE_CHECK(!rec.dist || rec.x_star, "recording 'dist' needs x_star");

  if (kind == "least_squares") {
    LeastSquares<T> p{in_ptr<T>(data, "A", {n, d}), in_ptr<T>(data, "b", {n}), n, d, get_scalar<T>(data, "l2")};
    run_with(p, spec, runs, rec);
  } else if (kind == "logistic" || kind == "exponential") {
    const T* A = in_ptr<T>(data, "A", {n, d});
    const T* y = in_ptr<T>(data, "y", {n});
    const T l2 = get_scalar<T>(data, "l2");
    if (kind == "logistic")
      run_with(Logistic<T>{A, y, n, d, l2}, spec, runs, rec);
    else
      run_with(Exponential<T>{A, y, n, d, l2}, spec, runs, rec);
  } else if (kind == "quadratic") {
    Quadratic<T> p{in_ptr<T>(data, "A", {n, d, d}), in_ptr<T>(data, "b", {n, d}), n, d};
    run_with(p, spec, runs, rec);
  } else if (kind == "lower_bound") {
    OPTCORE_CHECK(d == 1, "the lower-bound function is 1-D, got dim " << d);
    const T* z = in_ptr<T>(data, "z", {n});
    T z_mean = 0;
    for (std::int64_t i = 0; i < n; ++i) z_mean += z[i];
    LowerBound1D<T> p{z, n, get_scalar<T>(data, "L"), get_scalar<T>(data, "mu"), get_scalar<T>(data, "nu"), z_mean / n};
    run_with(p, spec, runs, rec);
  } else {
    OPTCORE_CHECK(false, "unknown problem kind '" << kind << "'");
  }
}

}  // namespace

void bind_sgd(py::module_& m) {
  // float32 first, both without conversion: the iterate array is updated in place, so a silent copy would be a bug.
  m.def("run_sgd", &run_sgd_py<float>, py::arg("kind"), py::arg("data"), py::arg("x").noconvert(), py::arg("runs"),
        py::arg("spec"), py::arg("recording"));
  m.def("run_sgd", &run_sgd_py<double>, py::arg("kind"), py::arg("data"), py::arg("x").noconvert(), py::arg("runs"),
        py::arg("spec"), py::arg("recording"),
        "Run R SGD runs in place on x (R, d); see optcore.sgd.run_sgd for the meaning of every entry.");
}

}  // namespace optcore::bindings
