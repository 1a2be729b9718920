"""optcore.dynamics: THEORY.md 5.2's checks on bias-free ReLU nets (T11) and the digits study."""

from __future__ import annotations

import numpy as np
import pytest

from optcore.dynamics import layer_norms, normalized_outputs, run_normalized_dynamics
from optcore.dynamics.digits import normalize_layers, run_digits, summarize_digits
from optcore.dynamics.studies import xor_like_data
from optcore.nn import MLP


def test_one_gd_step_changes_rho_k_squared_differences_by_eta_squared_gradient_norms():
    """Homogeneity: <W_k, grad_k L> is the same for every layer, so only the eta^2 terms change rho_k^2 - rho_j^2."""
    X, y = xor_like_data(20, 3, 0)
    eta = 0.05
    dyn = run_normalized_dynamics(X, y, hidden=(6, 5), steps=5, step_size=eta, record_every=1, seed=2)
    mlp = dyn.mlp
    for k in range(5):
        p0, p1 = dyn.params[0, k], dyn.params[0, k + 1]
        _, grad = mlp.loss_and_grad(p0, X, y)
        g_norms = np.array([np.linalg.norm(G) ** 2 for G, _ in mlp.unpack(np.asarray(grad).reshape(-1))])
        w_dot_g = np.array(
            [
                np.sum(W * G)
                for (W, _), (G, _) in zip(mlp.unpack(p0), mlp.unpack(np.asarray(grad).reshape(-1)), strict=False)
            ]
        )
        assert np.allclose(w_dot_g, w_dot_g[0], rtol=1e-10)
        change = layer_norms(mlp, p1) ** 2 - layer_norms(mlp, p0) ** 2
        assert np.allclose(change - change[0], eta**2 * (g_norms - g_norms[0]), rtol=1e-8, atol=1e-14)


def test_conservation_drift_is_order_step_size():
    X, y = xor_like_data(30, 3, 1)
    drifts = []
    for eta in (0.02, 0.01, 0.005):
        dyn = run_normalized_dynamics(X, y, hidden=(8, 8), steps=int(round(40 / eta)), step_size=eta, seed=3)
        drifts.append(dyn.conservation_drift()[0])
    # halving eta about halves the drift over the same time span (the ratio tends to 2 as eta -> 0)
    ratios = np.array(drifts[:-1]) / np.array(drifts[1:])
    assert np.all((ratios > 1.7) & (ratios < 2.7))
    assert ratios[1] < ratios[0]


def test_rho_grows_like_log_t_and_margin_increases_late():
    X, y = xor_like_data(30, 3, 0)
    dyn = run_normalized_dynamics(X, y, hidden=(8, 8), steps=20000, step_size=0.04, record_every=200, seed=1)
    t = dyn.steps.astype(float)
    late = t >= t[-1] / 2
    assert dyn.loss[0, -1] < 1.0 / len(y)  # every example classified with margin > 0
    slope, intercept = np.polyfit(np.log(t[late]), dyn.rho[0, late], 1)
    fit = intercept + slope * np.log(t[late])
    r2 = 1 - np.sum((dyn.rho[0, late] - fit) ** 2) / np.sum((dyn.rho[0, late] - dyn.rho[0, late].mean()) ** 2)
    assert slope > 0 and r2 > 0.99
    assert np.all(np.diff(dyn.margin[0, late]) >= -1e-12)
    # the normalized margin is the margin of the unit-norm net
    v = normalized_outputs(dyn.mlp, dyn.params[0, -1], X)[:, 0]
    assert np.min(y * v) == pytest.approx(dyn.margin[0, -1], rel=1e-10)


def test_normalize_layers_gives_unit_frobenius_layers():
    mlp = MLP([4, 5, 3], activation="relu", bias=False, loss="softmax_ce")
    v = normalize_layers(mlp, mlp.init(1, scale=3.0)[0])
    assert np.allclose(layer_norms(mlp, v), 1.0)


def test_digits_study_small():
    pytest.importorskip("sklearn")
    rows = run_digits(
        {
            "corruption": 0.5,
            "nets": 2,
            "scale_min": 1.0,
            "scale_max": 2.0,
            "width": 16,
            "pretrain_epochs": 2,
            "epochs": 10,
            "lr": 0.1,
            "split_seed": 0,
        },
        0,
    )
    assert len(rows) == 2
    for r in rows:
        assert 0 <= r["test_error"] < 0.2 and r["train_accuracy"] > 0.9
        # unit-norm layers give small outputs, so the normalized cross-entropy sits just below log(10)
        assert np.log(10) - 0.2 < r["normalized_test_loss"] <= np.log(10) + 1e-6
    import pandas as pd

    table = pd.DataFrame([{**r, "corruption": 0.5} for r in rows])
    assert set(summarize_digits(table)["losses"]) == {"normalized", "unnormalized"}


def test_bad_input():
    X, y = xor_like_data(10, 3, 0)
    with pytest.raises(ValueError, match="step_size"):
        run_normalized_dynamics(X, y, steps=10, step_size=-1.0)
    with pytest.raises(ValueError, match="steps"):
        run_normalized_dynamics(X, y, steps=0, step_size=0.1)
    with pytest.raises(ValueError, match="labels"):
        run_normalized_dynamics(X, np.zeros(10), steps=10, step_size=0.1)
    with pytest.raises(ValueError, match="bias-free"):
        layer_norms(MLP([3, 4, 1], bias=True), np.zeros(MLP([3, 4, 1], bias=True).n_params))
    with pytest.raises(TypeError, match="MLP"):
        layer_norms("net", np.zeros(3))


def test_dynamics_experiment_small():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from matplotlib import pyplot as plt

    from optcore.dynamics.studies import figure_dynamics, run_dynamics, summarize_dynamics

    rows = []
    for eta in (0.04, 0.02):
        cfg = {"eta": eta, "time": 20.0, "n": 20, "d": 3, "width": 6, "init_scale": 1.0, "instance": 0}
        rows += [{**r, "eta": eta, "instance": 0, "replicate": 0} for r in run_dynamics(cfg, 0)]
    s = summarize_dynamics(pd.DataFrame(rows))
    assert list(s["eta"]) == [0.02, 0.04]
    assert s["drift"].iloc[1] > s["drift"].iloc[0] > 0
    fig, ax = plt.subplots()
    figure_dynamics(pd.DataFrame(rows), ax)
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)
