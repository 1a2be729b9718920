// The private extension module optcore._core: one bind_<topic> per file.
#include "pybind11.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "optcore's compiled core (private; use the optcore package)";
  optcore::bindings::bind_random(m);
  optcore::bindings::bind_orders(m);
  optcore::bindings::bind_sgd(m);
  optcore::bindings::bind_nn(m);
  optcore::bindings::bind_linear_tensor(m);
  optcore::bindings::bind_blas(m);
  optcore::bindings::bind_games(m);
  optcore::bindings::bind_quant(m);
  optcore::bindings::bind_bures_wasserstein(m);
}
