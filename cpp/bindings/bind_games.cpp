// Bilinear zero-sum games: MWU, OMWU, GDA, OGDA and extragradient for R runs in one call (optcore.games).
#include <string>

#include "interrupt.hpp"
#include "optcore/games.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

namespace {

GameMethod game_method(const std::string& name) {
  OPTCORE_CHECK(name == "mwu" || name == "omwu" || name == "gda" || name == "ogda" || name == "extragradient",
                "unknown method '" << name << "'");
  return name == "mwu" ? GameMethod::mwu
         : name == "omwu" ? GameMethod::omwu
         : name == "gda"  ? GameMethod::gda
         : name == "ogda" ? GameMethod::ogda
                          : GameMethod::extragradient;
}

template <class T>
py::dict run_games_py(const py::dict& game, py::array_t<T> x, py::array_t<T> y, const py::dict& options) {
  OPTCORE_CHECK(x.ndim() == 2 && (x.flags() & py::array::c_style) && x.writeable(),
                "'x' must be a writeable C-contiguous (runs, n) array");
  OPTCORE_CHECK(y.ndim() == 2 && (y.flags() & py::array::c_style) && y.writeable(),
                "'y' must be a writeable C-contiguous (runs, m) array");
  GameSpec<T> s;
  s.method = game_method(get_scalar<std::string>(options, "method"));
  const std::string domain = get_scalar<std::string>(options, "domain");
  OPTCORE_CHECK(domain == "simplex" || domain == "unconstrained", "unknown domain '" << domain << "'");
  s.domain = domain == "simplex" ? GameDomain::simplex : GameDomain::unconstrained;
  py::array A = checked_array<T>(game, "A", {-1, -1, -1});
  s.games = A.shape(0);
  s.n = A.shape(1);
  s.m = A.shape(2);
  s.A = static_cast<const T*>(A.data());
  s.xstar = optional_in<T>(game, "xstar", {s.games, s.n});
  s.ystar = optional_in<T>(game, "ystar", {s.games, s.m});
  OPTCORE_CHECK((s.xstar == nullptr) == (s.ystar == nullptr), "give both 'xstar' and 'ystar' or neither");
  s.steps = get_scalar<std::int64_t>(options, "steps");
  s.record_every = get_scalar<std::int64_t>(options, "record_every");
  s.tol = get_scalar<T>(options, "tol");
  s.threads = get_scalar<int>(options, "threads");
  check_game_spec(s);
  const std::int64_t R = x.shape(0), K = s.records();
  OPTCORE_CHECK(x.shape(1) == s.n, "'x' has " << x.shape(1) << " columns, the game matrix has n = " << s.n << " rows");
  OPTCORE_CHECK(y.shape(0) == R && y.shape(1) == s.m,
                "'y' has shape " << shape_string(y) << ", expected (" << R << ", " << s.m << ")");
  GameRuns<T> runs;
  runs.runs = R;
  runs.game = in_ptr<std::int64_t>(options, "game", {R});
  runs.step = in_ptr<T>(options, "step_size", {R});
  runs.x = x.mutable_data();
  runs.y = y.mutable_data();
  runs.x_prev = optional_in<T>(options, "x_prev", {R, s.n});
  runs.y_prev = optional_in<T>(options, "y_prev", {R, s.m});
  const bool stars = s.xstar != nullptr, simplex = s.domain == GameDomain::simplex;
  const bool iterates = get_scalar<bool>(options, "record_iterates");
  py::dict out;
  py::array_t<std::int64_t> diverged(R), converged(R);
  runs.diverged = diverged.mutable_data();
  out["diverged"] = diverged;
  if (stars) runs.converged_at = converged.mutable_data(), out["converged_at"] = converged;
  auto record = [&](const char* name, T*& ptr, bool wanted) {
    if (!wanted) return;
    py::array_t<T> a({R, K});
    ptr = a.mutable_data();
    out[name] = a;
  };
  record("kl", runs.kl, stars && simplex);
  record("gap", runs.gap, simplex);
  record("dist", runs.dist, stars);
  record("avg_gap", runs.avg_gap, simplex);
  if (iterates) {
    py::array_t<T> ix({R, K, s.n}), iy({R, K, s.m});
    runs.iter_x = ix.mutable_data();
    runs.iter_y = iy.mutable_data();
    out["iter_x"] = ix;
    out["iter_y"] = iy;
  }
  // safe without the GIL: the loop touches only the raw buffers taken above, which the dicts and arrays keep alive
  run_interruptible([&](StopToken* stop) {
    s.stop = stop;
    run_games(s, runs);
  });
  return out;
}

}  // namespace

void bind_games(py::module_& m) {
  const char* doc =
      "run_games(game, x, y, options) -> dict(diverged, converged_at, kl, gap, dist, avg_gap, iter_x, iter_y): "
      "R runs of a game dynamics; x (R, n) and y (R, m) hold the starts and are updated in place to the last iterates.";
  m.def("run_games", &run_games_py<float>, py::arg("game"), py::arg("x").noconvert(), py::arg("y").noconvert(),
        py::arg("options"), doc);
  m.def("run_games", &run_games_py<double>, py::arg("game"), py::arg("x").noconvert(), py::arg("y").noconvert(),
        py::arg("options"), doc);
}

}  // namespace optcore::bindings
