"""Loss-surface views and the deep-linear classifier: interpolation, filter-normalized directions, planes, PCA
planes with projection errors, Lanczos extremes against the dense Hessian, Theorem 4; bad input."""

import numpy as np
import pytest

from optcore import experiments as ex
from optcore.landscape import classify_deep_linear, least_squares_l0
from optcore.landscape.slices import (
    filter_normalized_direction,
    hessian_extremes,
    interpolate,
    mlp_hvp,
    pca_plane,
    plane,
)
from optcore.nn import MLP


@pytest.fixture(scope="module")
def small_net():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    mlp = MLP([3, 5, 1], activation="tanh")
    return mlp, mlp.init(1, seed=2)[0], X, y


def test_interpolate_and_plane(small_net):
    mlp, p, X, y = small_net
    q = p + 0.3
    loss = lambda t: mlp.loss_value(t, X, y)  # noqa: E731
    ts, f = interpolate(loss, p, q, ts=[0.0, 0.5, 1.0])
    assert f[0] == pytest.approx(loss(p[None])[0], rel=1e-14) and f[2] == pytest.approx(loss(q[None])[0], rel=1e-14)
    assert f[1] == pytest.approx(loss(0.5 * (p + q)[None])[0], rel=1e-14)
    d1 = filter_normalized_direction(mlp, p, seed=1)
    d2 = filter_normalized_direction(mlp, p, seed=2)
    pl = plane(loss, p, d1, d2, span=0.5, resolution=5)
    assert pl.losses.shape == (5, 5)
    assert pl.losses[2, 2] == pytest.approx(loss(p[None])[0], rel=1e-14)
    assert pl.losses[4, 0] == pytest.approx(loss((p + 0.5 * d1 - 0.5 * d2)[None])[0], rel=1e-14)


def test_filter_normalization(small_net):
    mlp, p, X, y = small_net
    d = filter_normalized_direction(mlp, p, seed=3)
    for (W, _), (D, e) in zip(mlp.unpack(p), mlp.unpack(d), strict=True):
        assert np.linalg.norm(D, axis=1) == pytest.approx(np.linalg.norm(W, axis=1), rel=1e-13)
        assert np.all(e == 0)
    assert not np.array_equal(d, filter_normalized_direction(mlp, p, seed=4))
    assert np.array_equal(d, filter_normalized_direction(mlp, p, seed=3))


def test_pca_plane_recovers_a_planar_trajectory():
    rng = np.random.default_rng(5)
    basis = np.linalg.qr(rng.standard_normal((30, 2)))[0].T
    t = np.linspace(0, 3, 50)
    coords = np.stack([np.cos(t) * 2, np.sin(t)], axis=1)
    traj = 1.0 + coords @ basis
    pl = pca_plane(traj)
    assert pl.projection_error.max() < 1e-13
    assert pl.explained.sum() == pytest.approx(1.0)
    assert np.abs(pl.directions @ pl.directions.T - np.eye(2)).max() < 1e-13
    # leaving the plane shows up as projection error
    traj2 = traj.copy()
    traj2[10] += 0.5 * np.linalg.qr(np.vstack([basis, rng.standard_normal(30)]).T)[0][:, 2]
    assert pca_plane(traj2).projection_error.max() > 0.05
    with pytest.raises(ValueError, match="fewer than two"):
        pca_plane(np.outer(np.arange(5.0), np.ones(4)))
    with pytest.raises(ValueError, match="at least 3 points"):
        pca_plane(np.ones((2, 4)))


def test_lanczos_extremes_match_the_dense_hessian(small_net):
    mlp, p, X, y = small_net
    lam = np.linalg.eigvalsh(mlp.hessian(p, X, y))
    top, low = hessian_extremes(mlp_hvp(mlp, p, X, y), mlp.n_params, k=3)
    assert top == pytest.approx(lam[::-1][:3], rel=1e-7, abs=1e-9)
    assert low == pytest.approx(lam[:3], rel=1e-7, abs=1e-9)


def test_slices_bad_input(small_net):
    mlp, p, X, y = small_net
    loss = lambda t: mlp.loss_value(t, X, y)  # noqa: E731
    with pytest.raises(TypeError, match="loss must be callable"):
        interpolate(3, p, p)
    with pytest.raises(ValueError, match="theta_b must have shape"):
        interpolate(loss, p, p[:-1])
    with pytest.raises(ValueError, match="span"):
        plane(loss, p, p, p, span=(1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="resolution must be >= 2"):
        plane(loss, p, p, p, resolution=1)
    with pytest.raises(ValueError, match="one value per row"):
        plane(lambda t: np.zeros(3), p, p, p, resolution=3)
    with pytest.raises(TypeError, match="MLP"):
        filter_normalized_direction("net", p)
    with pytest.raises(ValueError, match="k must be smaller than the dimension"):
        hessian_extremes(lambda v: v, 3, k=3)
    with pytest.raises(ValueError, match="non-finite"):
        hessian_extremes(lambda v: v * np.nan, 5)


# --- Theorem 4 ----------------------------------------------------------------------------------------------------
def test_deep_linear_classifier():
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((30, 3)), rng.standard_normal((30, 2))
    value, grad = least_squares_l0(X, Y)
    # all weights zero with X^T Y != 0: a critical point of l whose product is not critical for l0 -> saddle
    zeros = [np.zeros((4, 3)), np.zeros((4, 4)), np.zeros((2, 4))]
    v = classify_deep_linear(zeros, grad, l0_convex=True)
    assert v.kind == "saddle" and v.grad_norm == 0 and v.grad_l0_norm > 0 and not v.rank_condition
    # a balanced factorization of the least-squares solution -> global minimum
    R = np.linalg.lstsq(X, Y, rcond=None)[0].T  # (2, 3)
    U, s, Vt = np.linalg.svd(R, full_matrices=False)
    root = np.sqrt(s)
    W1 = np.zeros((4, 3))
    W1[:2] = root[:, None] * Vt
    W2 = np.eye(4)
    W3 = np.zeros((2, 4))
    W3[:, :2] = U * root
    v = classify_deep_linear([W1, W2, W3], grad, l0_convex=True)
    assert v.kind == "global min" and v.rank_condition
    assert v.product == pytest.approx(R, abs=1e-12)
    assert classify_deep_linear([W1, W2, W3], grad).kind == "undetermined"
    # a non-critical point
    assert classify_deep_linear([W1 + 0.1, W2, W3], grad, l0_convex=True).kind == "not critical"
    assert value(R) < value(R + 0.01)


def _balanced_minimum(X, Y):
    """A balanced factorization W3 W2 W1 of the least-squares solution: an exact global minimum."""
    R = np.linalg.lstsq(X, Y, rcond=None)[0].T
    U, s, Vt = np.linalg.svd(R, full_matrices=False)
    W1, W3 = np.zeros((4, 3)), np.zeros((2, 4))
    W1[:2] = np.sqrt(s)[:, None] * Vt
    W3[:, :2] = U * np.sqrt(s)
    return [W1, np.eye(4), W3]


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1.0, 30.0, 1e3, 1e6])
def test_deep_linear_default_tolerance_is_scale_aware(scale):
    # the default used to be an absolute 1e-10, so data scaled by 30 or 1e3 made an exact minimum "not critical"
    rng = np.random.default_rng(6)
    X, Y = scale * rng.standard_normal((30, 3)), scale * rng.standard_normal((30, 2))
    _, grad = least_squares_l0(X, Y)
    Ws = _balanced_minimum(X, Y)
    v = classify_deep_linear(Ws, grad, l0_convex=True)
    assert v.kind == "global min" and v.grad_norm <= v.grad_tol and v.grad_l0_norm <= v.grad_l0_tol
    # an unbalanced factorization of the same product is just as critical
    assert classify_deep_linear([Ws[0] * 8, Ws[1], Ws[2] / 8], grad, l0_convex=True).kind == "global min"
    # a point off the minimum by a relative 1e-5 is not critical, at every scale
    assert classify_deep_linear([Ws[0] * (1 + 1e-5), Ws[1], Ws[2]], grad, l0_convex=True).kind == "not critical"
    zeros = [np.zeros((4, 3)), np.zeros((4, 4)), np.zeros((2, 4))]
    assert classify_deep_linear(zeros, grad, l0_convex=True).kind == "saddle"
    # an explicit tol is absolute, as before
    assert classify_deep_linear(Ws, grad, l0_convex=True, tol=1e300).kind == "global min"


def test_deep_linear_bad_input():
    _, grad = least_squares_l0(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="columns"):
        classify_deep_linear([np.ones((4, 3)), np.ones((2, 5))], grad)
    with pytest.raises(ValueError, match="hidden widths"):
        classify_deep_linear([np.ones((1, 3)), np.ones((2, 1))], grad)
    with pytest.raises(ValueError, match="at least two"):
        classify_deep_linear([np.ones((2, 3))], grad)
    with pytest.raises(TypeError, match="callable"):
        classify_deep_linear([np.ones((4, 3)), np.ones((2, 4))], None)
    with pytest.raises(ValueError, match="grad_l0\\(product\\) must have shape"):
        classify_deep_linear([np.ones((4, 3)), np.ones((2, 4))], lambda R: np.zeros(3))
    with pytest.raises(ValueError, match="rows"):
        least_squares_l0(np.ones((4, 3)), np.ones((5, 2)))


def test_landscape_pca_and_theorem1_path_experiments_small():
    res = ex.run_sweep("landscape-pca", {"steps": 40, "resolution": 6}, seeds=1)
    s = ex.get("landscape-pca").summary_table(res.table)
    assert s["lanczos_max"].iloc[0] == pytest.approx(s["dense_max"].iloc[0], rel=1e-7)
    assert s["lanczos_min"].iloc[0] == pytest.approx(s["dense_min"].iloc[0], rel=1e-6, abs=1e-9)
    assert 0.5 < s["explained_1"].iloc[0] <= 1.0
    ex.draw(ex.get("landscape-pca"), res.table)
    res = ex.run_sweep("theorem1-path", {"points": 11, "perturbations": 200, "m": 15}, seeds=2)
    s = ex.get("theorem1-path").summary_table(res.table)
    assert (s["risk_error_min"] <= 1e-12).all() and (s["risk_error_better"] <= 1e-12).all()
    assert (s["perturbation_decreases"] == 0).all() and (s["improvement"] > 0).all()
    ex.draw(ex.get("theorem1-path"), res.table)


def test_theorem1_plateau_experiment_small():
    res = ex.run_sweep(
        "theorem1-plateau", {"activation": ["relu", "slight"], "d1": [2], "nets": 4, "epochs": 300}, seeds=1
    )
    s = ex.get("theorem1-plateau").summary_table(res.table)
    assert np.allclose(s[["plateau", "better", "worse", "diverged"]].sum(axis=1), 1.0)
    assert list(s["activation"]) == ["relu", "slight"]
    ex.draw(ex.get("theorem1-plateau"), res.table)


def test_interpolate_hits_both_end_points_exactly():
    # a + t (b - a) at t = 1 missed b in about 5% of the coordinates (by an ulp), so f(1) was not loss(theta_b)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(1000), 5.0 + 1e-3 * rng.standard_normal(1000)
    seen = []

    def loss(t):
        seen.append(np.array(t))
        return np.sum(t, axis=1)

    interpolate(loss, a, b, ts=[0.0, 0.25, 1.0])
    points = np.concatenate(seen)
    assert np.array_equal(points[0], a) and np.array_equal(points[2], b)
