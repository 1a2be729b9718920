// Reading a network's description out of the dict the Python layer (optcore.nn) builds.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "optcore/mlp.hpp"
#include "optcore/types.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

/** The quantized activation's resolution, levels and straight-through estimator (optcore.nn). */
template <class T>
void quantized_activation_from(const py::dict& data, ProblemData<T>& p) {
  p.act_alpha = get_scalar<T>(data, "act_alpha");
  p.act_levels = get_scalar<T>(data, "act_levels");
  p.act_ste = get_scalar<int>(data, "act_ste");
  OPTCORE_CHECK(std::isfinite(p.act_alpha) && p.act_alpha > T(0), "act_alpha must be finite and > 0, got " << p.act_alpha);
  OPTCORE_CHECK(p.act_levels >= T(1), "act_levels must be >= 1, got " << p.act_levels);
  OPTCORE_CHECK(p.act_ste >= 0 && p.act_ste <= 2, "unknown straight-through estimator code " << p.act_ste);
}

/** Weight quantization and the BCGD blending (optcore.quantized.QuantizedNetworkProblem, mlp_quant.hpp). */
template <class T>
void quantized_weights_from(const py::dict& data, int layers, ProblemData<T>& p) {
  p.weight_quant = get_scalar<int>(data, "weight_quant");
  OPTCORE_CHECK(p.weight_quant >= 1 && p.weight_quant <= 4, "unknown weight quantizer code " << p.weight_quant);
  p.weight_bits = get_scalar<int>(data, "weight_bits");
  OPTCORE_CHECK(p.weight_quant != 3 || (p.weight_bits >= 2 && p.weight_bits <= 16),
                "weight_bits must be in [2, 16], got " << p.weight_bits);
  p.rho = get_scalar<T>(data, "rho");
  OPTCORE_CHECK(p.rho >= T(0) && p.rho <= T(1), "rho must be in [0, 1], got " << p.rho);
  p.rho_rate = get_scalar<T>(data, "rho_rate");
  p.rho_max = get_scalar<T>(data, "rho_max");
  OPTCORE_CHECK(std::isfinite(p.rho_rate) && p.rho_rate > T(0), "rho_rate must be finite and > 0, got " << p.rho_rate);
  OPTCORE_CHECK(p.rho_max >= p.rho && p.rho_max <= T(1), "rho_max must be in [rho, 1], got " << p.rho_max);
  p.quant_layers = in_ptr<std::uint8_t>(data, "quant_layers", {layers});
}

/** Whether `data` asks for learned activation resolutions (one per hidden layer, appended to the parameters). */
inline bool learns_alpha(const py::dict& data) {
  return dict_item(data, "learn_alpha") && get_scalar<bool>(data, "learn_alpha");
}

/** The learned resolutions' rule and rate (mlp_alpha.hpp). */
template <class T>
void learned_alpha_from(const py::dict& data, ProblemData<T>& p) {
  OPTCORE_CHECK(p.activation == 7, "learned resolutions need activation='quantized', got activation code " << p.activation);
  p.learn_alpha = true;
  p.alpha_grad = get_scalar<int>(data, "alpha_grad");
  OPTCORE_CHECK(p.alpha_grad >= 0 && p.alpha_grad <= 2, "unknown alpha-gradient rule code " << p.alpha_grad);
  p.rate_factor = get_scalar<T>(data, "rate_factor");
  OPTCORE_CHECK(std::isfinite(p.rate_factor) && p.rate_factor > T(0),
                "rate_factor must be finite and > 0, got " << p.rate_factor);
}

/** Fills the network fields of p from `data`: X (n, d_0), Y (n, y_cols), widths, bias, activation, loss, ...
 *  d is the iterate's length: the network's parameters, and one resolution per hidden layer when they are
 *  learned (p.d is then the network's part). */
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
  OPTCORE_CHECK(p.activation >= 0 && p.activation <= 7, "unknown activation code " << p.activation);
  if (p.activation == 7) quantized_activation_from<T>(data, p);
  if (dict_item(data, "weight_quant")) quantized_weights_from<T>(data, layers, p);
  if (learns_alpha(data)) learned_alpha_from<T>(data, p);
  OPTCORE_CHECK(p.net_loss >= 0 && p.net_loss <= 3, "unknown loss code " << p.net_loss);
  p.s_pos = get_scalar<T>(data, "s_pos");
  p.s_neg = get_scalar<T>(data, "s_neg");
  p.scale = get_scalar<T>(data, "scale");
  const std::int64_t params = MLP<T>::count_params(widths, layers, p.bias);
  const std::int64_t alphas = p.learn_alpha ? layers - 1 : 0;
  OPTCORE_CHECK(d == params + alphas, "the parameter vectors have " << d << " entries, the network has " << params
                                          << (alphas ? " and " + std::to_string(alphas) + " learned resolutions" : ""));
  const std::int64_t y_cols = p.net_loss == 0 ? widths[layers] : 1;
  OPTCORE_CHECK(p.net_loss == 0 || p.net_loss == 3 || widths[layers] == 1,
                "logistic and exponential losses need one output, got " << widths[layers]);
  if (has_entry(data, "param_group")) {  // a structured (masked / tied) network
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
  p.d = params;
}

}  // namespace optcore::bindings
