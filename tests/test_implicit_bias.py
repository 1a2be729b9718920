"""optcore.implicit_bias: the GD kernel against a NumPy reference, the predicted limits against THEORY.md 3.3-3.4."""

from __future__ import annotations

import numpy as np
import pytest
from linear_tensor_reference import reference_gd

from optcore.implicit_bias import (
    Convolutional,
    Diagonal,
    FullyConnected,
    Odeco,
    angle,
    direction_error,
    fourier_lp_margin,
    l2_max_margin,
    log_schedule,
    lp_margin_kkt_residual,
    lp_max_margin,
    min_l1_interpolant,
    min_l2_interpolant,
    normalized_error,
    run_gd,
    woodworth_minimizer,
    woodworth_potential,
)


def _odeco(L, d, seed=0):
    rng = np.random.default_rng(seed)
    m, k = d, d + 1
    S = np.linalg.qr(rng.standard_normal((d, d)))[0]
    U = np.stack([np.linalg.qr(rng.standard_normal((k, m)))[0] for _ in range(L)])
    return Odeco(S, U)


NETWORKS = {
    "fc1": lambda: FullyConnected(1, 5),
    "fc2": lambda: FullyConnected(2, 5, width=4),
    "fc3": lambda: FullyConnected(3, 5, width=3),
    "diag2": lambda: Diagonal(2, 5),
    "diag3_unsigned": lambda: Diagonal(3, 5, signed=False),
    "conv2": lambda: Convolutional(2, 5),
    "conv3": lambda: Convolutional(3, 5),
    "odeco3": lambda: _odeco(3, 5),
}


def _data(loss, n=4, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n) if loss == "squared" else np.sign(X @ rng.standard_normal(d))
    return X, y


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("loss", ["squared", "logistic", "exponential"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_matches_numpy_reference(name, loss, dtype):
    net = NETWORKS[name]()
    X, y = _data(loss)
    steps, etas, alphas = 60, np.array([0.05, 0.1]), np.array([0.7, 1.1])
    rec = np.array([0, 1, 7, 30, 60])
    res = run_gd(net, X, y, loss=loss, steps=steps, step_size=etas, alpha=alphas, record_at=rec, dtype=dtype, seed=3)
    theta0 = net.init(alphas, runs=2, seed=3)
    tol = 1e-12 if dtype == np.float64 else 2e-4
    assert res.beta.dtype == dtype and res.beta.shape == (2, rec.size, net.dim)
    assert np.all(res.diverged == -1)
    Xk = net.transform_inputs(X)
    for r in range(2):
        kwargs = {"S": net.S, "U": net.U} if name.startswith("odeco") else {}
        betas, losses, layers = reference_gd(
            net.kind, net.layers(theta0[r]), Xk, y, loss, etas[r], steps, rec, **kwargs
        )
        betas = net.reduce(betas)
        scale = np.abs(betas).max()
        assert np.abs(res.beta[r] - betas).max() <= tol * scale
        assert np.abs(res.loss[r] - losses).max() <= tol * np.abs(losses).max()
        final = np.concatenate([a.reshape(-1) for a in layers])
        assert np.abs(res.theta[r] - final).max() <= tol * np.abs(final).max()
        # and the NumPy beta of the final parameters agrees with the kernel's last record
        assert np.allclose(net.beta(res.theta[r].astype(float)), res.beta[r, -1], rtol=0, atol=10 * tol * scale)


def test_runs_are_independent_and_thread_count_free():
    X, y = _data("squared")
    net = Convolutional(3, 5)
    kw = dict(loss="squared", steps=200, step_size=[0.05, 0.04, 0.03], alpha=[0.5, 0.6, 0.7], seed=1)
    a = run_gd(net, X, y, threads=1, **kw)
    b = run_gd(net, X, y, threads=3, **kw)
    assert np.array_equal(a.beta, b.beta)
    alone = run_gd(
        net, X, y, loss="squared", steps=200, step_size=0.04, theta0=net.init([0.5, 0.6, 0.7], runs=3, seed=1)[1]
    )
    assert np.array_equal(alone.beta[0], a.beta[1])


def test_odeco_with_signed_identity_factors_is_the_signed_diagonal_net():
    X, y = _data("squared")
    d = 5
    S = np.vstack([np.eye(d), -np.eye(d)])
    U = np.stack([np.eye(2 * d)] * 2)
    a = run_gd(Odeco(S, U), X, y, loss="squared", steps=300, step_size=0.05, alpha=0.3)
    b = run_gd(Diagonal(2, d), X, y, loss="squared", steps=300, step_size=0.05, alpha=0.3)
    assert np.allclose(a.beta, b.beta, rtol=0, atol=1e-14)


# --- predictions -----------------------------------------------------------------------------------------------
def _sparse_regression(n=20, d=60, seed=1):
    # THEORY.md 3.4's instance
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta_star = np.zeros(d)
    beta_star[:3] = [1.0, -2.0, 1.5]
    return X, X @ beta_star, beta_star


def test_min_norm_interpolants_match_theory_numbers():
    X, y, beta_star = _sparse_regression()
    l1, l2 = min_l1_interpolant(X, y), min_l2_interpolant(X, y)
    assert np.allclose(l1, beta_star, atol=1e-9)
    assert np.abs(l2).sum() == pytest.approx(8.91, abs=0.01)
    assert np.linalg.norm(l2 - beta_star) == pytest.approx(2.17, abs=0.01)


@pytest.mark.parametrize(
    ("depth", "alpha", "to_l1", "to_l2"),
    [
        (2, 1e-3, 0.046, None),
        (2, 1e-2, 0.253, None),
        (2, 0.1, 1.056, None),
        (2, 0.5, None, 0.186),
        (3, 1e-2, 1.6e-4, None),
        (3, 0.1, 0.108, None),
        (3, 0.3, 1.021, None),
    ],
)
def test_woodworth_minimizer_reproduces_theory_gf_values(depth, alpha, to_l1, to_l2):
    X, y, beta_star = _sparse_regression()
    beta = woodworth_minimizer(X, y, alpha, depth)
    assert np.linalg.norm(X @ beta - y) <= 1e-10 * np.linalg.norm(y)
    if to_l1 is not None:
        assert np.linalg.norm(beta - beta_star) == pytest.approx(to_l1, rel=0.02)
    if to_l2 is not None:
        assert np.linalg.norm(beta - min_l2_interpolant(X, y)) == pytest.approx(to_l2, rel=0.02)


@pytest.mark.parametrize("depth", [2, 3])
def test_woodworth_minimizer_minimizes_the_potential(depth):
    X, y, _ = _sparse_regression(n=5, d=12, seed=4)
    alpha = 0.3
    beta = woodworth_minimizer(X, y, alpha, depth)
    q0 = woodworth_potential(beta, alpha, depth)
    null = np.linalg.svd(X)[2][X.shape[0] :]
    rng = np.random.default_rng(0)
    for _ in range(20):  # feasible perturbations never lower Q
        step = null.T @ rng.standard_normal(null.shape[0])
        assert woodworth_potential(beta + 1e-3 * step, alpha, depth) > q0


def test_diagonal_depth2_trend_between_l1_and_l2():
    """THEORY 3.4 / T7: GD's distance to min-l1 shrinks as alpha decreases; at large alpha GD is near min-l2."""
    X, y, beta_star = _sparse_regression()
    alphas = np.array([1e-3, 1e-2, 0.1, 0.5])
    res = run_gd(Diagonal(2, 60), X, y, loss="squared", steps=150000, step_size=0.05, alpha=alphas, record_at=[150000])
    beta = res.final_beta
    assert np.all(res.diverged == -1)
    assert np.max(res.loss[:, -1]) < 1e-7
    d_l1 = np.linalg.norm(beta - beta_star, axis=1)
    d_l2 = np.linalg.norm(beta - min_l2_interpolant(X, y), axis=1)
    assert np.all(np.diff(d_l1) > 0)
    assert d_l1[0] < 0.08  # 0.049 in THEORY 3.4
    assert d_l2[-1] < 0.25 and d_l2[-1] < d_l1[-1] / 5
    # and each run is close to its own gradient-flow prediction argmin Q_alpha
    for a, b in zip(alphas, beta, strict=False):
        pred = woodworth_minimizer(X, y, a, 2)
        assert normalized_error(b, pred) < 0.05


def _separable(n=8, d=6, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.sign(X @ rng.standard_normal(d))


def test_l2_max_margin_is_a_kkt_point():
    X, y = _separable()
    w = l2_max_margin(X, y)
    assert (y * (X @ w)).min() == pytest.approx(1.0, abs=1e-10)
    assert lp_margin_kkt_residual(w, X, y, 2.0) < 1e-8


@pytest.mark.parametrize("depth", [1, 2])
def test_logistic_gd_recovers_the_svm_direction(depth):
    X, y = _separable()
    svm = l2_max_margin(X, y)
    net = FullyConnected(depth, 6, width=6)
    res = run_gd(net, X, y, loss="logistic", steps=100000, step_size=0.5 if depth == 1 else 0.1, alpha=0.1, seed=2)
    err = direction_error(res.beta[0], svm)
    late = res.steps >= 100
    assert np.all(np.diff(err[late]) < 1e-12)  # monotone in the late phase
    assert err[-1] < 0.04
    # Soudry et al.: error ~ c / log t; c = err * log t stays bounded (varies < 2x over the last decades)
    c = err[late] * np.log(res.steps[late])
    assert c[-1] < c[np.searchsorted(res.steps[late], 1000)]


def test_diagonal_classification_tends_to_l1_margin_not_svm():
    X, y = _separable(n=6, d=10, seed=5)
    res = run_gd(Diagonal(2, 10), X, y, loss="exponential", steps=200000, step_size=0.1, alpha=0.05)
    l1 = lp_max_margin(X, y, 1.0)
    svm = l2_max_margin(X, y)
    assert direction_error(res.final_beta[0], l1) < 0.5 * direction_error(res.final_beta[0], svm)


def test_conv_net_fourier_prediction():
    """Depth-2 circular conv net on separable data: the DFT-l1 max-margin point, approached at 1/log t."""
    rng = np.random.default_rng(3)
    rng.standard_normal((8, 6)), rng.standard_normal(6)
    X = rng.standard_normal((5, 8))
    y = np.sign(X @ rng.standard_normal(8))
    pred = fourier_lp_margin(X, y, 1.0)
    res = run_gd(Convolutional(2, 8), X, y, loss="exponential", steps=300000, step_size=0.5, alpha=0.1, seed=1)

    def fourier_l1(b):
        margin = (y * (b @ X.T)).min(axis=-1, keepdims=True)
        return np.abs(np.fft.fft(b / margin, axis=-1)).sum(axis=-1)

    obj = fourier_l1(res.beta[0][res.steps >= 100])
    assert np.all(np.diff(obj) < 1e-9)  # the normalized DFT-l1 norm falls monotonically ...
    assert obj[-1] > fourier_l1(pred) - 1e-6  # ... towards the predicted optimum, never below it
    assert obj[-1] - fourier_l1(pred) < 0.05 * fourier_l1(pred)
    err = direction_error(res.beta[0], pred)
    assert err[-1] < 0.25 and err[-1] < err[res.steps >= 1000][0]
    # the predicted spectrum is sparse (two zero frequency pairs), the SVM's is dense
    spec = np.abs(np.fft.fft(pred)) / np.abs(np.fft.fft(pred)).max()
    assert np.sum(spec < 1e-6) >= 2
    assert np.all(np.abs(np.fft.fft(l2_max_margin(X, y))) > 1e-3)


def test_distances():
    a, b = np.array([1.0, 0.0]), np.array([1.0, 1.0])
    assert angle(a, b) == pytest.approx(np.pi / 4)
    assert direction_error(a, 3 * a) == pytest.approx(0.0)
    assert normalized_error(a, b) == pytest.approx(1 / np.sqrt(2))
    assert log_schedule(1000)[0] == 0 and log_schedule(1000)[-1] == 1000


# --- bad input ---------------------------------------------------------------------------------------------------
def test_bad_input():
    X, y = _data("squared")
    net = Diagonal(2, 5)
    ok = dict(loss="squared", steps=10, step_size=0.1, alpha=0.5)
    with pytest.raises(TypeError, match="network"):
        run_gd("diag", X, y, **ok)
    with pytest.raises(ValueError, match="columns"):
        run_gd(net, X[:, :4], y, **ok)
    with pytest.raises(ValueError, match="loss"):
        run_gd(net, X, y, **{**ok, "loss": "hinge"})
    with pytest.raises(ValueError, match="labels"):
        run_gd(net, X, y, **{**ok, "loss": "logistic"})
    with pytest.raises(ValueError, match="step_size"):
        run_gd(net, X, y, **{**ok, "step_size": -1.0})
    with pytest.raises(ValueError, match="alpha"):
        run_gd(net, X, y, **{**ok, "alpha": 0.0})
    with pytest.raises(ValueError, match="exactly one"):
        run_gd(net, X, y, **{**ok, "theta0": np.zeros(net.params)})
    with pytest.raises(ValueError, match="theta0"):
        run_gd(net, X, y, loss="squared", steps=10, step_size=0.1, theta0=np.zeros(3))
    with pytest.raises(ValueError, match="record_at"):
        run_gd(net, X, y, **ok, record_at=[0, 20])
    with pytest.raises(ValueError, match="record_at"):
        run_gd(net, X, y, **ok, record_at=[5, 5])
    with pytest.raises(ValueError, match="finite"):
        run_gd(net, np.full_like(X, np.nan), y, **ok)
    with pytest.raises(TypeError, match="dtype"):
        run_gd(net, X, y, **ok, dtype=np.int32)
    with pytest.raises(ValueError, match="width"):
        FullyConnected(2, 5)
    with pytest.raises(ValueError, match="depth"):
        Convolutional(0, 5)
    with pytest.raises(ValueError, match="orthonormal"):
        Odeco(np.eye(3), np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="separable"):
        l2_max_margin(np.array([[1.0], [1.0]]), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="p must"):
        lp_max_margin(X, np.sign(X[:, 0]), 3.0)
    with pytest.raises(ValueError, match="alpha"):
        woodworth_minimizer(X, y, -1.0)


def test_divergence_is_reported_not_hidden():
    X, y = _data("squared")
    res = run_gd(FullyConnected(3, 5, width=4), X, y, loss="squared", steps=500, step_size=50.0, alpha=3.0)
    assert res.diverged[0] > 0
    assert np.isnan(res.beta[0, -1]).all() and np.isnan(res.loss[0, -1])


def test_core_rejects_wrong_dtypes_and_shapes():
    from optcore import _core

    X, y = _data("squared")
    net = {"kind": "diagonal", "depth": 2, "dim": 5, "width": 0, "rank": 0, "factor": 0}
    data = {"X": X, "y": y}
    opts = {"loss": "squared", "steps": 3, "threads": 1, "record_at": np.array([0, 3]), "step_size": np.array([0.1])}
    with pytest.raises(TypeError):
        _core.linear_tensor_gd(net, data, np.zeros((1, 10), dtype=np.int64), opts)
    with pytest.raises(ValueError, match="parameters per run"):
        _core.linear_tensor_gd(net, data, np.zeros((1, 9)), opts)
    with pytest.raises(ValueError, match="unknown network kind"):
        _core.linear_tensor_gd({**net, "kind": "lstm"}, data, np.zeros((1, 10)), opts)
    with pytest.raises(ValueError, match="record_at"):
        _core.linear_tensor_gd(net, data, np.zeros((1, 10)), {**opts, "record_at": np.array([3, 0])})
    with pytest.raises(TypeError, match="float64"):
        _core.linear_tensor_gd(net, {"X": X.astype(np.float32), "y": y}, np.zeros((1, 10)), opts)


@pytest.mark.parametrize("network", ["fc", "diagonal", "conv"])
def test_experiments_run_small(network):
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from matplotlib import pyplot as plt

    from optcore.implicit_bias.studies_classification import figure_classification, run_classification
    from optcore.implicit_bias.studies_regression import figure_regression, run_regression, summarize_regression

    reg = run_regression(
        {"network": network, "depth": 2, "n": 4, "d": 7, "alpha_min": 0.1, "alpha_max": 1.0, "alphas": 2,
         "steps": 2000, "lr": 0.02},
        0,
    )
    assert len(reg) == 2 and all(r["diverged"] == 0 for r in reg)
    table = pd.DataFrame([{**r, "network": network, "depth": 2, "replicate": 0} for r in reg])
    assert len(summarize_regression(table)) == 2
    cls = run_classification(
        {"network": network, "depth": 2, "n": 4, "d": 6, "loss": "logistic", "alpha": 0.1, "steps": 500, "lr": 0.1},
        0,
    )
    assert cls[-1]["step"] == 500 and cls[-1]["direction_error"] < cls[0]["direction_error"]
    ctable = pd.DataFrame([{**r, "network": network, "depth": 2, "replicate": 0} for r in cls])
    for fig_fn, t in ((figure_regression, table), (figure_classification, ctable)):
        fig, ax = plt.subplots()
        fig_fn(t, ax)
        assert ax.get_xlabel() and ax.get_ylabel()
        plt.close(fig)


def test_odeco_regression_limit_is_woodworth_in_the_transformed_space():
    """S = [Q; -Q] (Q orthogonal), random orthogonal U_l, v_l(0) = alpha U_l 1: rho_+ - rho_- = argmin Q_alpha for
    the transformed inputs X Q^T, so beta = Q^T argmin Q_alpha (T-reg of THEORY.md 3.3 in its simplest case)."""
    rng = np.random.default_rng(7)
    n, d, alpha = 6, 10, 0.05
    X = rng.standard_normal((n, d))
    y = X @ np.r_[1.0, -1.0, np.zeros(d - 2)]
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    U = np.stack([np.linalg.qr(rng.standard_normal((2 * d, 2 * d)))[0] for _ in range(2)])
    net = Odeco(np.vstack([Q, -Q]), U)
    res = run_gd(net, X, y, loss="squared", steps=40000, step_size=0.05, alpha=alpha, record_at=[40000])
    assert res.loss[0, -1] < 1e-12
    gamma = woodworth_minimizer(X @ Q.T, y, alpha, 2)
    assert normalized_error(res.final_beta[0], Q.T @ gamma) < 0.02
    # and it is not the min-l2 interpolant
    assert normalized_error(res.final_beta[0], min_l2_interpolant(X, y)) > 0.1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_run_gd_never_writes_to_theta0(dtype):
    # the kernel updates theta in place; a float64 theta0 used to be that very array, returned as result.theta
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    net = Diagonal(2, 3)
    theta0 = np.ascontiguousarray(net.init([0.5, 0.7], runs=2, seed=1), dtype=dtype)
    before = theta0.copy()
    res = run_gd(net, X, y, loss="squared", steps=20, step_size=0.05, theta0=theta0, dtype=dtype)
    np.testing.assert_array_equal(theta0, before)
    assert not np.shares_memory(res.theta, theta0) and not np.array_equal(res.theta, before)
    # nor do the other result arrays alias the caller's
    record_at, etas = np.array([0, 5, 20], dtype=np.int64), np.array([0.05, 0.04])
    other = run_gd(net, X, y, loss="squared", steps=20, step_size=etas, theta0=theta0, record_at=record_at, dtype=dtype)
    assert not np.shares_memory(other.steps, record_at) and not np.shares_memory(other.meta["step_size"], etas)
    again = run_gd(net, X, y, loss="squared", steps=20, step_size=0.05, theta0=theta0, dtype=dtype)
    np.testing.assert_array_equal(again.theta, res.theta)


def test_run_gd_checks_values_in_its_dtype():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    ok = dict(loss="squared", steps=5, alpha=0.5, dtype=np.float32)
    with pytest.raises(ValueError, match="X must be finite in float32"):
        run_gd(Diagonal(2, 3), X * 1e39, y, step_size=0.1, **ok)
    with pytest.raises(ValueError, match="step_size must be finite in float32"):
        run_gd(Diagonal(2, 3), X, y, step_size=1e39, **ok)
    with pytest.raises(ValueError, match="step_size must be > 0 in float32"):
        run_gd(Diagonal(2, 3), X, y, step_size=1e-50, **ok)
    with pytest.raises(ValueError, match=r"steps must be <= 2\*\*63 - 1"):
        run_gd(Diagonal(2, 3), X, y, step_size=0.1, **{**ok, "steps": 2**64})
