"""Theorem 1 and Theorem 2 constructions (THEORY.md 1.2, 1.3): closed-form risks on random data and activations,
certificates, random perturbations, the zero-risk point, the ShallowNet evaluator against the C++ MLP, bad input."""

import numpy as np
import pytest

from optcore.landscape import (
    SMOOTH_ACTIVATIONS,
    THEOREM2_X,
    THEOREM2_Y,
    ShallowNet,
    certify_theorem1,
    classify_second_order,
    gradient_norm,
    hessian_spectrum,
    higher_order_test,
    pattern_radius,
    random_perturbation_test,
    theorem1,
    theorem1_minimum,
    theorem2,
    theorem2_conditions,
)
from optcore.nn import MLP


def random_theorem1_instance(rng):
    dx = int(rng.integers(1, 5))
    m = int(rng.integers(dx + 3, 30))  # more points than an affine map has parameters
    d1 = int(rng.integers(2, 6))
    s_pos = float(rng.uniform(0.1, 3.0))
    s_neg = float(rng.choice([0.0, rng.uniform(0.0, 3.0)]))
    X = rng.standard_normal((m, dx)) * rng.uniform(0.1, 10)
    y = np.sin(X @ rng.standard_normal(dx)) + 0.3 * rng.standard_normal(m) + rng.uniform(-5, 5)
    return X, y, d1, (s_pos, s_neg)


def test_theorem1_reference_numbers():
    """THEORY.md 1.2 [C]: l0 = 1.083469, the j0 = min J point 1.0831143, the best j0 1.0738477."""
    X = np.random.default_rng(0).standard_normal((3, 20)).T
    y = np.sin(X.sum(axis=1))
    first = theorem1(X, y, d1=4, slopes=(1.1, 1.0), j0="first")
    best = theorem1(X, y, d1=4, slopes=(1.1, 1.0), j0="best")
    assert first.ls_risk == pytest.approx(1.083469, abs=5e-7)
    assert first.better_risk == pytest.approx(1.0831143, abs=5e-8)
    assert best.better_risk == pytest.approx(1.0738477, abs=5e-8)
    assert first.mlp.loss_value(first.better, X, y) == pytest.approx(first.better_risk, rel=1e-12)


def test_theorem1_closed_forms_on_random_data_and_activations():
    rng = np.random.default_rng(1)
    for _ in range(60):
        X, y, d1, slopes = random_theorem1_instance(rng)
        alpha = float(rng.uniform(0.05, 20))
        c = theorem1(X, y, d1=d1, slopes=slopes, alpha=alpha)
        risk_min = float(c.mlp.loss_value(c.local_min, X, y))
        risk_better = float(c.mlp.loss_value(c.better, X, y))
        assert risk_min == pytest.approx(c.ls_risk, rel=1e-12)
        assert risk_better == pytest.approx(c.better_risk, rel=1e-12)
        # the exact quadratic of Step 2
        m = X.shape[0]
        assert c.better_risk == pytest.approx(
            c.ls_risk - 2 * c.c * c.gamma * c.R + 0.5 * m * c.c**2 * c.gamma**2, rel=1e-14
        )
        assert risk_better < risk_min
        assert c.gamma * c.R * c.c > 0
        cert = certify_theorem1(c, X, y)
        assert cert.holds and cert.pattern_radius > 0
        assert gradient_norm(c.mlp, c.local_min, X, y) <= 1e-9 * max(1.0, np.abs(y).max()) ** 2


def test_theorem1_every_alpha_and_width_gives_the_same_risk():
    rng = np.random.default_rng(2)
    X, y, _, slopes = random_theorem1_instance(rng)
    risks = []
    for alpha in (0.01, 1.0, 100.0):
        for d1 in (2, 5):
            mlp, p, _, l0, _ = theorem1_minimum(X, y, d1=d1, slopes=slopes, alpha=alpha)
            risks.append(float(mlp.loss_value(p, X, y)))
    assert np.allclose(risks, l0, rtol=1e-12, atol=0)


@pytest.mark.parametrize("slopes", [(1.0, 0.0), (1.0, 0.01), (1.001, 1.0), (0.5, 2.0)])
def test_random_perturbations_never_lower_the_certified_minimum(slopes):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 3))
    y = np.sin(X.sum(axis=1))
    c = theorem1(X, y, d1=4, slopes=slopes)
    radius = pattern_radius(c.mlp, c.local_min, X)
    test = random_perturbation_test(
        lambda p: c.mlp.loss_value(p, X, y), c.local_min, radii=(1e-3, 0.5 * radius), samples=4000, seed=1
    )
    assert test.passed, test
    assert np.all(test.min_change >= -test.tolerance)
    # but the better point is a strict improvement, and the Hessian there says nothing negative
    lam = hessian_spectrum(c.mlp, c.local_min, X, y)
    assert lam.min() > -1e-9 * lam.max()
    assert classify_second_order(gradient_norm(c.mlp, c.local_min, X, y), lam, grad_tol=1e-9) == "degenerate"


def test_random_perturbation_test_detects_a_decrease():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((20, 3))
    y = np.sin(X.sum(axis=1))
    c = theorem1(X, y, d1=4, slopes=(1.0, 0.0))
    test = random_perturbation_test(lambda p: c.mlp.loss_value(p, X, y), c.better, radii=(1e-1,), samples=2000)
    # the better point is not a minimum in general; at least the test reports sane numbers and shapes
    assert test.min_change.shape == (1,) and test.decreases.shape == (1,)
    # a point away from any critical point: half the directions go down
    p0 = c.local_min + 0.3
    away = random_perturbation_test(lambda p: c.mlp.loss_value(p, X, y), p0, radii=(1e-3,), samples=500, ball=False)
    assert not away.passed and away.decreases[0] > 100


def test_j_empty_is_refused_with_a_clear_message_but_the_minimum_exists():
    # the least-squares fit is constant (slope 0, intercept 0): no strict gap between fitted values
    X = np.array([[-1.0], [0.0], [1.0]])
    y = np.array([1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match="J is empty.*Appendix A2"):
        theorem1(X, y)
    mlp, p, _, l0, _ = theorem1_minimum(X, y)
    assert float(mlp.loss_value(p, X, y)) == pytest.approx(l0, rel=1e-12)
    assert l0 == pytest.approx(3.0)


def test_theorem1_bad_input():
    X = np.random.default_rng(5).standard_normal((10, 2))
    y = np.sin(X[:, 0] * 3)
    with pytest.raises(ValueError, match="s\\+ != s-"):
        theorem1(X, y, slopes=(1.0, 1.0))
    with pytest.raises(ValueError, match="C1.3"):
        theorem1(X, y, slopes=(-1.0, 0.0))
    with pytest.raises(ValueError, match="C1.3"):
        theorem1(X, y, slopes=(1.0, -0.5))
    with pytest.raises(TypeError, match="slopes"):
        theorem1(X, y, slopes=1.0)
    with pytest.raises(ValueError, match="d1 must be >= 2"):
        theorem1(X, y, d1=1)
    with pytest.raises(ValueError, match="C1.1"):
        theorem1(X, X @ [1.0, -2.0] + 3.0)
    with pytest.raises(ValueError, match="distinct"):
        theorem1(np.vstack([X, X[:1]]), np.append(y, 0.0))
    with pytest.raises(ValueError, match="dy = 1"):
        theorem1(X, np.stack([y, y], axis=1))
    with pytest.raises(ValueError, match="finite"):
        theorem1(np.where(X > 1, np.nan, X), y)
    with pytest.raises(TypeError, match="real numeric"):
        theorem1(X.astype(complex), y)
    with pytest.raises(ValueError, match="alpha"):
        theorem1(X, y, alpha=0.0)
    c = theorem1(X, y)
    bad = next(j for j in range(1, 10) if j not in c.J) if len(c.J) < 9 else None
    if bad is not None:
        with pytest.raises(ValueError, match="element of J"):
            theorem1(X, y, j0=bad)
    with pytest.raises(ValueError, match="j0 must be <="):
        theorem1(X, y, j0=10)
    with pytest.raises(ValueError, match="gamma"):
        theorem1(X, y, gamma=1e6)


# --- Theorem 2 ----------------------------------------------------------------------------------------------------
def test_theorem2_tanh_reference_numbers():
    """THEORY.md 1.3 [C]: tanh tuples, loss 1/3, Hessian eigenvalues {0 x 6, 0.26136, 24.739, 117.307}."""
    t = theorem2("tanh", local_tuple=(-0.4027, 0.2999, 2.805), global_tuple=(2.0, 1.0, 1.0))
    assert t.local_tuple[3] == pytest.approx(4.826449, abs=1e-6)
    assert t.global_tuple[3] == pytest.approx(0.695759, abs=1e-6)
    net = t.net
    assert net.loss(t.local_min) == pytest.approx(1 / 3, rel=1e-14)
    assert np.linalg.norm(net.gradient(t.local_min)) < 1e-13
    lam = np.linalg.eigvalsh(net.hessian(t.local_min))
    assert np.all(np.abs(lam[:6]) < 1e-12)
    assert lam[6:] == pytest.approx([0.26136, 24.739, 117.307], rel=2e-4)
    W2 = net.unpack(t.global_min)[2]
    assert W2 == pytest.approx([31.4513, -39.8111], abs=2e-4)
    assert net.loss(t.global_min) < 1e-20


@pytest.mark.parametrize("name", sorted(SMOOTH_ACTIVATIONS))
def test_theorem2_every_activation(name):
    t = theorem2(name)
    net = t.net
    assert t.conditions["holds"]
    assert net.loss(t.local_min) == pytest.approx(1 / 3, rel=1e-13)
    assert np.allclose(net.outputs(t.local_min), 1 / 3, rtol=1e-13)
    assert np.linalg.norm(net.gradient(t.local_min)) < 1e-12
    assert net.loss(t.global_min) < 1e-20
    assert net.outputs(t.global_min) == pytest.approx(THEOREM2_Y, abs=1e-10)
    H = net.hessian(t.local_min)
    lam = np.linalg.eigvalsh(H)
    assert lam.min() > -1e-10 and np.sum(np.abs(lam) < 1e-10) == 6  # singular: second order cannot decide
    test = random_perturbation_test(net.loss, t.local_min, radii=(1e-3, 1e-2), samples=3000, seed=2)
    assert test.passed, (name, test)
    ho = higher_order_test(net.loss, t.local_min, H, directions=24)
    assert ho.null_dim == 6
    assert ho.verdict == "no descent", (name, ho)


def test_higher_order_test_finds_a_degenerate_saddle():
    # the zero network with output bias 1/3 is critical with a singular Hessian, but a cubic term descends
    t = theorem2("tanh")
    p = np.zeros(9)
    p[-1] = 1 / 3
    net = t.net
    assert np.linalg.norm(net.gradient(p)) < 1e-14
    H = net.hessian(p)
    assert classify_second_order(0.0, np.linalg.eigvalsh(H)) == "degenerate"
    assert higher_order_test(net.loss, p, H).verdict == "descent"


def test_theorem2_conditions_fail_for_relu_like_curvature():
    # C2.7 holds with equality when h'' = 0 (THEORY.md 1.3): for ELU at positive v both curvatures are linear
    c = theorem2_conditions("elu", (1.0, 2.0, 0.2, (1 / 3 - 0.2) / 2.0), (1.0, 1.0, 1.0, 1.0))
    assert c["C2.7"] == pytest.approx(0.0, abs=1e-15) and not c["holds"]
    with pytest.raises(ValueError, match="C2.7"):
        theorem2("elu", local_tuple=(1.0, 2.0, 0.2))


def test_theorem2_bad_input():
    with pytest.raises(ValueError, match="activation must be one of"):
        theorem2("relu6")
    with pytest.raises(TypeError, match="activation must be a name"):
        theorem2(3)
    with pytest.raises(ValueError, match="three finite"):
        theorem2("tanh", local_tuple=(1.0, np.inf, 2.0))
    with pytest.raises(TypeError, match="three numbers"):
        theorem2("tanh", local_tuple="abc")
    with pytest.raises(ValueError, match="h\\(v2\\) = 0"):
        theorem2("tanh", local_tuple=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="outside the range"):
        theorem2("tanh", global_tuple=(0.1, 3.0, 3.0))  # h(v4) = tanh(3)^2 / tanh(0.1) > 1


# --- the NumPy shallow net against the C++ MLP and finite differences --------------------------------------------
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus"])
def test_shallow_net_matches_the_mlp(name):
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((7, 3)), rng.standard_normal(7)
    net = ShallowNet(X, y, d1=4, activation=name)
    mlp = MLP([3, 4, 1], activation=name, reduction="sum")
    p = rng.standard_normal(net.n_params)
    loss, grad = mlp.loss_and_grad(p, X, y)
    assert net.loss(p) == pytest.approx(loss, rel=1e-12)
    assert net.gradient(p) == pytest.approx(grad, rel=1e-10, abs=1e-12)
    assert net.hessian(p) == pytest.approx(mlp.hessian(p, X, y), rel=1e-9, abs=1e-11)
    assert net.loss(np.stack([p, 2 * p])) == pytest.approx(mlp.loss_value(np.stack([p, 2 * p]), X, y), rel=1e-12)


@pytest.mark.parametrize("name", ["arctan", "elu", "selu"])
def test_shallow_net_derivatives_by_finite_differences(name):
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    net = ShallowNet(X, y, d1=3, activation=name)
    p = rng.standard_normal(net.n_params)
    h = 1e-6
    E = np.eye(net.n_params) * h
    fd_grad = (net.loss(p + E) - net.loss(p - E)) / (2 * h)
    fd_hess = np.array([(net.gradient(p + e) - net.gradient(p - e)) / (2 * h) for e in E])
    assert net.gradient(p) == pytest.approx(fd_grad, rel=1e-6, abs=1e-7)
    assert net.hessian(p) == pytest.approx(fd_hess, rel=1e-5, abs=1e-6)


def test_shallow_net_bad_input():
    with pytest.raises(ValueError, match="shape"):
        ShallowNet(THEOREM2_X, THEOREM2_Y[:2], d1=2, activation="tanh")
    net = ShallowNet(THEOREM2_X, THEOREM2_Y, d1=2, activation="tanh")
    with pytest.raises(ValueError, match="9 entries"):
        net.loss(np.zeros(8))
    with pytest.raises(ValueError, match="one vector"):
        net.hessian(np.zeros((2, 9)))


# --- scale and offset of the data (issue 16: exact-vs-float edge cases) -------------------------------------------
def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 2)), rng.standard_normal(8)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-17, 1e17, 1e200, 1e300])
def test_least_squares_fit_ignores_the_scale_of_the_inputs(scale):
    # lstsq's rank cutoff on [X 1] dropped columns of scale 1e-17 or 1e17: l0 1.907 instead of 1.554 on this data
    from optcore.landscape import least_squares_fit

    X, y = _data()
    _, f0, l0 = least_squares_fit(X, y)
    w, f, l = least_squares_fit(X * scale, y)
    np.testing.assert_allclose(f, f0, rtol=0, atol=1e-13)
    assert l == pytest.approx(l0, rel=1e-12)
    np.testing.assert_allclose(w[:2] * scale, least_squares_fit(X, y)[0][:2], rtol=1e-10)


@pytest.mark.parametrize("offset", [1e3, 1e6, 1e9])
def test_least_squares_fit_ignores_an_offset_of_the_inputs(offset):
    # an offset column is nearly parallel to the ones column; the fit of X + c equals the fit of the same
    # (rounded) data translated back, which (X + c) - c gives exactly (Sterbenz)
    from optcore.landscape import least_squares_fit

    X, y = _data()
    shifted = X + offset
    _, f, l = least_squares_fit(shifted, y)
    _, f_back, l_back = least_squares_fit(shifted - offset, y)
    np.testing.assert_allclose(f, f_back, rtol=0, atol=1e-12)
    assert l == pytest.approx(l_back, rel=1e-12)


@pytest.mark.parametrize("scale", [1e-200, 1e17, 1e200])
def test_theorem1_and_its_certificate_at_extreme_input_scales(scale):
    X, y = _data()
    base = theorem1(X, y, d1=3)
    c = theorem1(X * scale, y, d1=3)
    cert = certify_theorem1(c, X * scale, y)
    assert cert.holds and cert.risk == pytest.approx(base.ls_risk, rel=1e-12)
    assert c.ls_risk == pytest.approx(base.ls_risk, rel=1e-12) and c.J == base.J
    assert float(c.mlp.loss_value(c.better, X * scale, y)) == pytest.approx(c.better_risk, rel=1e-12)


def test_theorem1_says_when_the_risk_leaves_float64_instead_of_misreading_c11():
    # targets of size 1e-200: l0 ~ 1e-400 underflowed to 0 and theorem1 claimed the data were fitted by an affine
    # map (C1.1 fails), which is false; 1e200: l0 overflowed to inf
    X, y = _data()
    for ys, size in ((1e-200, "1e-400"), (1e200, "1e400")):
        with pytest.raises(ValueError, match=f"the least-squares risk l0 is about {size}, outside the float64 range"):
            theorem1(X, y * ys, d1=3)
    with pytest.raises(ValueError, match="fitted by an affine map"):  # a true C1.1 failure is still reported
        theorem1(X, 1e-200 * (X @ [1.0, 2.0] + 3.0), d1=3)
