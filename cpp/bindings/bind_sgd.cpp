// The batched gradient loop: optcore._core.run_sgd(kind, data, x, runs, spec, recording), and the same read once
// for many calls (optcore._core.prepare_sgd, behind optcore.sgd_plan).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

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

/** The loop's structure (spec_dict and the order arrays of run_arrays) for R runs, and the compiled copy to run. */
template <class T>
void read_loop(const py::dict& spec_dict, const py::dict& run_arrays, std::int64_t R, LoopSpec& spec, std::string& isa) {
  spec.order = order_spec_from(spec_dict, run_arrays);
  spec.epochs = get_scalar<std::int64_t>(spec_dict, "epochs");
  spec.batch = get_scalar<std::uint32_t>(spec_dict, "batch_size");
  const int mode = get_scalar<int>(spec_dict, "mode");
  OPTCORE_CHECK(mode == 0 || mode == 1, "mode must be 0 (minibatch) or 1 (local), got " << mode);
  spec.mode = static_cast<WorkerMode>(mode);
  spec.sync_every = get_scalar<std::int64_t>(spec_dict, "sync_every");
  spec.record_every = get_scalar<std::int64_t>(spec_dict, "record_every");
  spec.threads = get_scalar<int>(spec_dict, "threads");
  isa = resolve_isa(dict_item(spec_dict, "isa") ? get_scalar<std::string>(spec_dict, "isa") : "auto");
  const std::int64_t K = spec.epochs;
  OPTCORE_CHECK(K >= 1, "epochs must be >= 1, got " << K);
  OPTCORE_CHECK(spec.order.kind != OrderKind::explicit_order ||
                    ((spec.order.explicit_runs == 1 || spec.order.explicit_runs == R) &&
                     (spec.order.explicit_epochs == 1 || spec.order.explicit_epochs == K)),
                "explicit orders need 1 or R runs and 1 or K epochs");
}

/** The step sizes of run_arrays: the step table (R or 1, K or 1) and the decay (R,). */
template <class T>
void read_steps(const py::dict& run_arrays, std::int64_t R, std::int64_t K, RunArrays<T>& runs) {
  // (R or 1, K or 1): an extent of 1 is shared by every run / epoch (constant and per-run steps need no (R, K))
  const py::array table = checked_array<T>(run_arrays, "step_table", {-1, -1});
  OPTCORE_CHECK((table.shape(0) == R || table.shape(0) == 1) && (table.shape(1) == K || table.shape(1) == 1),
                "'step_table' has shape " << shape_string(table) << ", expected (R or 1, K or 1) with R = " << R
                                          << ", K = " << K);
  runs.step_table = static_cast<const T*>(table.data());
  runs.step_run_stride = table.shape(0) == 1 ? 0 : table.shape(1);
  runs.step_epoch_stride = table.shape(1) == 1 ? 0 : 1;
  runs.decay = in_ptr<T>(run_arrays, "decay", {R});
}

/** The record inputs of rec_arrays: the minimizer, the Hessian and F* where the problem knows them. */
template <class T>
void read_record_inputs(const py::dict& rec_arrays, std::int64_t d, Recording<T>& rec) {
  rec.x_star = optional_in<T>(rec_arrays, "x_star", {d});
  rec.hessian = optional_in<T>(rec_arrays, "hessian", {d, d});
  rec.has_f_star = has_entry(rec_arrays, "f_star");
  if (rec.has_f_star) rec.f_star = get_scalar<T>(rec_arrays, "f_star");
}

/** Refuses records the problem cannot give (the Python layer refuses them first, naming the argument). */
inline void check_records(const std::string& kind, bool gap, bool dist, bool accuracy, bool has_f_star,
                          bool has_hessian, bool has_x_star) {
  OPTCORE_CHECK(!accuracy || kind == "mlp", "recording 'accuracy' needs a network problem");
  OPTCORE_CHECK(!gap || has_f_star || (has_hessian && has_x_star), "recording 'gap' needs f_star or x_star+hessian");
  OPTCORE_CHECK(!dist || has_x_star, "recording 'dist' needs x_star");
}

/** Runs the loop on the chosen copy with the GIL released (every array was checked and its pointer taken). */
template <class T>
void run_loop(const std::string& isa, const ProblemData<T>& problem, LoopSpec spec, const RunArrays<T>& runs,
              const Recording<T>& rec) {
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

template <class T>
void run_sgd_py(const std::string& kind, const py::dict& data, py::array_t<T> x, const py::dict& run_arrays,
                const py::dict& spec_dict, const py::dict& rec_arrays) {
  OPTCORE_CHECK(x.ndim() == 2, "'x' must be 2-D (runs, dim), got ndim " << x.ndim());
  OPTCORE_CHECK(x.flags() & py::array::c_style, "'x' must be C-contiguous");
  const std::int64_t R = x.shape(0), d = x.shape(1);

  LoopSpec spec;
  std::string isa;
  read_loop<T>(spec_dict, run_arrays, R, spec, isa);
  const std::int64_t K = spec.epochs, n = static_cast<std::int64_t>(spec.order.workers) * spec.order.per_worker;

  RunArrays<T> runs;
  runs.runs = R;
  runs.dim = d;
  runs.seeds = in_ptr<std::uint64_t>(run_arrays, "seeds", {R});
  runs.run_ids = in_ptr<std::uint32_t>(run_arrays, "run_ids", {R});
  runs.x = x.mutable_data();
  read_steps<T>(run_arrays, R, K, runs);

  const std::int64_t nrec = spec.records();
  Recording<T> rec;
  read_record_inputs<T>(rec_arrays, d, rec);
  rec.gap = optional_out<T>(rec_arrays, "gap", {R, nrec});
  rec.dist = optional_out<T>(rec_arrays, "dist", {R, nrec});
  rec.objective = optional_out<T>(rec_arrays, "objective", {R, nrec});
  rec.iterates = optional_out<T>(rec_arrays, "iterates", {R, nrec, d});
  rec.diverged = optional_out<std::uint8_t>(rec_arrays, "diverged", {R});
  rec.accuracy = optional_out<T>(rec_arrays, "accuracy", {R, nrec});
  check_records(kind, rec.gap, rec.dist, rec.accuracy, rec.has_f_star, rec.hessian, rec.x_star);

  const ProblemData<T> problem = problem_from<T>(kind, data, n, d);
  run_loop<T>(isa, problem, spec, runs, rec);
}

/**
 * run_sgd's arguments read once (optcore.sgd.SGDPlan): each call then hands over only x, the seeds and the run
 * ids, and gets back the records, allocated here (NaN until written) and checked here for non-finite values, so
 * that a short run costs little more than its loop. Holds its own references to every array it points into.
 */
template <class T>
class PreparedRun {
 public:
  PreparedRun(const std::string& kind, const py::dict& data, const py::dict& run_arrays, const py::dict& spec_dict,
              const py::dict& rec_inputs, const std::vector<std::string>& record, bool iterates, std::int64_t R,
              std::int64_t d)
      : data_(copy_of(data)), run_arrays_(copy_of(run_arrays)), rec_inputs_(copy_of(rec_inputs)), R_(R), d_(d),
        iterates_(iterates) {
    OPTCORE_CHECK(R >= 1 && d >= 1, "runs and dim must be >= 1, got " << R << " and " << d);
    read_loop<T>(spec_dict, run_arrays_, R, spec_, isa_);
    runs_.runs = R;
    runs_.dim = d;
    read_steps<T>(run_arrays_, R, spec_.epochs, runs_);
    read_record_inputs<T>(rec_inputs_, d, inputs_);
    for (const std::string& name : record) {
      if (name == "gap") gap_ = true;
      else if (name == "dist") dist_ = true;
      else if (name == "objective") objective_ = true;
      else if (name == "accuracy") accuracy_ = true;
      else OPTCORE_CHECK(false, "unknown record '" << name << "'");
    }
    check_records(kind, gap_, dist_, accuracy_, inputs_.has_f_star, inputs_.hessian, inputs_.x_star);
    nrec_ = spec_.records();
    problem_ = problem_from<T>(kind, data_, static_cast<std::int64_t>(spec_.order.workers) * spec_.order.per_worker, d);
  }

  /**
   * The runs from x (R, d), updated in place, with keys `seeds` and stream ids `run_ids` (R,). Returns (records,
   * status): records maps "diverged" (R,) bool and every recorded quantity (R, P) (and "iterates" (R, P, d)) to
   * new arrays; status has bit 1 set when a run diverged, bit 2 when a recorded value other than the accuracy is
   * not finite (the Python layer then marks those runs as it always did).
   */
  py::tuple run(py::array_t<T> x, py::handle seeds, py::handle run_ids) const {
    OPTCORE_CHECK(x.ndim() == 2 && x.shape(0) == R_ && x.shape(1) == d_,
                  "'x' must have shape (" << R_ << ", " << d_ << "), got " << shape_string(x));
    OPTCORE_CHECK((x.flags() & py::array::c_style) && x.writeable(), "'x' must be C-contiguous and writeable");
    RunArrays<T> runs = runs_;
    runs.x = x.mutable_data();
    const py::array keys = checked_array_object<std::uint64_t>(seeds, "seeds", {R_});
    const py::array ids = checked_array_object<std::uint32_t>(run_ids, "run_ids", {R_});
    runs.seeds = static_cast<const std::uint64_t*>(keys.data());
    runs.run_ids = static_cast<const std::uint32_t*>(ids.data());

    py::dict out;
    Recording<T> rec = inputs_;
    py::array_t<bool> diverged(R_);  // the result's own array: the engine writes 1 (true) into its bytes
    static_assert(sizeof(bool) == sizeof(std::uint8_t), "NumPy's bool is one byte");
    rec.diverged = reinterpret_cast<std::uint8_t*>(diverged.mutable_data());
    std::fill_n(rec.diverged, R_, std::uint8_t(0));
    set(out, "diverged", diverged);
    // NaN until written: a record the loop missed can never pass for a value
    if (gap_) rec.gap = records(out, "gap", {R_, nrec_});
    if (dist_) rec.dist = records(out, "dist", {R_, nrec_});
    if (objective_) rec.objective = records(out, "objective", {R_, nrec_});
    if (accuracy_) rec.accuracy = records(out, "accuracy", {R_, nrec_});
    if (iterates_) rec.iterates = records(out, "iterates", {R_, nrec_, d_});

    run_loop<T>(isa_, problem_, spec_, runs, rec);

    int status = std::any_of(rec.diverged, rec.diverged + R_, [](std::uint8_t v) { return v != 0; }) ? 1 : 0;
    const std::int64_t points = R_ * nrec_;
    if (!(all_finite(rec.gap, points) && all_finite(rec.dist, points) && all_finite(rec.objective, points) &&
          all_finite(rec.iterates, points * d_)))
      status |= 2;
    return py::make_tuple(std::move(out), status);
  }

 private:
  static py::dict copy_of(const py::dict& d) { return py::reinterpret_steal<py::dict>(PyDict_Copy(d.ptr())); }

  static void set(py::dict& out, const char* name, const py::handle value) {
    if (PyDict_SetItem(out.ptr(), interned_key(name), value.ptr()) != 0) throw py::error_already_set();
  }

  /** A new NaN-filled array of `shape`, entered in `out` as `name`. */
  static T* records(py::dict& out, const char* name, std::vector<py::ssize_t> shape) {
    py::array_t<T> a(std::move(shape));
    std::fill_n(a.mutable_data(), a.size(), std::numeric_limits<T>::quiet_NaN());
    set(out, name, a);
    return a.mutable_data();
  }

  static bool all_finite(const T* v, std::int64_t count) {
    if (!v) return true;
    bool finite = true;
    for (std::int64_t i = 0; i < count; ++i) finite &= std::isfinite(v[i]);
    return finite;
  }

  py::dict data_, run_arrays_, rec_inputs_;  // own references to the arrays the fields below point into
  std::int64_t R_, d_, nrec_ = 0;
  bool gap_ = false, dist_ = false, objective_ = false, accuracy_ = false, iterates_ = false;
  LoopSpec spec_;
  std::string isa_;
  RunArrays<T> runs_;  // all but x, seeds and run ids
  Recording<T> inputs_;  // the record inputs; the outputs are per call
  ProblemData<T> problem_;
};

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
  py::class_<PreparedRun<float>>(m, "PreparedRunF32")
      .def("run", &PreparedRun<float>::run, py::arg("x").noconvert(), py::arg("seeds"), py::arg("run_ids"));
  py::class_<PreparedRun<double>>(m, "PreparedRunF64")
      .def("run", &PreparedRun<double>::run, py::arg("x").noconvert(), py::arg("seeds"), py::arg("run_ids"),
           "run(x, seeds, run_ids) -> (records, status): see cpp/bindings/bind_sgd.cpp, PreparedRun::run.");
  m.def(
      "prepare_sgd",
      [](const std::string& kind, const py::dict& data, const py::dict& run_arrays, const py::dict& spec,
         const py::dict& rec_inputs, const std::vector<std::string>& record, bool iterates, std::int64_t runs,
         std::int64_t dim, const std::string& dtype) -> py::object {
        if (dtype == "float32")
          return py::cast(PreparedRun<float>(kind, data, run_arrays, spec, rec_inputs, record, iterates, runs, dim));
        OPTCORE_CHECK(dtype == "float64", "dtype must be float32 or float64, got '" << dtype << "'");
        return py::cast(PreparedRun<double>(kind, data, run_arrays, spec, rec_inputs, record, iterates, runs, dim));
      },
      py::arg("kind"), py::arg("data"), py::arg("run_arrays"), py::arg("spec"), py::arg("rec_inputs"),
      py::arg("record"), py::arg("iterates"), py::arg("runs"), py::arg("dim"), py::arg("dtype"),
      "run_sgd's arguments read once (optcore.sgd.SGDPlan): a PreparedRunF32 / PreparedRunF64 whose run(x, seeds, "
      "run_ids) runs the loop and returns the records it allocates and checks.");
}

}  // namespace optcore::bindings
