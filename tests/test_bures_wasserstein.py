"""Deep linear generators with the Bures-Wasserstein loss: RELATED.md 2.6 acceptance tests BW-1..BW-7.

Every native result is checked against an independent NumPy implementation written here (eigen-square-root form of
the loss, inverse square roots for the gradient, explicit products for the chain rule) and against central
differences; the closed-form critical points against RELATED.md 2.3 and the fixture numbers of 2.4, and on other
instances (random targets of other dimensions and spectra).
"""

import itertools

import numpy as np
import pytest

from optcore.implicit_bias import bures_wasserstein as bw
from optcore.sgd import DivergenceWarning

# --- independent NumPy reference ----------------------------------------------------------------------------------


def np_sqrtm(M):
    w, V = np.linalg.eigh(0.5 * (M + M.T))
    return (V * np.sqrt(np.clip(w, 0, None))) @ V.T


def np_inv_sqrtm(M):
    w, V = np.linalg.eigh(0.5 * (M + M.T))
    return (V / np.sqrt(w)) @ V.T


def np_bw_loss(W, S0, tau):
    """The eigen-square-root form: tr(S + tau I) + tr S0 - 2 tr (R0 (S + tau I) R0)^{1/2}."""
    d = S0.shape[0]
    R0 = np_sqrtm(S0)
    S = W @ W.T + tau * np.eye(d)
    return np.trace(S) + np.trace(S0) - 2 * np.trace(np_sqrtm(R0 @ S @ R0))


def np_bw_grad(W, S0, tau, k=None):
    R0 = np_sqrtm(S0)
    if tau > 0:
        M = R0 @ W @ W.T @ R0 + tau * S0
        return 2 * (W - R0 @ np_inv_sqrtm(M) @ R0 @ W)
    U, s, Vt = np.linalg.svd(R0 @ W, full_matrices=False)
    k = s.size if k is None else k
    return 2 * (W - R0 @ U[:, :k] @ Vt[:k])


def np_bw_loss_nuclear(W, S0, tau):
    """The nuclear form with LAPACK's SVD (accurate at rank-deficient W, unlike the eigen-square-root form)."""
    d = S0.shape[0]
    R0 = np_sqrtm(S0)
    s = np.linalg.svd(np.hstack([R0 @ W, np.sqrt(tau) * R0]), compute_uv=False)
    return np.sum(W * W) + tau * d + np.trace(S0) - 2 * s.sum()


def np_square(W, S0):
    E = W @ W.T - S0
    return np.sum(E * E), 4 * E @ W


def np_layer_grads(layers, G):
    """grad W_i = B_i^T G F_i^T with explicit products F_i = W_{i-1}..W_1, B_i = W_N..W_{i+1}."""
    out = []
    for i in range(len(layers)):
        F = np.eye(layers[0].shape[1])
        for L in layers[:i]:
            F = L @ F
        B = np.eye(layers[-1].shape[0])
        for L in layers[i + 1 :][::-1]:
            B = B @ L
        out.append(B.T @ G @ F.T)
    return np.concatenate([g.ravel() for g in out])


def central_diff(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-300)


# --- instances ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_target():
    """RELATED.md 2.4: Q = qr(default_rng(0) 5x5).Q, lambda = (5, 3, 2, 1, 0.5)."""
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))[0]
    return bw.Target.from_covariance(Q @ np.diag([5.0, 3, 2, 1, 0.5]) @ Q.T)


def other_target(d, seed, low=0.3, high=4.0):
    """A random target of another dimension and spectrum than the fixture."""
    rng = np.random.default_rng(seed)
    lam = np.sort(rng.uniform(low, high, d))[::-1]
    return bw.Target.from_spectrum(lam, seed=seed + 100)


def random_theta(gen, seed, scale=0.8):
    return bw.init_normal(gen, seed=seed, scale=scale)[0]


# --- BW-1: nuclear form vs eigen-square-root form --------------------------------------------------------------------


@pytest.mark.parametrize("which", ["fixture", "other"])
def test_bw1_loss_forms(which, fixture_target):
    tgt = fixture_target if which == "fixture" else other_target(7, 1)
    d = tgt.dim
    rng = np.random.default_rng(3)
    W = rng.standard_normal((d, d))
    assert abs(bw.bures_wasserstein_loss(W, tgt) - np_bw_loss(W, tgt.covariance, 0.0)) <= 1e-12 * max(
        1.0, np_bw_loss(W, tgt.covariance, 0.0)
    )
    # rank-3 W: the eigen-square-root form loses accuracy, the nuclear form does not
    W3 = rng.standard_normal((d, 3)) @ rng.standard_normal((3, d))
    assert abs(bw.bures_wasserstein_loss(W3, tgt) - np_bw_loss(W3, tgt.covariance, 0.0)) <= 1e-6
    for tau in (0.1, 0.3):
        assert bw.bures_wasserstein_loss(W, tgt, tau=tau) == pytest.approx(np_bw_loss(W, tgt.covariance, tau), rel=1e-12)


def test_bw1_rank_deficient_minimizer_is_exact(fixture_target):
    """At the rank-3 minimizer the nuclear form gives L* = 1.5 to rounding (the eigen-sqrt form ~2e-7 off)."""
    Wstar = bw.factor(bw.minimizer(fixture_target, 3).covariance, 5)
    assert abs(bw.bures_wasserstein_loss(Wstar, fixture_target) - 1.5) <= 1e-12


def test_distance_of_covariances_matches_reference():
    tgt = other_target(6, 2)
    S = other_target(6, 3).covariance
    assert bw.bures_wasserstein_distance(S, tgt) == pytest.approx(np_bw_loss(np_sqrtm(S), tgt.covariance, 0), rel=1e-12)
    assert bw.bures_wasserstein_distance(tgt.covariance, tgt) == pytest.approx(0.0, abs=1e-12)


# --- BW-2: gradients -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("which", ["fixture", "other"])
def test_bw2_end_to_end_gradient(tau, which, fixture_target):
    tgt = fixture_target if which == "fixture" else other_target(6, 4)
    d = tgt.dim
    dz = d if which == "fixture" else 4  # a wide and a square W
    W = np.random.default_rng(5).standard_normal((d, dz))
    G = bw.bures_wasserstein_gradient(W, tgt, tau=tau)
    fd = central_diff(lambda w: bw.bures_wasserstein_loss(w.reshape(d, dz), tgt, tau=tau), W.ravel()).reshape(d, dz)
    assert rel(G, fd) <= 1e-6
    assert rel(G, np_bw_grad(W, tgt.covariance, tau)) <= 1e-10


@pytest.mark.parametrize("tau", [0.0, 0.1, 0.3])
@pytest.mark.parametrize(
    "widths,which", [((5, 4, 3, 5), "fixture"), ((3, 6, 2, 4, 6), "other"), ((8, 5, 6), "other")]
)
def test_bw2_layer_gradients(tau, widths, which, fixture_target):
    tgt = fixture_target if which == "fixture" else other_target(widths[-1], 6)
    gen = bw.LinearGenerator(widths)
    theta = random_theta(gen, 7)
    loss, grad = bw.evaluate(gen, tgt, theta, tau=tau)
    fd = central_diff(lambda t: bw.generator_loss(gen, tgt, t, tau=tau), theta)
    assert rel(grad, fd) <= 1e-6
    W = gen.end_to_end(theta)
    # the eigen-square-root reference itself loses ~1e-8 at tau = 0 and rank-deficient W (BW-1)
    assert loss == pytest.approx(np_bw_loss(W, tgt.covariance, tau), rel=1e-9 if tau > 0 else 1e-6)
    G = np_bw_grad(W, tgt.covariance, tau, k=gen.rank_bound)
    assert rel(grad, np_layer_grads(gen.layers(theta), G)) <= 1e-8


@pytest.mark.parametrize("widths", [(5, 5), (4, 3, 5), (5, 4, 6, 5)])
def test_square_loss_and_gradient(widths):
    tgt = other_target(widths[-1], 8)
    gen = bw.LinearGenerator(widths)
    theta = random_theta(gen, 9)
    loss, grad = bw.evaluate(gen, tgt, theta, loss="square")
    ref_loss, G = np_square(gen.end_to_end(theta), tgt.covariance)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert rel(grad, np_layer_grads(gen.layers(theta), G)) <= 1e-12
    fd = central_diff(lambda t: bw.generator_loss(gen, tgt, t, loss="square"), theta)
    assert rel(grad, fd) <= 1e-6


def test_many_points_per_call_match_single_calls():
    tgt = other_target(5, 10)
    gen = bw.LinearGenerator((5, 3, 5))
    thetas = bw.init_normal(gen, runs=6, seed=11)
    losses, grads = bw.evaluate(gen, tgt, thetas, tau=0.2, threads=2)
    for r in range(6):
        l1, g1 = bw.evaluate(gen, tgt, thetas[r], tau=0.2, threads=1)
        assert l1 == losses[r] and np.array_equal(g1, grads[r])


# --- BW-3 and BW-4: closed-form critical points ----------------------------------------------------------------------


@pytest.mark.parametrize("tau,expected", [(0.0, 1.5), (0.1, 0.6203308725), (0.3, 0.2299582157)])
def test_bw3_fixture_optimal_loss(tau, expected, fixture_target):
    assert bw.optimal_loss(fixture_target, 3, tau=tau) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("tau", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("widths,which", [((5, 3, 5), "fixture"), ((5, 4, 3, 4, 5), "fixture"), ((6, 2, 4, 7), "other")])
def test_bw3_minimizer_is_critical_with_the_formula_loss(tau, widths, which, fixture_target):
    tgt = fixture_target if which == "fixture" else other_target(widths[-1], 12)
    gen = bw.LinearGenerator(widths)
    k = gen.rank_bound
    star = bw.minimizer(tgt, k, tau=tau)
    lam = tgt.eigenvalues
    assert star.loss == pytest.approx(np.sum((np.sqrt(lam[k:]) - np.sqrt(tau)) ** 2), abs=1e-12)
    theta = bw.balanced_layers(gen, bw.factor(star.covariance, gen.dz, seed=1))
    loss, grad = bw.evaluate(gen, tgt, theta, tau=tau)
    assert abs(loss - star.loss) <= 1e-10
    assert np.linalg.norm(grad) <= 1e-12


@pytest.mark.parametrize("which", ["fixture", "other"])
def test_bw4_every_index_set_is_critical(which, fixture_target):
    tgt = fixture_target if which == "fixture" else other_target(6, 13)
    tau = 0.1
    gen = bw.LinearGenerator((tgt.dim, 3, tgt.dim))
    points = bw.critical_points(tgt, 3, tau=tau)
    n = tgt.dim
    assert len(points) == sum(len(list(itertools.combinations(range(n), s))) for s in (1, 2, 3))
    if which == "fixture":
        assert len(points) == 25
    thetas = np.stack([bw.balanced_layers(gen, bw.factor(p.covariance, gen.dz)) for p in points])
    losses, grads = bw.evaluate(gen, tgt, thetas, tau=tau)
    lam = tgt.eigenvalues
    for p, loss, g in zip(points, losses, grads, strict=True):
        rest = [i for i in range(n) if i not in p.support]
        formula = np.sum((np.sqrt(lam[rest]) - np.sqrt(tau)) ** 2)
        assert abs(p.loss - formula) <= 1e-12
        assert abs(loss - formula) <= 1e-10
        assert np.linalg.norm(g) <= 1e-12
    # the global minimum is the top-3 set
    assert min(points, key=lambda p: p.loss).support == (0, 1, 2)


# --- BW-5: deep GD reaches the minimizer -----------------------------------------------------------------------------


def fixture_init(gen):
    """RELATED.md 2.4: balanced layers from W = 0.7 N(0, 1) (default_rng(1)), cut to rank k."""
    W = 0.7 * np.random.default_rng(1).standard_normal((gen.dx, gen.dz))
    U, s, Vt = np.linalg.svd(W)
    k = gen.rank_bound
    return bw.balanced_layers(gen, (U[:, :k] * s[:k]) @ Vt[:k])


@pytest.mark.parametrize("widths", [(5, 3, 5), (5, 4, 3, 4, 5)])
@pytest.mark.parametrize("tau", [0.1, 0.3])
def test_bw5_deep_gd_converges_fixture(widths, tau, fixture_target):
    gen = bw.LinearGenerator(widths)
    res = bw.run_generator_gd(gen, fixture_target, fixture_init(gen), steps=20000, step_size=1e-2, tau=tau)
    k = gen.rank_bound
    star = bw.optimal_loss(fixture_target, k, tau=tau)
    assert abs(res.loss[0, -1] - star) <= 1e-9
    eig = res.eigenvalues()[0, -1]
    np.testing.assert_allclose(eig[:k], fixture_target.eigenvalues[:k] - tau, atol=1e-6)
    np.testing.assert_allclose(eig[k:], 0, atol=1e-10)
    assert np.all(np.diff(res.loss[0]) <= 1e-12)  # monotone at this step size


@pytest.mark.slow
@pytest.mark.parametrize("widths", [(6, 4, 6), (5, 4, 3, 4, 6), (8, 8, 2, 8, 6)])
@pytest.mark.parametrize("init", ["balanced", "normal", "close"])
def test_bw5_deep_gd_converges_other(widths, init):
    tgt = other_target(widths[-1], 14, low=0.5)
    gen = bw.LinearGenerator(widths)
    tau = 0.2
    k = gen.rank_bound
    if init == "close" and bw.optimal_loss(tgt, k, tau=tau) >= tgt.eigenvalues[k - 1]:
        # c = sqrt(lambda_k) - sqrt(L(0)) > 0 is impossible when L* >= lambda_k: refused, not an endless loop
        with pytest.raises(ValueError, match="no initialization with c > 0"):
            bw.initialize(gen, init, target=tgt, tau=tau, runs=1, seed=2)
        return
    theta0 = bw.initialize(gen, init, target=tgt, tau=tau, runs=3, seed=2)
    res = bw.run_generator_gd(gen, tgt, theta0, steps=40000, step_size=5e-3, tau=tau)
    assert np.all(np.abs(res.loss[:, -1] - bw.optimal_loss(tgt, k, tau=tau)) <= 1e-9)
    np.testing.assert_allclose(res.eigenvalues()[:, -1, :k], np.tile(tgt.eigenvalues[:k] - tau, (3, 1)), atol=1e-6)


def test_gd_matches_numpy_loop():
    """A few GD steps in C++ against the same steps with the NumPy reference gradient."""
    tgt = other_target(4, 15)
    gen = bw.LinearGenerator((3, 5, 4))
    theta = random_theta(gen, 16)
    for tau in (0.0, 0.2):
        res = bw.run_generator_gd(gen, tgt, theta, steps=20, step_size=0.01, tau=tau, record_at=np.arange(21))
        t = theta.copy()
        for step in range(21):
            W = gen.end_to_end(t)
            assert res.loss[0, step] == pytest.approx(np_bw_loss_nuclear(W, tgt.covariance, tau), rel=1e-12)
            np.testing.assert_allclose(res.end_to_end[0, step], W, rtol=0, atol=1e-12)
            t = t - 0.01 * np_layer_grads(gen.layers(t), np_bw_grad(W, tgt.covariance, tau, k=gen.rank_bound))


def test_gd_is_deterministic_over_threads_and_batches():
    tgt = other_target(5, 17)
    gen = bw.LinearGenerator((5, 4, 4, 5))
    th = bw.init_balanced(gen, runs=5, seed=3)
    a = bw.run_generator_gd(gen, tgt, th, steps=300, step_size=[1e-2, 2e-2, 1e-2, 5e-3, 1e-2], tau=0.1, threads=1)
    b = bw.run_generator_gd(gen, tgt, th, steps=300, step_size=[1e-2, 2e-2, 1e-2, 5e-3, 1e-2], tau=0.1, threads=2)
    c = bw.run_generator_gd(gen, tgt, th[3:4], steps=300, step_size=5e-3, tau=0.1)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.loss, b.loss)
    assert np.array_equal(a.theta[3], c.theta[0])


# --- BW-6: balance drift is O(step) ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["fixture", "other"])
def test_bw6_balance_drift_halves_with_the_step(which, fixture_target):
    tgt = fixture_target if which == "fixture" else other_target(6, 18)
    gen = bw.LinearGenerator((5, 3, 5) if which == "fixture" else (6, 4, 3, 6))
    theta0 = fixture_init(gen) if which == "fixture" else bw.init_balanced(gen, seed=4, scale=0.7)[0]
    drifts = []
    for lr in (2e-2, 1e-2, 5e-3):
        steps = round(100 / lr)  # time 100
        res = bw.run_generator_gd(gen, tgt, theta0, steps=steps, step_size=lr, tau=0.1, record_at=[0, steps])
        assert res.drift[0, 0] == 0.0
        drifts.append(res.drift[0, -1])
    assert 1.8 <= drifts[0] / drifts[1] <= 2.2
    assert 1.8 <= drifts[1] / drifts[2] <= 2.2


def test_drift_matches_numpy(fixture_target):
    gen = bw.LinearGenerator((5, 4, 3, 5))
    th = random_theta(gen, 19)
    res = bw.run_generator_gd(gen, fixture_target, th, steps=50, step_size=1e-2, tau=0.1, record_at=[0, 50])
    d0, d1 = gen.balance(th), gen.balance(res.theta[0])
    ref = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(d0, d1, strict=True)))
    assert res.drift[0, -1] == pytest.approx(ref, rel=1e-10)


# --- BW-7: step-size constants ---------------------------------------------------------------------------------------


def test_bw7_step_size_formulas():
    tgt = other_target(5, 20)
    lam = tgt.eigenvalues
    N, k, L0, tau = 3, 3, 0.02, 0.1
    b = bw.step_size_bound(tgt, depth=N, rank=k, loss0=L0, tau=tau)
    c = np.sqrt(lam[k - 1]) - np.sqrt(L0)
    C0 = 2 * (L0 + lam.sum())
    M = np.sqrt(C0)
    Delta = 2 ** (N + 1) * N**2 * M ** ((4 * N - 3) / N) * np.sqrt(lam[0]) / c ** (2 * N) + 8 * N * (N - 1) * M ** (
        (3 * N - 4) / N
    ) * (M ** (1 / N) + lam.sum())
    expected = {
        "c": c,
        "C0": C0,
        "eta1": c**2 / (8 * M * np.sqrt(L0)),
        "eta2": N * c ** (2 * (N - 1) / N) / (2 * Delta),
        "eta3": 1 / (4 * N * c ** (2 * (N - 1) / N)),
        "K": np.sqrt(tau * lam[-1]) / (2 * C0**2),
    }
    for name, value in expected.items():
        assert getattr(b, name) == pytest.approx(value, rel=1e-13), name
    assert b.eta == min(b.eta1, b.eta2, b.eta3)
    assert b.rate == pytest.approx(8 * N * c ** (2 * (2 * N - 1) / N) * b.K, rel=1e-13)
    with pytest.raises(ValueError, match="c = sqrt"):
        bw.step_size_bound(tgt, depth=N, rank=k, loss0=10 * lam[k - 1], tau=tau)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("which", ["fixture", "other"])
def test_bw7_loss_non_increasing_at_the_bound(depth, which, fixture_target):
    tgt = fixture_target if which == "fixture" else other_target(6, 21)
    d = tgt.dim
    gen = bw.LinearGenerator((d,) + (4,) * (depth - 1) + (d,))
    tau = 0.1
    theta0 = bw.init_close(gen, tgt, tau=tau, seed=5)
    L0 = bw.generator_loss(gen, tgt, theta0[0], tau=tau)
    b = bw.step_size_bound(tgt, depth=depth, rank=gen.rank_bound, loss0=L0, tau=tau)
    assert b.c > 0 and 0 < b.eta < 1e-4  # the certified step is tiny (RELATED.md: ~1e-9 to 1e-11 at d = 5)
    res = bw.run_generator_gd(gen, tgt, theta0, steps=10000, step_size=b.eta, tau=tau, record_at=np.arange(0, 10001, 50))
    assert np.all(np.diff(res.loss[0]) <= 1e-13 * L0)
    assert res.loss[0, -1] <= L0


# --- initializations -------------------------------------------------------------------------------------------------


def test_initializations(fixture_target):
    gen = bw.LinearGenerator((5, 4, 3, 4, 5))
    for th in (bw.init_balanced(gen, runs=3, seed=1), bw.init_close(gen, fixture_target, tau=0.1, runs=3, seed=1)):
        for t in th:
            for D in gen.balance(t):
                assert np.abs(D).max() <= 1e-12  # balanced
    close = bw.init_close(gen, fixture_target, tau=0.1, runs=3, seed=1)
    lk = fixture_target.eigenvalues[2]
    for t in close:
        assert np.sqrt(lk) - np.sqrt(bw.generator_loss(gen, fixture_target, t, tau=0.1)) > 0
    a = bw.init_normal(gen, runs=4, seed=2)
    assert np.array_equal(a[2], bw.init_normal(gen, runs=3, seed=2)[2])  # a run's draw ignores the others


# --- Hessians --------------------------------------------------------------------------------------------------------


def test_hessian_matches_square_loss_closed_form():
    tgt = other_target(4, 22)
    gen = bw.LinearGenerator((3, 4))
    theta = random_theta(gen, 23)
    H = bw.hessian(gen, tgt, theta, loss="square")
    # exact Hessian of |W W^T - S0|^2 in W (row-major vec) from the NumPy gradient by complex-free differences
    def g(t):
        return np_square(t.reshape(4, 3), tgt.covariance)[1].ravel()

    ref = np.stack([(g(theta + 1e-6 * e) - g(theta - 1e-6 * e)) / 2e-6 for e in np.eye(12)])
    np.testing.assert_allclose(H, 0.5 * (ref + ref.T), atol=1e-6 * np.abs(ref).max())
    op = bw.hessian_operator(gen, tgt, theta, loss="square")
    v = np.random.default_rng(0).standard_normal(12)
    np.testing.assert_allclose(op.matvec(v), H @ v, atol=1e-6 * np.abs(H).max() * np.linalg.norm(v))


# --- bad input -------------------------------------------------------------------------------------------------------


def test_bad_input_names_the_argument(fixture_target):
    gen = bw.LinearGenerator((5, 3, 5))
    th = bw.init_normal(gen)
    S = fixture_target.covariance
    with pytest.raises(ValueError, match="target must be symmetric"):
        bw.evaluate(gen, S + np.triu(np.ones((5, 5)), 1), th)
    with pytest.raises(ValueError, match="target must be positive semidefinite"):
        bw.run_generator_gd(gen, S - 2 * np.eye(5), th, steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="target must be a square"):
        bw.evaluate(gen, np.ones((5, 4)), th)
    with pytest.raises(ValueError, match="covariance must be positive semidefinite"):
        bw.bures_wasserstein_distance(-np.eye(5), S)
    with pytest.raises(ValueError, match="target must be finite"):
        bw.evaluate(gen, np.full((5, 5), np.nan), th)
    with pytest.raises(ValueError, match="rank must be in"):
        bw.critical_points(S, 6)
    with pytest.raises(ValueError, match="rank must be >= 0"):
        bw.optimal_loss(S, -1)
    with pytest.raises(ValueError, match="rank must be <= 5"):
        bw.step_size_bound(S, depth=2, rank=6, loss0=0.1)
    with pytest.raises(ValueError, match="tau must be a finite number >= 0"):
        bw.evaluate(gen, S, th, tau=-0.1)
    with pytest.raises(ValueError, match="tau must be a finite number >= 0"):
        bw.run_generator_gd(gen, S, th, steps=1, step_size=0.1, tau=-1)
    with pytest.raises(ValueError, match="tau must be a finite number >= 0"):
        bw.minimizer(S, 3, tau=-1)
    with pytest.raises(ValueError, match="target has dimension 5, but the generator's output width d_N is 6"):
        bw.evaluate(bw.LinearGenerator((5, 6)), S, np.zeros(30))
    with pytest.raises(ValueError, match="theta0 must have 30 parameters"):
        bw.run_generator_gd(gen, S, np.zeros(31), steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="theta must have 30 parameters"):
        bw.evaluate(gen, S, np.zeros((2, 29)))
    with pytest.raises(ValueError, match="W must have 5 rows"):
        bw.bures_wasserstein_loss(np.ones((4, 5)), S)
    with pytest.raises(ValueError, match="step_size must be > 0"):
        bw.run_generator_gd(gen, S, th, steps=1, step_size=0.0)
    with pytest.raises(ValueError, match="step_size must be > 0"):
        bw.run_generator_gd(gen, S, np.vstack([th, th]), steps=1, step_size=[0.1, -0.1])
    with pytest.raises(ValueError, match=r"step_size must be a scalar or have shape \(1,\)"):
        bw.run_generator_gd(gen, S, th, steps=1, step_size=[0.1, 0.1])
    with pytest.raises(ValueError, match="steps must be >= 0"):
        bw.run_generator_gd(gen, S, th, steps=-1, step_size=0.1)
    with pytest.raises(ValueError, match=r"widths\[1\] must be >= 1"):
        bw.LinearGenerator((5, 0, 5))
    with pytest.raises(ValueError, match="widths must be a sequence"):
        bw.LinearGenerator((5,))
    with pytest.raises(ValueError, match="loss must be one of"):
        bw.evaluate(gen, S, th, loss="kl")
    with pytest.raises(ValueError, match="support must index eigenvalues > tau"):
        bw.critical_point(S, [4], tau=0.6)


def test_divergence_is_reported(fixture_target):
    gen = bw.LinearGenerator((5, 5, 5))
    with pytest.warns(DivergenceWarning, match="1 of 1 runs diverged"):
        res = bw.run_generator_gd(gen, fixture_target, bw.init_normal(gen), steps=2000, step_size=5.0,
                                  loss="square")
    assert res.diverged[0] >= 0 and np.isnan(res.loss[0, -1])
