// Networks outside the training loop: losses, gradients, per-example gradients, Hessian-vector products and dense
// Hessians of R networks in one call (optcore.nn).
#include <string>

#include "interrupt.hpp"
#include "mlp_data.hpp"
#include "optcore/engine.hpp"
#include "optcore/run_problem.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

namespace {

/// Examples between two stop checks in the per-example passes (each example is a pass through the network).
constexpr std::int64_t kExamplesPerCheck = 256;

template <class T>
py::dict mlp_eval(const py::dict& data, py::array_t<T> params, const std::string& what, const py::object& v_obj,
                  int threads) {
  OPTCORE_CHECK(params.ndim() == 2 && (params.flags() & py::array::c_style), "'params' must be a C-contiguous (R, P) array");
  const std::int64_t R = params.shape(0), P = params.shape(1);
  const std::int64_t n = checked_array<T>(data, "X", {-1, -1}).shape(0);
  ProblemData<T> pd;
  mlp_data_from<T>(data, n, P, pd);
  const MLP<T> net = make_mlp(pd);
  const T* theta = params.data();
  const std::int64_t k = net.out_dim();
  py::dict out;
  const T* v = nullptr;
  py::array_t<T> v_arr;
  if (what == "hvp") {
    v_arr = v_obj.cast<py::array_t<T>>();
    OPTCORE_CHECK(v_arr.ndim() == 2 && v_arr.shape(0) == R && v_arr.shape(1) == P && (v_arr.flags() & py::array::c_style),
                  "'v' must be a C-contiguous (R, P) array");
    v = v_arr.data();
  }
  if (what == "forward") {
    py::array_t<T> outs({R, n, k});
    T* o = outs.mutable_data();
    run_interruptible([&](StopToken* stop) {  // plain arrays only from here on
      detail::parallel_chunks(R, threads, [&](std::int64_t a, std::int64_t b) {
        if (mlp_gemm::pays(net)) {  // wide layers: blocks of examples as matrix products (mlp_gemm.hpp)
          for (std::int64_t r = a; r < b; ++r) checkpoint(stop), mlp_gemm::outputs(net, theta + r * P, o + r * n * k);
          return;
        }
        typename MLP<T>::Scratch& sc = net.scratch();
        for (std::int64_t r = a; r < b; ++r)
          for (std::int64_t i = 0; i < n; ++i) {
            if (i % kExamplesPerCheck == 0) checkpoint(stop);
            std::copy_n(net.forward(i, theta + r * P, sc), k, o + (r * n + i) * k);
          }
      }, stop);
    });
    out["outputs"] = outs;
    return out;
  }
  if (what == "loss" || what == "grad" || what == "accuracy") {
    std::vector<std::uint32_t> all(n);
    for (std::int64_t i = 0; i < n; ++i) all[i] = static_cast<std::uint32_t>(i);
    py::array_t<T> loss(R), acc(R), grad({R, what == "grad" ? P : std::int64_t(0)});
    T* l = loss.mutable_data();
    T* a = acc.mutable_data();
    T* g = grad.mutable_data();
    run_interruptible([&](StopToken* stop) {
      detail::parallel_chunks(R, threads, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t r = lo; r < hi; ++r) {  // each pass only where asked for
          checkpoint(stop);
          l[r] = what != "accuracy" ? net.objective(theta + r * P) : T(0);
          a[r] = what == "accuracy" ? net.accuracy(theta + r * P) : T(0);
          if (what == "grad") {
            std::fill_n(g + r * P, P, T(0));
            net.add_grad_batch(all.data(), n, 0, theta + r * P, g + r * P, T(1) / static_cast<T>(n));
          }
        }
      }, stop);
    });
    out["loss"] = loss;
    out["accuracy"] = acc;
    if (what == "grad") out["grad"] = grad;
    return out;
  }
  if (what == "per_example") {
    py::array_t<T> grads({R, n, P});
    T* g = grads.mutable_data();
    run_interruptible([&](StopToken* stop) {
      detail::parallel_chunks(R, threads, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t r = lo; r < hi; ++r)
          for (std::int64_t i = 0; i < n; ++i) {
            if (i % kExamplesPerCheck == 0) checkpoint(stop);
            T* gi = g + (r * n + i) * P;
            std::fill_n(gi, P, T(0));
            net.add_grad(i, theta + r * P, gi, T(1));  // gradient of f_i = scale * loss_i
          }
      }, stop);
    });
    out["grads"] = grads;
    return out;
  }
  if (what == "hvp" || what == "hessian") {
    const bool dense = what == "hessian";
    py::array_t<T> res = dense ? py::array_t<T>({R, P, P}) : py::array_t<T>({R, P});
    T* h = res.mutable_data();
    run_interruptible([&](StopToken* stop) {
      detail::parallel_chunks(R, threads, [&](std::int64_t lo, std::int64_t hi) {
        std::vector<T> e(P), projected_dir, raw_hv;
        if (net.group) projected_dir.resize(P), raw_hv.resize(P);
        for (std::int64_t r = lo; r < hi; ++r) {
          const std::int64_t columns = dense ? P : 1;
          for (std::int64_t c = 0; c < columns; ++c) {
            const T* dir = v ? v + r * P : nullptr;
            if (dense) {
              std::fill(e.begin(), e.end(), T(0));
              e[c] = T(1);
              dir = e.data();
            }
            T* hv = dense ? h + (r * P + c) * P : h + r * P;
            std::fill_n(hv, P, T(0));
            if (net.group) {  // structured network: P H P v, the Hessian of its free parameters (mlp.hpp)
              std::fill(projected_dir.begin(), projected_dir.end(), T(0));
              std::fill(raw_hv.begin(), raw_hv.end(), T(0));
              net.add_projected(dir, projected_dir.data(), T(1));
              for (std::int64_t i = 0; i < n; ++i) {
                if (i % kExamplesPerCheck == 0) checkpoint(stop);
                net.add_hvp(i, theta + r * P, projected_dir.data(), raw_hv.data(), T(1) / static_cast<T>(n));
              }
              net.add_projected(raw_hv.data(), hv, T(1));
              continue;
            }
            for (std::int64_t i = 0; i < n; ++i) {
              if (i % kExamplesPerCheck == 0) checkpoint(stop);
              net.add_hvp(i, theta + r * P, dir, hv, T(1) / static_cast<T>(n));
            }
          }
        }
      }, stop);
    });
    out[dense ? "hessian" : "hvp"] = res;
    return out;
  }
  OPTCORE_CHECK(false, "unknown evaluation '" << what << "'");
  return out;
}

}  // namespace

void bind_nn(py::module_& m) {
  m.def("mlp_eval", &mlp_eval<float>, py::arg("data"), py::arg("params").noconvert(), py::arg("what"),
        py::arg("v") = py::none(), py::arg("threads") = 1);
  m.def("mlp_eval", &mlp_eval<double>, py::arg("data"), py::arg("params").noconvert(), py::arg("what"),
        py::arg("v") = py::none(), py::arg("threads") = 1,
        "Evaluate R networks: what in {forward, loss, grad, accuracy, per_example, hvp, hessian}.");
}

}  // namespace optcore::bindings
