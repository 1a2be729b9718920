// Reading a network's description out of the dict the Python layer (optcore.nn) builds.
#pragma once

#include <vector>

#include "optcore/mlp.hpp"
#include "optcore/types.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

/** Fills the network fields of p from `data`: X (n, d_0), Y (n, y_cols), widths, bias, activation, loss, ... */
template <class T>
void mlp_data_from(const py::dict& data, std::int64_t n, std::int64_t d, ProblemData<T>& p) {
  py::array w = checked_array<std::int64_t>(data, "widths", {-1});
  const auto* widths = static_cast<const std::int64_t*>(w.data());
  const int layers = static_cast<int>(w.shape(0)) - 1;
  OPTCORE_CHECK(layers >= 1, "a network needs at least one layer");
  for (int l = 0; l <= layers; ++l) OPTCORE_CHECK(widths[l] >= 1, "widths must be >= 1, got " << widths[l] << " at " << l);
  p.kind = ProblemKind::mlp;
  p.widths = widths;
  p.layers = layers;
  p.bias = get_scalar<bool>(data, "bias");
  p.activation = get_scalar<int>(data, "activation");
  p.net_loss = get_scalar<int>(data, "loss");
  OPTCORE_CHECK(p.activation >= 0 && p.activation <= 6, "unknown activation code " << p.activation);
  OPTCORE_CHECK(p.net_loss >= 0 && p.net_loss <= 3, "unknown loss code " << p.net_loss);
  p.s_pos = get_scalar<T>(data, "s_pos");
  p.s_neg = get_scalar<T>(data, "s_neg");
  p.scale = get_scalar<T>(data, "scale");
  const std::int64_t params = MLP<T>::count_params(widths, layers, p.bias);
  OPTCORE_CHECK(d == params, "the parameter vectors have " << d << " entries, the network has " << params);
  const std::int64_t y_cols = p.net_loss == 0 ? widths[layers] : 1;
  OPTCORE_CHECK(p.net_loss == 0 || p.net_loss == 3 || widths[layers] == 1,
                "logistic and exponential losses need one output, got " << widths[layers]);
  if (data.contains("param_group") && !data["param_group"].is_none()) {  // a structured (masked / tied) network
    p.groups = get_scalar<std::int64_t>(data, "groups");
    OPTCORE_CHECK(p.groups >= 1, "a structured network needs at least one free parameter, got groups = " << p.groups);
    p.param_group = in_ptr<std::int64_t>(data, "param_group", {d});
    std::vector<char> used(static_cast<std::size_t>(p.groups), 0);
    for (std::int64_t q = 0; q < d; ++q) {
      const std::int64_t g = p.param_group[q];
      OPTCORE_CHECK(g >= -1 && g < p.groups, "param_group[" << q << "] = " << g << " is not in [-1, " << p.groups << ")");
      if (g >= 0) used[static_cast<std::size_t>(g)] = 1;
    }
    for (std::int64_t g = 0; g < p.groups; ++g) OPTCORE_CHECK(used[g], "param_group: group " << g << " has no member");
  }
  p.A = in_ptr<T>(data, "X", {n, widths[0]});
  p.b = in_ptr<T>(data, "Y", {n, y_cols});
  p.n = n;
  p.d = d;
}

}  // namespace optcore::bindings
