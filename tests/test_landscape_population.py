"""Closed-form population loss of two-layer ReLU nets (THEORY.md 1.6): against Monte Carlo, finite differences,
the global minimum, batching; bad input."""

import numpy as np
import pytest

from optcore.landscape import population as pop


@pytest.mark.parametrize("n,k,d", [(3, 2, 3), (4, 4, 4), (2, 5, 3)])
def test_closed_form_matches_monte_carlo(n, k, d):
    rng = np.random.default_rng(n * 100 + k * 10 + d)
    W, V = rng.standard_normal((n, d)), rng.standard_normal((k, d))
    mc, se = pop.monte_carlo_loss(W, V, samples=400_000, seed=1)
    assert abs(pop.loss(W, V) - mc) < 4.5 * se


def test_expectation_identities():
    """E[[w.x]+^2] = |w|^2/2 and g(w, v) at right angle = |w||v|/(2 pi)."""
    w = np.array([[3.0, 4.0]])
    assert pop.loss(w, np.zeros((1, 2))) == pytest.approx(0.5 * 25 / 2)
    # F(w; v) with w orthogonal to v: 1/2 (|w|^2/2 - 2 |w||v|/(2 pi) + |v|^2/2)
    v = np.array([[0.0, 2.0]])
    w = np.array([[1.5, 0.0]])
    expected = 0.5 * (1.5**2 / 2 - 2 * 1.5 * 2 / (2 * np.pi) + 4 / 2)
    assert pop.loss(w, v) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_and_hessian_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    n, k, d = 3, 2, 3
    W, V = rng.standard_normal((n, d)), rng.standard_normal((k, d))
    g, H = pop.gradient(W, V).ravel(), pop.hessian(W, V)
    h = 1e-6
    E = np.eye(n * d).reshape(n * d, n, d) * h
    fd_g = np.array([(pop.loss(W + e, V) - pop.loss(W - e, V)) / (2 * h) for e in E])
    fd_H = np.array([(pop.gradient(W + e, V) - pop.gradient(W - e, V)).ravel() / (2 * h) for e in E])
    assert g == pytest.approx(fd_g, abs=1e-8)
    assert H == pytest.approx(fd_H, abs=1e-7)
    assert np.abs(H - H.T).max() < 1e-13


def test_nearly_parallel_and_opposite_neurons():
    rng = np.random.default_rng(3)
    V = rng.standard_normal((2, 3))
    for eps in (1e-5, 1e-9):
        W = np.stack([V[0] * 1.3 + eps * rng.standard_normal(3), -V[1] * 0.7 + eps * rng.standard_normal(3)])
        H = pop.hessian(W, V)
        assert np.all(np.isfinite(H)) and np.abs(H - H.T).max() < 1e-12
        # continuity: the Hessian at the exactly parallel point is the limit
        W0 = np.stack([V[0] * 1.3, -V[1] * 0.7])
        assert H == pytest.approx(pop.hessian(W0, V), abs=1e-4)


def test_global_minimum_and_batching():
    k = 5
    V = np.eye(k)
    assert pop.loss(V.copy(), V) == pytest.approx(0.0, abs=1e-14)
    assert np.abs(pop.gradient(V[::-1].copy(), V)).max() < 1e-14  # any permutation is a global minimum
    assert np.linalg.eigvalsh(pop.hessian(V.copy(), V)).min() > 0.01  # strict for n = k
    rng = np.random.default_rng(4)
    Wb = rng.standard_normal((3, 2, 4, k))
    L, G, H = pop.loss(Wb, V), pop.gradient(Wb, V), pop.hessian(Wb, V)
    assert L.shape == (3, 2) and G.shape == (3, 2, 4, k) and H.shape == (3, 2, 4 * k, 4 * k)
    for i in range(3):
        for j in range(2):
            assert L[i, j] == pop.loss(Wb[i, j], V)
            assert np.array_equal(G[i, j], pop.gradient(Wb[i, j], V))
            assert np.allclose(H[i, j], pop.hessian(Wb[i, j], V), rtol=0, atol=1e-15)


def test_population_bad_input():
    V = np.eye(3)
    with pytest.raises(ValueError, match="nonzero"):
        pop.loss(np.zeros((2, 3)), V)
    with pytest.raises(ValueError, match="same input dimension"):
        pop.gradient(np.ones((2, 4)), V)
    with pytest.raises(ValueError, match="shape \\(..., n, d\\)"):
        pop.hessian(np.ones(3), V)
    with pytest.raises(ValueError, match="finite"):
        pop.loss(np.full((2, 3), np.nan), V)
    with pytest.raises(ValueError, match="ndim"):
        pop.loss(np.ones((2, 3)), np.ones(3))
    with pytest.raises(TypeError, match="real numeric"):
        pop.loss(np.ones((2, 3), dtype=complex), V)
    with pytest.raises(ValueError, match="one student"):
        pop.monte_carlo_loss(np.ones((2, 2, 3)), V)
