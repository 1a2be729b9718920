"""optcore.spectrum on optcore MLPs and user callables: eigenpairs, trace intervals, SLQ moments, bad input."""

import numpy as np
import pytest

from optcore import MLP, spectrum


def _net(activation, loss, seed=0, widths=(4, 6, 5, 3), n=30):
    rng = np.random.default_rng(seed)
    mlp = MLP(list(widths), activation=activation, loss=loss)
    p = mlp.init(1, seed=seed)[0]
    X = rng.standard_normal((n, widths[0]))
    Y = rng.standard_normal((n, widths[-1])) if loss == "squared" else rng.integers(0, widths[-1], n).astype(float)
    return mlp, p, X, Y


NETS = [(a, l) for a in ("relu", "tanh") for l in ("squared", "softmax_ce")]


@pytest.mark.parametrize("activation,loss", NETS)
@pytest.mark.parametrize("which", ["largest", "smallest", "magnitude"])
def test_eigenpairs_match_numpy_eigh(activation, loss, which):
    mlp, p, X, Y = _net(activation, loss)
    op = spectrum.from_mlp(mlp, p, X, Y)
    H = op.dense()
    assert np.array_equal(H, mlp.hessian(p, X, Y))
    w, V = np.linalg.eigh(H)
    order = {"largest": np.argsort(w)[::-1], "smallest": np.argsort(w), "magnitude": np.argsort(np.abs(w))[::-1]}[which]
    k = 3
    res = spectrum.eigenpairs(op, k, which=which)
    scale = np.abs(w).max()
    assert np.abs(res.values - w[order[:k]]).max() <= 1e-10 * scale
    for j in range(k):
        ref = V[:, order[j]]
        ref = ref * np.sign(ref[np.argmax(np.abs(ref))])
        assert np.linalg.norm(res.vectors[:, j] - ref) <= 1e-10 * 1e3  # eigenvector error ~ eps |H| / gap
        assert res.residuals[j] <= 1e-10 * scale
    assert res.n_hvp > 0


@pytest.mark.parametrize("method", ["hutchinson", "hutch++"])
@pytest.mark.parametrize(
    "activation,loss", [("relu", "squared"), pytest.param("tanh", "softmax_ce", marks=pytest.mark.slow)]
)
def test_trace_interval_covers_the_exact_trace(method, activation, loss):
    """95% intervals with the stopping rule active: at least 90 of 100 seeded repetitions cover tr H."""
    mlp, p, X, Y = _net(activation, loss, seed=1)
    op = spectrum.from_mlp(mlp, p, X, Y)
    exact = np.trace(op.dense())
    covered, hvps = 0, []
    for seed in range(100):
        t = spectrum.trace(op, method=method, rtol=0.1, sketch=4, seed=seed)
        covered += t.low <= exact <= t.high
        hvps.append(t.n_hvp)
        assert t.converged and t.half_width <= 0.1 * abs(t.value) + 1e-15
    assert covered >= 90, covered


def test_trace_reaches_one_percent_and_is_exact_with_a_full_sketch():
    mlp, p, X, Y = _net("relu", "squared", seed=1)
    op = spectrum.from_mlp(mlp, p, X, Y)
    exact = np.trace(op.dense())
    t = spectrum.trace(op, rtol=0.01, max_hvp=5000)
    assert t.converged and abs(t.value - exact) <= 0.02 * abs(exact)
    full = spectrum.trace(op, sketch=op.dim)
    assert full.value == pytest.approx(exact, rel=1e-12) and full.low == full.high
    budget = spectrum.trace(op, method="hutchinson", rtol=1e-6, max_hvp=40)
    assert not budget.converged and budget.n_hvp == 40


@pytest.mark.parametrize("activation,loss", NETS)
def test_slq_moments(activation, loss):
    mlp, p, X, Y = _net(activation, loss, seed=2)
    op = spectrum.from_mlp(mlp, p, X, Y)
    H = op.dense()
    P = op.dim
    d = spectrum.density(op, n_vectors=30, steps=12, seed=5)
    # per vector, Gauss quadrature is exact for degree <= 2m - 1: sum w theta^k = q^T H^k q (checked for the first)
    q = np.random.default_rng([5, 0x51C]).integers(0, 2, size=P) * 2.0 - 1.0
    q /= np.linalg.norm(q)
    for k in (1, 2, 3):
        quad = np.sum(d.weights[0] * d.nodes[0] ** k)
        assert quad == pytest.approx(q @ np.linalg.matrix_power(H, k) @ q, rel=1e-9, abs=1e-12)
    for k, exact in ((1, np.trace(H) / P), (2, np.sum(H * H) / P)):
        est, se = d.moment(k)
        assert abs(est - exact) <= 4 * se, (k, est, exact, se)
    assert all(w.sum() == pytest.approx(1.0) for w in d.weights)
    assert np.trapezoid(d.density, d.grid) == pytest.approx(1.0, rel=1e-3)
    assert d.n_hvp <= 30 * 12


def test_lanczos_exhausts_the_krylov_space_and_is_then_exact():
    rng = np.random.default_rng(0)
    w = np.repeat([-1.0, 0.5, 2.0], 10)  # three distinct eigenvalues: the Krylov space has dimension 3
    Qm = np.linalg.qr(rng.standard_normal((30, 30)))[0]
    H = (Qm * w) @ Qm.T
    op = spectrum.from_callable(lambda v: H @ v, 30)
    lz = spectrum.lanczos(op, rng.standard_normal(30), 20)
    assert lz.alpha.size == 3
    assert np.sort(lz.quadrature()[0]) == pytest.approx([-1.0, 0.5, 2.0], abs=1e-12)


def test_callable_operator_and_dense():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((12, 12))
    H = A + A.T
    op = spectrum.from_callable(lambda v: H @ v, 12)
    assert np.allclose(op.dense(), H, atol=0)
    w = np.linalg.eigvalsh(H)
    assert spectrum.eigenpairs(op, 2, vectors=False).values == pytest.approx(w[::-1][:2], rel=1e-12)
    assert spectrum.sharpness(op) == pytest.approx(w[-1], rel=1e-8)


def test_bad_input():
    H = np.diag(np.arange(1.0, 6.0))
    op = spectrum.from_callable(lambda v: H @ v, 5)
    with pytest.raises(ValueError, match="k must be smaller than the dimension P = 5"):
        spectrum.eigenpairs(op, 5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        spectrum.eigenpairs(op, 0)
    with pytest.raises(ValueError, match="which must be one of"):
        spectrum.eigenpairs(op, 1, which="biggest")
    A = np.triu(np.ones((5, 5)))
    with pytest.raises(ValueError, match="hvp is not symmetric"):
        spectrum.from_callable(lambda v: A @ v, 5)
    with pytest.raises(ValueError, match="non-finite"):
        spectrum.from_callable(lambda v: v * np.nan, 5)
    calls = []

    def late_nan(v):  # finite for the symmetry probe, NaN afterwards: caught at the product, not in the answer
        calls.append(1)
        return H @ v if len(calls) <= 2 else np.full(5, np.nan)

    op_nan = spectrum.from_callable(late_nan, 5)
    for fn in (lambda: spectrum.eigenpairs(op_nan, 1), lambda: spectrum.trace(op_nan), lambda: spectrum.density(op_nan)):
        with pytest.raises(ValueError, match="non-finite"):
            fn()
    with pytest.raises(ValueError, match="shape"):
        spectrum.from_callable(lambda v: v[:3], 5)
    with pytest.raises(TypeError, match="HessianOperator"):
        spectrum.trace(H)
    with pytest.raises(TypeError, match="hvp must be callable"):
        spectrum.from_callable(3, 5)
    with pytest.raises(ValueError, match="confidence"):
        spectrum.trace(op, confidence=1.5)
    with pytest.raises(ValueError, match="method must be one of"):
        spectrum.trace(op, method="exact")
    mlp, p, X, Y = _net("relu", "squared")
    with pytest.raises(ValueError, match="X must have 4 columns"):
        spectrum.from_mlp(mlp, p, X[:, :3], Y)
    with pytest.raises(ValueError, match="float64"):
        spectrum.from_mlp(MLP([2, 3, 1], dtype=np.float32), np.zeros(13), X[:, :2], Y[:, :1])


def test_importing_optcore_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, optcore, optcore.spectrum; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
