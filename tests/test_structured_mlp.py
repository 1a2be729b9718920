"""Structured (masked / weight-tied) networks: gradients, per-example gradients and HVPs against an independent NumPy
reference of the free-parameter function G(phi) = F(T phi); masked entries stay exactly 0 and tied entries equal
through training with the engine; bad masks and bad starting points are rejected with errors naming the argument."""

import warnings

import numpy as np
import pytest
from mlp_reference import objective_and_grad

import optcore
from optcore.nn import MLP, NetworkProblem

WIDTHS = [4, 6, 4, 1]
TOL = {np.float64: dict(rtol=1e-11, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def tree_masks():
    """A binary tree on 4 inputs: 2 nodes of 3 units over input pairs, then 2 nodes of 2 units, then the output."""
    m1 = np.zeros((6, 4), int)
    m1[:3, :2] = 1
    m1[3:, 2:] = 1
    m2 = np.zeros((4, 6), int)
    m2[:2, :3] = 1
    m2[2:, 3:] = 1
    return [m1, m2, None]


def tree_ties():
    """Layer 1: the two nodes share weights and biases (unit u of node 0 ~ unit u of node 1, by position)."""
    w = -np.ones((6, 4), int)
    for u in range(3):
        for c in range(2):
            w[u, c] = w[3 + u, 2 + c] = 2 * u + c
    b = np.array([0, 1, 2, 0, 1, 2])
    return [(w, b), None, None]


def reference_T(net_shapes, masks, ties):
    """The (P, n_free) copy matrix T built entry by entry, independently of optcore's group map."""
    columns, groups = [], {}
    for layer, (o, i) in enumerate(net_shapes):
        mask = np.ones((o, i)) if masks[layer] is None else masks[layer]
        wl, bl = (None, None) if ties is None or ties[layer] is None else ties[layer]
        for r in range(o):
            for c in range(i):
                if mask[r, c] == 0:
                    columns.append(None)
                elif wl is not None and wl[r, c] >= 0:
                    columns.append(groups.setdefault(("W", layer, wl[r, c]), len(groups)))
                else:
                    columns.append(groups.setdefault(("w", layer, r, c), len(groups)))
        for r in range(o):
            if bl is not None and bl[r] >= 0:
                columns.append(groups.setdefault(("B", layer, bl[r]), len(groups)))
            else:
                columns.append(groups.setdefault(("b", layer, r), len(groups)))
    T = np.zeros((len(columns), len(groups)))
    for q, g in enumerate(columns):
        if g is not None:
            T[q, g] = 1.0
    return T


def data(n=13, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, WIDTHS[0]))
    return X, np.sin(X.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tied", [False, True])
def test_gradient_matches_numpy_reference_of_free_parameters(dtype, tied):
    masks, ties = tree_masks(), tree_ties() if tied else None
    net = MLP(WIDTHS, masks=masks, ties=ties, dtype=dtype)
    T = reference_T(net.shapes, masks, ties)
    assert net.n_free_params == T.shape[1]
    X, Y = data()
    rng = np.random.default_rng(5)
    phi = rng.standard_normal(T.shape[1]) * 0.7
    theta = (T @ phi).astype(dtype)
    F, g = net.loss_and_grad(theta, X, Y)
    F_ref, g_dense = objective_and_grad(WIDTHS, "relu", True, "squared", "mean", theta.astype(np.float64), X, Y)
    g_phi = T.T @ g_dense  # gradient of G(phi) = F(T phi)
    np.testing.assert_allclose(F, F_ref, **TOL[dtype])
    np.testing.assert_allclose(g, T @ g_phi, **TOL[dtype])
    assert np.all(g[T.sum(axis=1) == 0] == 0)  # masked entries: exactly zero, not just small
    # per-example gradients project the same way and average to the full gradient
    pe = net.per_example_grads(theta, X, Y)
    np.testing.assert_allclose(pe.mean(axis=0), g, **TOL[dtype])
    if dtype == np.float64:  # G's gradient against central differences in phi
        h = 1e-6
        for j in range(0, T.shape[1], 3):
            e = np.zeros_like(phi)
            e[j] = h
            fd = (net.loss_value(T @ (phi + e), X, Y) - net.loss_value(T @ (phi - e), X, Y)) / (2 * h)
            assert fd == pytest.approx(g_phi[j], rel=1e-6, abs=1e-8)


def test_hvp_is_projected_hessian_of_free_parameters():
    masks, ties = tree_masks(), tree_ties()
    net = MLP(WIDTHS, masks=masks, ties=ties, activation="tanh")
    T = reference_T(net.shapes, masks, ties)
    X, Y = data()
    phi = np.random.default_rng(2).standard_normal(T.shape[1]) * 0.5
    theta = T @ phi
    v = np.random.default_rng(3).standard_normal(net.n_params)
    # the Hessian of G in phi by differences of the reference gradient, lifted: T H_G T' v
    h, H_G = 1e-5, np.zeros((T.shape[1], T.shape[1]))
    for j in range(T.shape[1]):
        e = np.zeros_like(phi)
        e[j] = h
        gp = objective_and_grad(WIDTHS, "tanh", True, "squared", "mean", T @ (phi + e), X, Y)[1]
        gm = objective_and_grad(WIDTHS, "tanh", True, "squared", "mean", T @ (phi - e), X, Y)[1]
        H_G[:, j] = T.T @ (gp - gm) / (2 * h)
    np.testing.assert_allclose(net.hvp(theta, X, Y, v), T @ H_G @ T.T @ v, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(net.hessian(theta, X, Y), T @ H_G @ T.T, rtol=1e-6, atol=1e-7)


def test_unstructured_network_is_unchanged():
    net = MLP(WIDTHS)
    same = MLP(WIDTHS, masks=[None, None, None], ties=[None, None, None])
    assert not same.structured and same.n_free_params == net.n_params
    X, Y = data()
    theta = net.init(1, seed=4)[0]
    np.testing.assert_array_equal(net.init(2, seed=4), same.init(2, seed=4))
    np.testing.assert_array_equal(net.loss_and_grad(theta, X, Y)[1], same.loss_and_grad(theta, X, Y)[1])


@pytest.mark.parametrize("batch_size", [1, 5, 13])
def test_masked_entries_stay_zero_and_tied_entries_equal_through_training(batch_size):
    masks, ties = tree_masks(), tree_ties()
    net = MLP(WIDTHS, masks=masks, ties=ties)
    T = reference_T(net.shapes, masks, ties)
    X, Y = data(n=40)
    x0 = net.init(3, seed=1)
    assert np.all(x0[:, T.sum(axis=1) == 0] == 0)
    np.testing.assert_array_equal(x0, x0 @ T @ np.diag(1 / T.sum(axis=0)) @ T.T)  # tied entries equal at start
    res = optcore.run_sgd(NetworkProblem(net, X, Y), epochs=30, step_size=0.05, x0=x0, batch_size=batch_size, seed=7)
    masked = T.sum(axis=1) == 0
    assert np.all(res.x[:, masked] == 0)
    for g in range(T.shape[1]):
        members = res.x[:, T[:, g] == 1]
        assert np.all(members == members[:, :1])
    assert np.all(res.objective[:, -1] < 0.7 * res.objective[:, 0])  # it trained
    assert np.any(res.x[:, ~masked] != x0[:, ~masked])


def test_training_matches_numpy_sgd_on_free_parameters():
    """Full-batch GD through the engine equals GD on phi with the reference gradient."""
    masks, ties = tree_masks(), tree_ties()
    net = MLP(WIDTHS, masks=masks, ties=ties)
    T = reference_T(net.shapes, masks, ties)
    X, Y = data(n=16)
    x0 = net.init(1, seed=2)[0]
    res = optcore.run_sgd(
        NetworkProblem(net, X, Y), order="incremental", epochs=20, step_size=0.1, x0=x0, batch_size=16
    )
    phi = np.linalg.lstsq(T, x0, rcond=None)[0]
    for _ in range(20):
        phi -= 0.1 * T.T @ objective_and_grad(WIDTHS, "relu", True, "squared", "mean", T @ phi, X, Y)[1]
    np.testing.assert_allclose(res.x[0], T @ phi, rtol=1e-10, atol=1e-12)


def test_init_uses_fan_in_of_unmasked_inputs():
    mask = np.zeros((400, 50), int)
    mask[:, :2] = 1
    net = MLP([50, 400, 1], masks=[mask, None])
    W = net.unpack(net.init(1, seed=0)[0])[0][0]
    assert np.std(W[:, :2]) == pytest.approx(np.sqrt(2 / 2), rel=0.1)
    assert np.all(W[:, 2:] == 0)


@pytest.mark.parametrize(
    ("masks", "error", "match"),
    [
        ([np.ones((6, 3)), None, None], ValueError, r"masks\[0\] must have the shape"),
        ([np.full((6, 4), 2.0), None, None], ValueError, r"masks\[0\] must hold only 0 and 1"),
        ([np.full((6, 4), np.nan), None, None], ValueError, r"masks\[0\] must hold only 0 and 1, but contains NaN"),
        ([np.ones((6, 4)), np.zeros((4, 6)), None], ValueError, r"masks\[1\] has all-zero rows"),
        ([np.ones((6, 4))], ValueError, r"masks must have one entry per weight layer \(3\)"),
        (np.ones((6, 4)), TypeError, "masks must be a list"),
        ([np.full((6, 4), "1"), None, None], TypeError, r"masks\[0\] must be a numeric"),
    ],
)
def test_bad_masks_rejected(masks, error, match):
    with pytest.raises(error, match=match):
        MLP(WIDTHS, masks=masks)


def test_bad_ties_and_starting_points_rejected():
    masks = tree_masks()
    w = -np.ones((6, 4), int)
    w[0, 3] = 0  # a masked entry
    with pytest.raises(ValueError, match=r"ties\[0\]\[0\] labels masked weights"):
        MLP(WIDTHS, masks=masks, ties=[(w, None), None, None])
    with pytest.raises(TypeError, match=r"ties\[0\]\[0\] must be an integer array"):
        MLP(WIDTHS, ties=[(np.zeros((6, 4)), None), None, None])
    with pytest.raises(ValueError, match=r"ties\[0\]\[1\] ties biases"):
        MLP(WIDTHS, bias=False, ties=[(-np.ones((6, 4), int), np.zeros(6, int)), None, None])
    net = MLP(WIDTHS, masks=masks, ties=tree_ties())
    X, Y = data()
    bad = np.ones(net.n_params)
    with pytest.raises(ValueError, match="params has nonzero masked weights"):
        net.loss_value(bad, X, Y)
    unequal = net.init(1, seed=0)[0]
    unequal[0] += 1.0  # breaks the tie between node 0 and node 1 of layer 1
    with pytest.raises(ValueError, match="params has tied weights that differ"):
        net.loss_and_grad(unequal, X, Y)
    with pytest.raises(ValueError, match="x0 has nonzero masked weights"):
        optcore.run_sgd(NetworkProblem(net, X, Y), epochs=1, step_size=0.1, x0=bad)
    projected = net.project(unequal)
    net.loss_value(projected, X, Y)  # accepted
    assert np.all(projected[np.isclose(projected, 0)] == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.loss_value(net.project(bad), X, Y)
