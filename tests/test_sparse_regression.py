"""Sparse regression, n << d (RELATED.md section 1): the reparametrized model's C++ GD against NumPy and finite
differences, per-block step sizes, the estimators, and the acceptance tests ZG-1..ZG-5 (on instances other than
RELATED.md 1.4's, except where a test says so)."""

from __future__ import annotations

import numpy as np
import pytest

from optcore.implicit_bias import Diagonal, Reparametrized, min_l1_interpolant, min_l2_interpolant, run_gd
from optcore.implicit_bias.sparse_estimators import (
    hybrid_interpolant,
    lasso,
    lasso_support,
    omp_support,
    support_least_squares,
    train_to_interpolation,
    universal_penalty,
)
from optcore.implicit_bias.sparse_model import excess_risk, min_l2_risk, oracle_risk, sparse_instance


# --- an independent NumPy implementation of the reparametrized model ---------------------------------------------
def np_beta(terms, V):
    """beta = sum_t c_t prod_f V_f^{p_f}, written with explicit loops over terms and factors."""
    beta, f = np.zeros(V.shape[1]), 0
    for coef, powers in terms:
        prod = np.ones(V.shape[1])
        for p in powers:
            prod = prod * np.power(V[f], p)
            f += 1
        beta = beta + coef * prod
    return beta


def np_loss(terms, V, X, y):
    r = X @ np_beta(terms, V) - y
    return 0.5 * np.mean(r**2)


def np_grad(terms, V, X, y):
    """The chain rule with the product rule written out: dL/dV_f = g * c_t p_f V_f^(p_f - 1) prod_{o != f} V_o^p_o."""
    g = X.T @ (X @ np_beta(terms, V) - y) / X.shape[0]
    grads, f = [], 0
    for coef, powers in terms:
        idx = list(range(f, f + len(powers)))
        for k, fk in enumerate(idx):
            part = coef * powers[k] * np.power(V[fk], powers[k] - 1)
            for k2, fo in enumerate(idx):
                if fo != fk:
                    part = part * np.power(V[fo], powers[k2])
            grads.append(g * part)
        f += len(powers)
    return np.stack(grads)


def fd_grad(terms, V, X, y, h=1e-6):
    G = np.zeros_like(V)
    for idx in np.ndindex(V.shape):
        P, M = V.copy(), V.copy()
        P[idx] += h
        M[idx] -= h
        G[idx] = (np_loss(terms, P, X, y) - np_loss(terms, M, X, y)) / (2 * h)
    return G


def cpp_grad(net, theta, X, y, scale=None):
    """The C++ gradient from one GD step of step size 1: theta_1 = theta_0 - scale_b * grad."""
    res = run_gd(net, X, y, loss="squared", steps=1, step_size=1.0, theta0=theta, record_at=[0, 1],
                 block_step_scale=scale)
    step = theta - res.theta[0]
    if scale is not None:
        step = step / np.repeat(np.asarray(scale, dtype=float), net.dim)
    return step.reshape(net.depth, net.dim), res


MODELS = {
    "linear": ((1.0, (1,)),),
    "diagonal": ((1.0, (2,)), (-1.0, (2,))),
    "composite": ((1.0, (2,)), (-1.0, (2,)), (0.3, (1,))),
    "hadamard_cubic": ((0.7, (1, 1)), (-1.2, (3,)), (0.5, (2, 1, 1))),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradient_matches_numpy_and_finite_differences(name):
    """ZG-2 (and every other model): C++ gradient = NumPy product rule = central differences, d = 20."""
    terms = MODELS[name]
    rng = np.random.default_rng(3)
    n, d = 7, 20
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    net = Reparametrized(d, terms)
    V = 0.8 * rng.standard_normal((net.depth, d))
    got, res = cpp_grad(net, V.reshape(-1), X, y)
    ref = np_grad(terms, V, X, y)
    fd = fd_grad(terms, V, X, y)
    assert np.max(np.abs(got - ref)) <= 1e-13 * max(1.0, np.abs(ref).max())
    assert np.linalg.norm(ref - fd) / np.linalg.norm(ref) <= 1e-6  # ZG-2 criterion
    assert np.linalg.norm(got - fd) / np.linalg.norm(ref) <= 1e-6
    assert np.allclose(res.beta[0, 0], np_beta(terms, V), rtol=1e-14, atol=1e-14)
    assert np.isclose(res.loss[0, 0], np_loss(terms, V, X, y), rtol=1e-13)
    assert np.allclose(net.beta(V.reshape(-1)), np_beta(terms, V), rtol=1e-14, atol=1e-14)


def test_block_step_sizes_move_each_block_by_its_own_step():
    terms = MODELS["composite"]
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((6, 9)), rng.standard_normal(6)
    net = Reparametrized(9, terms)
    V = rng.standard_normal((3, 9))
    scale = np.array([0.5, 2.0, 7.0])
    res = run_gd(net, X, y, loss="squared", steps=1, step_size=0.1, theta0=V.reshape(-1), block_step_scale=scale)
    expected = V - 0.1 * scale[:, None] * np_grad(terms, V, X, y)
    assert np.allclose(res.theta[0].reshape(3, 9), expected, rtol=1e-14, atol=1e-15)
    # every other network gets per-block (per-layer) steps too: layer 2 of a depth-2 diagonal net frozen-ish
    diag = Diagonal(2, 9)
    r0 = run_gd(diag, X, y, loss="squared", steps=3, step_size=0.05, alpha=0.5, block_step_scale=[1.0, 1e-300])
    assert np.allclose(r0.theta[0, 18:], 0.5)
    assert not np.allclose(r0.theta[0, :18], 0.5)
    # a scale of 1 everywhere is bitwise the plain run
    a = run_gd(net, X, y, loss="squared", steps=50, step_size=0.01, alpha=0.3)
    b = run_gd(net, X, y, loss="squared", steps=50, step_size=0.01, alpha=0.3, block_step_scale=np.ones(3))
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.beta, b.beta)


def test_many_runs_threads_and_float32():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((8, 30)), rng.standard_normal(8)
    net = Reparametrized.composite(30, 0.2)
    scales = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 3.0], [0.5, 2.0, 1.0]])
    kw = dict(loss="squared", steps=300, step_size=[0.02, 0.03, 0.01], alpha=[0.1, 0.2, 0.05], block_step_scale=scales)
    one, two = run_gd(net, X, y, threads=1, **kw), run_gd(net, X, y, threads=2, **kw)
    assert np.array_equal(one.theta, two.theta) and np.array_equal(one.loss, two.loss)
    for r in range(3):  # each run equals the same run alone
        alone = run_gd(net, X, y, loss="squared", steps=300, step_size=kw["step_size"][r], alpha=kw["alpha"][r],
                       block_step_scale=scales[r])
        assert np.array_equal(alone.theta[0], one.theta[r])
    f32 = run_gd(net, X, y, dtype=np.float32, **kw)
    assert f32.theta.dtype == np.float32
    assert np.allclose(f32.theta, one.theta, rtol=1e-3, atol=1e-4)


def test_zg3_lambda_zero_is_the_diagonal_net_and_the_saddle_is_plain_gd():
    """ZG-3: lambda = 0 gives bitwise the iterates of w*w - u*u; w = u = 0 (exact saddle) gives GD on v -> beta_l2."""
    inst = sparse_instance(40, 300, 4, 0.3, 11)
    X, y = inst.X, inst.y
    steps = 400
    diag = run_gd(Reparametrized.diagonal(300), X, y, loss="squared", steps=steps, step_size=0.02, alpha=0.01)
    comp = run_gd(Reparametrized.composite(300, 0.0), X, y, loss="squared", steps=steps, step_size=0.02, alpha=0.01,
                  block_step_scale=[1.0, 1.0, 5.0])
    assert np.max(np.abs(comp.theta[0, :600] - diag.theta[0])) == 0.0
    assert np.array_equal(comp.beta, diag.beta)
    assert np.all(comp.theta[0, 600:] == 0.0)
    # optcore's Diagonal(2, d) (beta = v1+ v2+ - v1- v2-, layers started equal) is the same net with step 2 eta
    ref = run_gd(Diagonal(2, 300), X, y, loss="squared", steps=steps, step_size=0.04, alpha=0.01)
    assert np.max(np.abs(ref.final_beta - diag.final_beta)) <= 1e-12
    # the exact saddle: w = u = 0 stay 0, v follows GD on beta = lam v from 0 -> the min-l2 interpolant
    lam = 0.5
    theta0 = np.zeros(900)
    sad = run_gd(Reparametrized.composite(300, lam), X, y, loss="squared", steps=3000, step_size=0.01,
                 theta0=theta0, block_step_scale=[1.0, 1.0, 1.0 / lam**2], record_at=[3000])
    assert np.all(sad.theta[0, :600] == 0.0)
    assert np.linalg.norm(sad.final_beta[0] - min_l2_interpolant(X, y)) <= 1e-8


def _zg1(n, d, s, sigma):
    risks = []
    for seed in range(200):
        inst = sparse_instance(n, d, s, sigma, seed)
        risks.append(excess_risk(min_l2_interpolant(inst.X, inst.y), inst.beta_star))
    risks = np.array(risks)
    closed = min_l2_risk(n, d, s, sigma)
    se = risks.std(ddof=1) / np.sqrt(risks.size)
    assert abs(risks.mean() - closed) <= 3 * se, (risks.mean(), closed, se)
    return risks.mean(), closed


def test_zg1_min_l2_risk_closed_form():
    """ZG-1: the Monte Carlo mean of R(beta_l2) over 200 seeds is within 3 SE of the closed form (small instance)."""
    _, closed = _zg1(20, 150, 3, 0.7)
    assert closed == pytest.approx(3 * (1 - 20 / 150) + 0.49 * 20 / 129)


@pytest.mark.slow
def test_zg1_min_l2_risk_closed_form_related_md_setup():
    """ZG-1 on RELATED.md 1.4's setup (n = 50, d = 400, s = 5, sigma = 0.5; MC 4.419, closed form 4.411)."""
    mean, closed = _zg1(50, 400, 5, 0.5)
    assert closed == pytest.approx(4.411, abs=5e-4)


def test_zg1_reference_value_of_related_md():
    """RELATED.md 1.4's closed form 4.411 (n = 50, d = 400, s = 5, sigma = 0.5) and its oracle 0.0284."""
    assert min_l2_risk(50, 400, 5, 0.5) == pytest.approx(4.411, abs=5e-4)
    assert oracle_risk(50, 5, 0.5) == pytest.approx(0.0284, abs=5e-5)


def test_zg5_ordering_hybrid_l1_l2():
    """ZG-5: R(hybrid) < 0.2 R(min-l1) and R(min-l1) < 0.2 R(min-l2), mean over seeds 0-9 (another instance)."""
    n, d, s, sigma = 60, 500, 4, 0.4
    r = {"hybrid": [], "l1": [], "l2": []}
    for seed in range(10):
        inst = sparse_instance(n, d, s, sigma, seed)
        X, y = inst.X, inst.y
        r["hybrid"].append(excess_risk(hybrid_interpolant(X, y, inst.support), inst.beta_star))
        r["l1"].append(excess_risk(min_l1_interpolant(X, y), inst.beta_star))
        r["l2"].append(excess_risk(min_l2_interpolant(X, y), inst.beta_star))
    m = {k: float(np.mean(v)) for k, v in r.items()}
    assert m["hybrid"] < 0.2 * m["l1"] and m["l1"] < 0.2 * m["l2"], m


@pytest.mark.slow
def test_zg5_ordering_on_related_md_setup():
    """ZG-5 on RELATED.md 1.4's setup itself (means there: 0.066 / 0.436 / 4.38)."""
    r = {"hybrid": [], "l1": [], "l2": []}
    for seed in range(10):
        inst = sparse_instance(50, 400, 5, 0.5, seed)
        X, y = inst.X, inst.y
        r["hybrid"].append(excess_risk(hybrid_interpolant(X, y, inst.support), inst.beta_star))
        r["l1"].append(excess_risk(min_l1_interpolant(X, y), inst.beta_star))
        r["l2"].append(excess_risk(min_l2_interpolant(X, y), inst.beta_star))
    m = {k: float(np.mean(v)) for k, v in r.items()}
    assert m["hybrid"] < 0.2 * m["l1"] and m["l1"] < 0.2 * m["l2"], m


def _zg4(n, d, s, seed, alphas, lr, steps):
    inst = sparse_instance(n, d, s, 0.0, seed)
    bp = min_l1_interpolant(inst.X, inst.y)
    res = run_gd(Reparametrized.diagonal(d), inst.X, inst.y, loss="squared", steps=steps, step_size=lr,
                 alpha=np.array(alphas), record_at=[steps])
    return np.linalg.norm(bp - inst.beta_star), np.linalg.norm(res.final_beta - inst.beta_star, axis=1)


def test_zg4_noiseless_diagonal_net_small_instance():
    """ZG-4 (fast instance): basis pursuit recovers beta*; the diagonal net's error grows with alpha."""
    bp_err, err = _zg4(30, 120, 3, 2, [1e-6, 1e-4, 1e-2], 0.02, 40_000)
    assert bp_err <= 1e-9
    assert err[0] <= 0.02 and err[0] < err[1] < err[2], err


@pytest.mark.slow
def test_zg4_noiseless_diagonal_net_related_md_sizes():
    """ZG-4 at RELATED.md 1.4's sizes (n = 50, d = 400, s = 5), seed 0, lr 0.01, 2e5 steps."""
    bp_err, err = _zg4(50, 400, 5, 0, [1e-6, 1e-4, 1e-3], 0.01, 200_000)
    assert bp_err <= 1e-9
    assert err[0] <= 0.02 and err[0] < err[1] < err[2], err


def test_estimators():
    inst = sparse_instance(30, 80, 3, 0.2, 7)
    X, y = inst.X, inst.y
    # support least squares = lstsq on the columns; the hybrid interpolates and equals beta_S + min-l2 residual fit
    S = np.array([0, 1, 2, 10])
    bS = support_least_squares(X, y, S)
    assert np.allclose(bS[S], np.linalg.lstsq(X[:, S], y, rcond=None)[0]) and np.all(np.delete(bS, S) == 0)
    h = hybrid_interpolant(X, y, S)
    assert np.allclose(X @ h, y, atol=1e-10)
    assert np.allclose(h - bS, np.linalg.pinv(X) @ (y - X @ bS), atol=1e-10)
    assert np.allclose(hybrid_interpolant(X, y, []), min_l2_interpolant(X, y), atol=1e-12)
    # OMP finds the true support on this easy instance; the Lasso's support contains it (plus false positives)
    assert np.array_equal(omp_support(X, y, 3), inst.support)
    assert set(inst.support) <= set(lasso_support(X, y, universal_penalty(30, 80, 0.2)))
    # the Lasso solves its KKT conditions: X^T (y - X b)/n = pen sign(b) on the support, |.| <= pen off it
    pen = 0.05
    b = lasso(X, y, pen)
    corr = X.T @ (y - X @ b) / 30
    on = b != 0
    assert np.allclose(corr[on], pen * np.sign(b[on]), atol=1e-7) and np.all(np.abs(corr[~on]) <= pen + 1e-7)


def test_train_to_interpolation_stops_at_tolerance_and_matches_one_long_run():
    inst = sparse_instance(20, 60, 2, 0.1, 1)
    net = Reparametrized.diagonal(60)
    out = train_to_interpolation(net, inst.X, inst.y, step_size=0.05, alpha=[0.1, 0.01], tol=1e-10, chunk=500)
    assert np.all(out.converged) and np.all(out.train_mse < 1e-10)
    assert np.all(out.steps % 500 == 0)
    for r, a in enumerate([0.1, 0.01]):
        one = run_gd(net, inst.X, inst.y, loss="squared", steps=int(out.steps[r]), step_size=0.05, alpha=a)
        assert np.array_equal(one.theta[0], out.theta[r])
    short = train_to_interpolation(net, inst.X, inst.y, step_size=0.05, alpha=1e-3, tol=1e-14, max_steps=100)
    assert not short.converged[0] and short.steps[0] == 100


def test_sparse_instance_and_risk():
    a, b = sparse_instance(10, 30, 3, 0.5, 4), sparse_instance(10, 30, 3, 0.5, 4)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((10, 30))
    assert np.array_equal(a.X, X) and np.allclose(a.noise, 0.5 * rng.standard_normal(10))
    assert np.array_equal(a.support, [0, 1, 2]) and np.allclose(a.y, X @ a.beta_star + a.noise)
    assert excess_risk(a.beta_star + 0.5, a.beta_star) == pytest.approx(30 * 0.25)
    assert np.allclose(excess_risk(np.zeros((2, 30)), a.beta_star), [3.0, 3.0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sparse_instance(10, 30, 3, -0.1, 0), "sigma"),
        (lambda: sparse_instance(10, 30, 31, 0.1, 0), "s must be <= 30"),
        (lambda: sparse_instance(10, 30, -1, 0.1, 0), "s must be >= 0"),
        (lambda: sparse_instance(0, 30, 1, 0.1, 0), "n must be"),
        (lambda: min_l2_risk(50, 51, 5.0, 0.5), "d must be >= 52"),
        (lambda: min_l2_risk(50, 400, -1.0, 0.5), "signal_norm2"),
        (lambda: min_l2_risk(50, 400, 5.0, -0.5), "sigma"),
        (lambda: oracle_risk(6, 5, 0.5), "n must be >= 7"),
        (lambda: excess_risk(np.zeros(4), np.zeros(5)), "beta must have last dimension 5"),
        (lambda: hybrid_interpolant(np.ones((3, 5)), np.ones(4), [0]), r"y must have shape \(3,\)"),
        (lambda: support_least_squares(np.ones((3, 5)), np.ones(3), [7]), "support"),
        (lambda: support_least_squares(np.eye(3, 5), np.ones(3), [0, 0]), "support must not repeat"),
        (lambda: support_least_squares(np.eye(3, 5), np.ones(3), [0, 1, 2, 3]), "support must have at most"),
        (lambda: omp_support(np.eye(3, 5), np.ones(3), 4), "s must be <= 3"),
        (lambda: lasso(np.eye(3, 5), np.ones(3), 0.0), "penalty"),
        (lambda: universal_penalty(10, 30, 0.0), "sigma"),
        (lambda: Reparametrized(5, []), "terms"),
        (lambda: Reparametrized(5, [(1.0, (0,))]), r"terms\[0\] powers"),
        (lambda: Reparametrized(5, [(1.0, (2.5,))]), r"terms\[0\] powers"),
        (lambda: Reparametrized(5, [(np.inf, (1,))]), r"terms\[0\] coefficient"),
        (lambda: Reparametrized(5, [(1.0, (1,))], init=(1.0, 2.0)), "init must have one value per factor"),
        (lambda: Reparametrized(0, [(1.0, (1,))]), "dim"),
        (lambda: Reparametrized.diagonal(5, power=0), "power"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_step_sizes_and_shapes_in_gd():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 6)), rng.standard_normal(4)
    net = Reparametrized.composite(6, 0.5)
    kw = dict(loss="squared", steps=3, alpha=0.1)
    with pytest.raises(ValueError, match="step_size must be > 0"):
        run_gd(net, X, y, step_size=0.0, **kw)
    with pytest.raises(ValueError, match="block_step_scale must be > 0"):
        run_gd(net, X, y, step_size=0.1, block_step_scale=[1.0, 0.0, 1.0], **kw)
    with pytest.raises(ValueError, match="block_step_scale must be > 0"):
        run_gd(net, X, y, step_size=0.1, block_step_scale=[1.0, -1.0, 1.0], **kw)
    with pytest.raises(ValueError, match=r"block_step_scale must have shape \(3,\)"):
        run_gd(net, X, y, step_size=0.1, block_step_scale=[1.0, 1.0], **kw)
    with pytest.raises(ValueError, match="block_step_scale"):
        run_gd(net, X, y, step_size=0.1, block_step_scale=[1.0, np.nan, 1.0], **kw)
    with pytest.raises(ValueError, match="X must have 6 columns"):
        run_gd(net, X[:, :5], y, step_size=0.1, **kw)
    with pytest.raises(ValueError, match="y"):
        run_gd(net, X, y[:3], step_size=0.1, **kw)
    with pytest.raises(ValueError, match=r"theta0 must have shape \(1, 18\)"):
        run_gd(net, X, y, loss="squared", steps=3, step_size=0.1, theta0=np.zeros(17))
    with pytest.raises(ValueError, match="tol"):
        train_to_interpolation(net, X, y, step_size=0.1, alpha=0.1, tol=0.0)
    with pytest.raises(ValueError, match="max_steps"):
        train_to_interpolation(net, X, y, step_size=0.1, alpha=0.1, max_steps=0)
    with pytest.raises(FloatingPointError, match="diverged"):
        train_to_interpolation(net, X * 1e3, y, step_size=10.0, alpha=1.0, max_steps=50, chunk=50)
