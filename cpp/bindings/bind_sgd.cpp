// The batched gradient loop: optcore._core.run_sgd(kind, data, x, runs, spec, recording).
#include "interrupt.hpp"
#include "optcore/run_problem.hpp"
#include "pybind11.hpp"
#include "sgd_dispatch.hpp"
#include "mlp_data.hpp"

namespace optcore::bindings {

OrderSpec order_spec_from(const py::dict& spec, const py::dict& arrays);

namespace {

/** The problem's arrays out of `data`, checked against n = M N components and dimension d. */
template <class T>
ProblemData<T> problem_from(const std::string& kind, const py::dict& data, std::int64_t n, std::int64_t d) {
  ProblemData<T> p;
  p.n = n;
  p.d = d;
  if (kind == "least_squares" || kind == "logistic" || kind == "exponential") {
    p.kind = kind == "least_squares" ? ProblemKind::least_squares
             : kind == "logistic"    ? ProblemKind::logistic
                                     : ProblemKind::exponential;
    p.A = in_ptr<T>(data, "A", {n, d});
    p.b = in_ptr<T>(data, kind == "least_squares" ? "b" : "y", {n});
    p.l2 = get_scalar<T>(data, "l2");
  } else if (kind == "quadratic") {
    p.kind = ProblemKind::quadratic;
    p.A = in_ptr<T>(data, "A", {n, d, d});
    p.b = in_ptr<T>(data, "b", {n, d});
  } else if (kind == "lower_bound") {
    OPTCORE_CHECK(d == 1, "the lower-bound function is 1-D, got dim " << d);
    p.kind = ProblemKind::lower_bound;
    p.b = in_ptr<T>(data, "z", {n});
    p.L = get_scalar<T>(data, "L");
    p.mu = get_scalar<T>(data, "mu");
    p.nu = get_scalar<T>(data, "nu");
    T total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += p.b[i];
    p.z_mean = total / static_cast<T>(n);
  } else if (kind == "huber" || kind == "squared_hinge" || kind == "poisson") {
    p.kind = kind == "huber" ? ProblemKind::huber : kind == "squared_hinge" ? ProblemKind::squared_hinge
                                                                            : ProblemKind::poisson;
    p.A = in_ptr<T>(data, "A", {n, d});
    p.b = in_ptr<T>(data, kind == "huber" ? "b" : "y", {n});
    p.l2 = get_scalar<T>(data, "l2");
    if (kind == "huber") {
      p.delta = get_scalar<T>(data, "delta");
      OPTCORE_CHECK(p.delta > T(0), "delta must be > 0, got " << p.delta);
    }
  } else if (kind == "mlp") {
    mlp_data_from<T>(data, n, d, p);
  } else {
    OPTCORE_CHECK(false, "unknown problem kind '" << kind << "'");
  }
  return p;
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
  const int mode = get_scalar<int>(spec_dict, "mode");
  OPTCORE_CHECK(mode == 0 || mode == 1, "mode must be 0 (minibatch) or 1 (local), got " << mode);
  spec.mode = static_cast<WorkerMode>(mode);
  spec.sync_every = get_scalar<std::int64_t>(spec_dict, "sync_every");
  spec.record_every = get_scalar<std::int64_t>(spec_dict, "record_every");
  spec.threads = get_scalar<int>(spec_dict, "threads");
  const std::string isa = resolve_isa(spec_dict.contains("isa") ? spec_dict["isa"].cast<std::string>() : "auto");
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
  // (R or 1, K or 1): an extent of 1 is shared by every run / epoch (constant and per-run steps need no (R, K))
  const py::array table = checked_array<T>(run_arrays, "step_table", {-1, -1});
  OPTCORE_CHECK((table.shape(0) == R || table.shape(0) == 1) && (table.shape(1) == K || table.shape(1) == 1),
                "'step_table' has shape " << shape_string(table) << ", expected (R or 1, K or 1) with R = " << R
                                          << ", K = " << K);
  runs.step_table = static_cast<const T*>(table.data());
  runs.step_run_stride = table.shape(0) == 1 ? 0 : table.shape(1);
  runs.step_epoch_stride = table.shape(1) == 1 ? 0 : 1;
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
  rec.accuracy = optional_out<T>(rec_arrays, "accuracy", {R, nrec});
  OPTCORE_CHECK(!rec.accuracy || kind == "mlp", "recording 'accuracy' needs a network problem");
  OPTCORE_CHECK(!rec.gap || rec.has_f_star || (rec.hessian && rec.x_star), "recording 'gap' needs f_star or x_star+hessian");
  OPTCORE_CHECK(!rec.dist || rec.x_star, "recording 'dist' needs x_star");

  const ProblemData<T> problem = problem_from<T>(kind, data, n, d);
  // Every array was checked and its pointer taken above; the loop touches no Python object, so the GIL can go.
  run_interruptible([&](StopToken* stop) {
    spec.stop = stop;
#define OPTCORE_RUN_ON_COPY(name, cpu_check)          \
  if (isa == #name) {                                 \
    run_problem_##name(problem, spec, runs, rec);     \
    return;                                           \
  }
    OPTCORE_ISA_COPIES(OPTCORE_RUN_ON_COPY)
#undef OPTCORE_RUN_ON_COPY
    run_problem<T>(problem, spec, runs, rec);  // the portable copy
  });
}

/** exp_exact(), log1p_exact() or softplus_neg_exact() of every element, in the chosen copy (tests). */
template <class T>
py::array_t<T> elementary_py(const std::string& name, py::array_t<T, py::array::c_style> x, const std::string& isa_name) {
  const int f = name == "exp" ? 0 : name == "log1p" ? 1 : name == "softplus_neg" ? 2 : -1;
  OPTCORE_CHECK(f >= 0, "function must be exp, log1p or softplus_neg, got '" << name << "'");
  OPTCORE_CHECK((f == 0 || std::is_same_v<T, double>), "log1p and softplus_neg are float64 only");
  const std::string isa = resolve_isa(isa_name);
  py::array_t<T> out(x.request().shape);
  const T* in = x.data();
  T* o = out.mutable_data();
  const std::int64_t count = x.size();
  {
    py::gil_scoped_release release;
    [&] {
#define OPTCORE_ELEMENTARY_ON_COPY(name, cpu_check) \
  if (isa == #name) {                               \
    elementary_##name(f, in, o, count);             \
    return;                                         \
  }
      OPTCORE_ISA_COPIES(OPTCORE_ELEMENTARY_ON_COPY)
#undef OPTCORE_ELEMENTARY_ON_COPY
      apply_elementary<T>(static_cast<Elementary>(f), in, o, count);  // the portable copy
    }();
  }
  return out;
}

}  // namespace

void bind_sgd(py::module_& m) {
  m.def("elementary", &elementary_py<float>, py::arg("function"), py::arg("x").noconvert(), py::arg("isa") = "auto");
  m.def("elementary", &elementary_py<double>, py::arg("function"), py::arg("x").noconvert(), py::arg("isa") = "auto",
        "exp, log1p (x >= 0) or log(1 + e^-x) of every element with the engine's own reproducible functions "
        "(cpp/include/optcore/elementary.hpp), in the compiled copy `isa` (auto, portable, avx2, avx512).");
  m.def("isa_info", [] {
    py::dict info;
    info["avx2_copy_built"] = isa_copies_built().find("avx2") != std::string::npos;
    info["avx512_copy_built"] = isa_copies_built().find("avx512") != std::string::npos;
    info["avx2_supported"] = avx2_available();  // built, and this CPU runs it
    info["avx512_supported"] = avx512_available();
    info["avx2_used"] = avx2_available();
    info["built"] = isa_copies_built();    // "portable,avx512,avx2": the copies this build has
    info["usable"] = isa_copies_usable();  // those this CPU runs
    info["auto"] = resolve_isa("auto");    // the one run_sgd and mlp_eval take unless told otherwise
    return info;
  }, "Which instruction-set copies of the loops this build has, which this CPU runs, and which 'auto' picks.");
  // float32 first, both without conversion: the iterate array is updated in place, so a silent copy would be a bug.
  m.def("run_sgd", &run_sgd_py<float>, py::arg("kind"), py::arg("data"), py::arg("x").noconvert(), py::arg("runs"),
        py::arg("spec"), py::arg("recording"));
  m.def("run_sgd", &run_sgd_py<double>, py::arg("kind"), py::arg("data"), py::arg("x").noconvert(), py::arg("runs"),
        py::arg("spec"), py::arg("recording"),
        "Run R SGD runs in place on x (R, d); see optcore.sgd.run_sgd for the meaning of every entry.");
}

}  // namespace optcore::bindings
