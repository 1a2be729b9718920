"""optcore.spectrum on many networks at once (HessianBatch): each network's result equals the network's alone.

R networks of one architecture on the same data go through ``from_mlp(mlp, params (R, P), X, Y)``; every routine
runs one copy per network in lockstep with one C++ product call per round. Trace, density and Lanczos run the
same code as for one operator, so they must agree bit for bit; eigenpairs use Lanczos with full
reorthogonalization instead of ARPACK and must agree with eigsh and numpy's eigh to 1e-10.
"""

import numpy as np
import pytest

from optcore import MLP, spectrum

R = 3


def _nets(activation, loss, seed=0, widths=(4, 6, 5, 3), n=30):
    rng = np.random.default_rng(seed)
    mlp = MLP(list(widths), activation=activation, loss=loss)
    params = mlp.init(R, seed=seed)
    X = rng.standard_normal((n, widths[0]))
    Y = rng.standard_normal((n, widths[-1])) if loss == "squared" else rng.integers(0, widths[-1], n).astype(float)
    return mlp, params, X, Y


NETS = [(act, loss) for act in ("relu", "tanh") for loss in ("squared", "softmax_ce")]


def _counting(batch):
    """Count the backend calls a batch makes (one per round, whatever R)."""
    calls = []
    apply = batch._apply

    def counted(networks, V):
        calls.append(len(set(networks.tolist())))
        return apply(networks, V)

    batch._apply = counted
    return calls


@pytest.mark.parametrize("activation,loss", NETS)
@pytest.mark.parametrize("which", ["largest", "smallest", "magnitude"])
def test_eigenpairs_of_many_networks_equal_each_alone(activation, loss, which):
    mlp, params, X, Y = _nets(activation, loss)
    batch = spectrum.from_mlp(mlp, params, X, Y)
    assert isinstance(batch, spectrum.HessianBatch) and len(batch) == R
    H = batch.dense()
    assert np.array_equal(H, mlp.hessian(params, X, Y))
    k = 3
    calls = _counting(batch)
    together = spectrum.eigenpairs(batch, k, which=which)
    assert len(calls) <= max(r.n_hvp for r in together) and max(calls) == R  # one call per step, all networks
    for r in range(R):
        alone = spectrum.eigenpairs(spectrum.from_mlp(mlp, params[r : r + 1], X, Y), k, which=which)[0]
        assert np.array_equal(together[r].values, alone.values) and np.array_equal(together[r].vectors, alone.vectors)
        assert together[r].n_hvp == alone.n_hvp
        # against ARPACK on the single operator and numpy's eigh of the dense Hessian
        w, V = np.linalg.eigh(H[r])
        order = {"largest": np.argsort(w)[::-1], "smallest": np.argsort(w), "magnitude": np.argsort(np.abs(w))[::-1]}
        scale = np.abs(w).max()
        arpack = spectrum.eigenpairs(spectrum.from_mlp(mlp, params[r], X, Y), k, which=which)
        assert np.abs(together[r].values - arpack.values).max() <= 1e-10 * scale
        assert np.abs(together[r].values - w[order[which][:k]]).max() <= 1e-10 * scale
        for j in range(k):
            ref = V[:, order[which][j]]
            ref = ref * np.sign(ref[np.argmax(np.abs(ref))])
            assert np.linalg.norm(together[r].vectors[:, j] - ref) <= 1e-10 * 1e3  # error ~ eps |H| / gap
        assert together[r].residuals.max() <= 1e-10 * scale
    sharp = spectrum.sharpness(batch)
    assert sharp.shape == (R,)
    np.testing.assert_array_equal(sharp, [spectrum.sharpness(spectrum.from_mlp(mlp, p[None], X, Y))[0] for p in params])
    np.testing.assert_allclose(sharp, [spectrum.sharpness(batch[r]) for r in range(R)], rtol=1e-8)  # ARPACK


@pytest.mark.parametrize("method", ["hutch++", "hutchinson"])
def test_trace_of_many_networks_equals_each_alone_bit_for_bit(method):
    mlp, params, X, Y = _nets("relu", "softmax_ce", seed=1)
    batch = spectrum.from_mlp(mlp, params, X, Y)
    calls = _counting(batch)
    together = spectrum.trace(batch, method=method, rtol=0.05, sketch=4, seed=3)
    alone = [
        spectrum.trace(spectrum.from_mlp(mlp, p, X, Y), method=method, rtol=0.05, sketch=4, seed=3) for p in params
    ]
    for t, a in zip(together, alone, strict=True):
        assert (t.value, t.low, t.high, t.n_hvp, t.converged) == (a.value, a.low, a.high, a.n_hvp, a.converged)
        assert np.array_equal(t.samples, a.samples)
    rounds = [a.samples.size for a in alone]
    assert len(calls) < sum(max(1, -(-n // 10)) for n in rounds)  # fewer calls than the networks one by one
    exact = np.trace(batch.dense(), axis1=1, axis2=2)
    assert all(t.low <= e <= t.high or abs(t.value - e) <= 0.1 * abs(e) for t, e in zip(together, exact, strict=True))


def test_density_and_lanczos_of_many_networks_equal_each_alone():
    mlp, params, X, Y = _nets("tanh", "squared", seed=2)
    batch = spectrum.from_mlp(mlp, params, X, Y)
    together = spectrum.density(batch, n_vectors=4, steps=15, seed=5)
    for r, d in enumerate(together):
        a = spectrum.density(spectrum.from_mlp(mlp, params[r], X, Y), n_vectors=4, steps=15, seed=5)
        assert np.array_equal(d.density, a.density) and np.array_equal(d.grid, a.grid) and d.n_hvp == a.n_hvp
        assert all(np.array_equal(x, y) for x, y in zip(d.nodes, a.nodes, strict=True))
        H = batch.dense()[r]
        m2, se2 = d.moment(2)
        assert abs(m2 - np.trace(H @ H) / batch.dim) <= 5 * se2
    start = np.random.default_rng(0).standard_normal((R, batch.dim))
    runs = spectrum.lanczos(batch, start, 10)
    for r, run in enumerate(runs):
        alone = spectrum.lanczos(spectrum.from_mlp(mlp, params[r], X, Y), start[r], 10)
        assert np.array_equal(run.alpha, alone.alpha) and np.array_equal(run.basis, alone.basis)


def test_user_batch_finds_repeated_eigenvalues_and_names_failures():
    """A HessianBatch from any batched product; Lanczos goes on past an invariant subspace, so an eigenvalue of
    multiplicity 3 is found 3 times; a network that does not converge or misbehaves is named."""
    P = 30
    rng = np.random.default_rng(0)
    U = np.linalg.qr(rng.standard_normal((P, P)))[0]
    D = np.array([np.r_[2, 2, 2, 1, 1, np.zeros(P - 5)], np.linspace(-1, 1, P)])
    H = np.einsum("ij,rj,kj->rik", U, D, U)
    batch = spectrum.HessianBatch(lambda n, V: np.einsum("bij,bj->bi", H[n], V), P, 2)
    top = spectrum.eigenpairs(batch, 3)
    np.testing.assert_allclose(top[0].values, [2, 2, 2], rtol=1e-12)
    np.testing.assert_allclose(top[1].values, [1, 1 - 2 / 29, 1 - 4 / 29], rtol=1e-12)
    np.testing.assert_allclose(spectrum.eigenpairs(batch, 2, which="smallest")[1].values, [-1, -1 + 2 / 29], rtol=1e-12)
    with pytest.raises(ValueError, match="network 1: eigenpairs did not converge in max_steps = 20"):
        spectrum.eigenpairs(batch, 3, max_steps=20)
    with pytest.raises(ValueError, match="max_steps"):
        spectrum.eigenpairs(batch, 3, max_steps=5)  # below the least the solver explores

    skew = H.copy()
    skew[1, 0, 1] += 1.0
    with pytest.raises(ValueError, match="not symmetric for network 1"):
        spectrum.HessianBatch(lambda n, V: np.einsum("bij,bj->bi", skew[n], V), P, 2)
    nan = spectrum.HessianBatch(
        lambda n, V: np.where((n == 1)[:, None] & (V[:, :1] > 0), np.nan, np.einsum("bij,bj->bi", H[n], V)),
        P, 2, symmetry_rtol=None,
    )
    with pytest.raises(ValueError, match=r"non-finite values \(NaN or inf\) for network\(s\) \[1\]"):
        spectrum.trace(nan)


def test_bad_input_for_many_networks():
    mlp, params, X, Y = _nets("relu", "squared")
    with pytest.raises(ValueError, match=r"params must have shape \(83,\) or \(R, 83\)"):
        spectrum.from_mlp(mlp, params[:, :-1], X, Y)
    with pytest.raises(ValueError, match="R >= 1"):
        spectrum.from_mlp(mlp, params[:0], X, Y)
    batch = spectrum.from_mlp(mlp, params, X, Y)
    with pytest.raises(ValueError, match="k must be smaller"):
        spectrum.eigenpairs(batch, batch.dim)
    with pytest.raises(ValueError, match=r"start must have shape \(83,\) or \(3, 83\)"):
        spectrum.lanczos(batch, np.ones((2, batch.dim)), 5)
    with pytest.raises(ValueError, match="one vector per network"):
        batch.matvec(np.ones(batch.dim))
    with pytest.raises(ValueError, match=r"networks must be indices in \[0, 3\)"):
        batch.apply([3], np.ones((1, batch.dim)))
    with pytest.raises(TypeError, match="HessianOperator or a HessianBatch"):
        spectrum.trace(np.eye(3))
    assert np.array_equal(batch.matvec(np.ones((R, batch.dim))), mlp.hvp(params, X, Y, np.ones((R, batch.dim))))
