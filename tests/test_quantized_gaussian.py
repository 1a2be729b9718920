"""The two-linear-layer Gaussian model (RELATED.md 3.3, acceptance tests QC-1 ... QC-5): closed forms against
Monte Carlo and central differences, the correlation identity, and population coarse-gradient descent."""

import numpy as np
import pytest

from optcore.quantized import GaussianModel, angle, coarse_gradient_descent


def qc1_setup(m=4, n=6, seed=0):
    """RELATED.md's QC-1 instance: v*, w*, v, w drawn in this order from default_rng(0)."""
    rng = np.random.default_rng(seed)
    v_star, w_star = rng.standard_normal(m), rng.standard_normal(n)
    v, w = rng.standard_normal(m), rng.standard_normal(n)
    return GaussianModel(v_star, w_star), v, w


def test_qc1_setup_values():
    model, v, w = qc1_setup()
    assert model.loss(v, w) == pytest.approx(2.5194, abs=1e-4)  # RELATED.md gives 4 digits
    assert model.correlation(v, w, "relu") == pytest.approx(3.603561e-2, abs=5e-9)


@pytest.mark.slow
def test_qc1_qc3_closed_forms_against_monte_carlo_2e6():
    """QC-1: f within 3e-3 relative of 2e6 samples; QC-3: E g_relu, E g_id within 1e-2 (about 5 SE)."""
    model, v, w = qc1_setup()
    for ste in ("relu", "identity"):
        s = model.sample(v, w, 2_000_000, ste=ste, seed=1)
        assert abs(s["loss"] - model.loss(v, w)) <= 3e-3 * model.loss(v, w)
        assert np.max(np.abs(s["coarse_grad"] - model.expected_coarse_grad(v, w, ste))) <= 1e-2
        assert np.max(np.abs(s["grad_v"] - model.grad_v(v, w))) <= 6 * np.max(s["grad_v_se"])


@pytest.mark.parametrize("seed", [0, 3])
def test_closed_forms_against_monte_carlo_fast(seed):
    """QC-1/QC-3 with 2e5 samples on the QC-1 instance and one of our own (m = 3, n = 5): within 5 SE."""
    model, v, w = qc1_setup() if seed == 0 else qc1_setup(3, 5, seed)
    for ste in ("relu", "identity"):
        s = model.sample(v, w, 200_000, ste=ste, seed=seed + 1)
        assert abs(s["loss"] - model.loss(v, w)) <= 5 * s["loss_se"]
        assert np.all(np.abs(s["coarse_grad"] - model.expected_coarse_grad(v, w, ste)) <= 5 * s["coarse_grad_se"])
        assert np.all(np.abs(s["grad_v"] - model.grad_v(v, w)) <= 5 * s["grad_v_se"] + 1e-12)


@pytest.mark.parametrize("seed", [0, 7, 11])
def test_qc2_gradients_against_central_differences(seed):
    """QC-2: grad_v f and grad_w f against central differences of the closed-form f (relative error <= 1e-6)."""
    model, v, w = qc1_setup(4, 6, seed)
    h = 1e-6
    num_v = np.array([(model.loss(v + h * e, w) - model.loss(v - h * e, w)) / (2 * h) for e in np.eye(4)])
    num_w = np.array([(model.loss(v, w + h * e) - model.loss(v, w - h * e)) / (2 * h) for e in np.eye(6)])
    assert np.linalg.norm(num_v - model.grad_v(v, w)) <= 1e-6 * np.linalg.norm(num_v)
    assert np.linalg.norm(num_w - model.grad_w(v, w)) <= 1e-6 * np.linalg.norm(num_w)
    assert abs(model.grad_w(v, w) @ w) <= 1e-12 * np.linalg.norm(w) * np.linalg.norm(model.grad_w(v, w))  # tangent


def test_qc4_correlation_identity():
    """QC-4: <E g_relu, grad_w f> equals its closed form to 1e-12 and is > 0 on 1000 random (v, w); identity: 2x."""
    model, v, w = qc1_setup()
    assert model.correlation(v, w) == pytest.approx(3.603561e-2, abs=1e-8)
    assert abs(model.correlation(v, w) - model.correlation_closed_form(v, w)) <= 1e-12
    rng = np.random.default_rng(5)
    V, W = rng.standard_normal((1000, 4)), rng.standard_normal((1000, 6))
    for ste in ("relu", "identity"):
        corr = model.correlation(V, W, ste)
        assert np.max(np.abs(corr - model.correlation_closed_form(V, W, ste))) <= 1e-12
        assert np.all(corr > 0)
    assert np.allclose(model.correlation(V, W, "identity"), 2 * model.correlation(V, W, "relu"), rtol=1e-12, atol=0)


def test_qc5_population_cgd_with_the_teacher_v():
    """QC-5: v = v* (|v*| = 2), population CGD on w (ReLU STE), eta = 0.1, 500 steps, seeds 0-99: theta is
    non-increasing (tol 1e-10) and theta(500) < 1e-5."""
    for seed in range(100):
        model = GaussianModel.random(4, 6, seed=seed, v_norm=2.0)
        w0 = np.random.default_rng(1000 + seed).standard_normal(6)
        out = coarse_gradient_descent(model, model.v_star, w0, step_size=0.1, steps=500, ste="relu", train_v=False)
        theta = out["theta"][0]
        assert np.all(np.diff(theta) <= 1e-10), seed
        assert theta[-1] < 1e-5, (seed, theta[-1])


def test_population_cgd_many_runs_agree_with_each_run_alone():
    model = GaussianModel.random(5, 7, seed=2)
    rng = np.random.default_rng(3)
    V, W = rng.standard_normal((4, 5)), rng.standard_normal((4, 7))
    together = coarse_gradient_descent(model, V, W, step_size=0.05, steps=50, ste="identity")
    for r in range(4):
        alone = coarse_gradient_descent(model, V[r], W[r], step_size=0.05, steps=50, ste="identity")
        np.testing.assert_allclose(alone["theta"][0], together["theta"][r], rtol=1e-9, atol=1e-13)  # BLAS paths


def test_with_teacher_v_the_relu_coarse_gradient_points_at_the_teacher():
    """With v = v*: E g_relu = |v*|^2 (w~ - w*~) / (2 sqrt(2 pi)) (RELATED.md 3.3)."""
    model, _, w = qc1_setup()
    u, us = w / np.linalg.norm(w), model.w_star / np.linalg.norm(model.w_star)
    expected = model.v_star @ model.v_star * (u - us) / (2 * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(model.expected_coarse_grad(model.v_star, w), expected, rtol=1e-12, atol=1e-15)


def test_angle_is_accurate_near_zero_and_pi():
    w = np.array([1.0, 1e-9, 0.0])
    assert angle(w, np.array([1.0, 0.0, 0.0])) == pytest.approx(1e-9, rel=1e-6)
    assert angle(-w, np.array([1.0, 0.0, 0.0])) == pytest.approx(np.pi - 1e-9, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, v, w: m.loss(v, np.zeros(6)), "w must be nonzero"),
        (lambda m, v, w: m.loss(v[:3], w), "v must have 4"),
        (lambda m, v, w: m.expected_coarse_grad(v, w, "clipped_relu"), "ste"),
        (lambda m, v, w: m.sample(v, w, 1), "samples"),
        (lambda m, v, w: coarse_gradient_descent(m, v, w, step_size=0.0, steps=3), "step_size"),
        (lambda m, v, w: coarse_gradient_descent(m, v, w, step_size=0.1, steps=-1), "steps"),
        (lambda m, v, w: coarse_gradient_descent(m, v, w, step_size=0.1, steps=3, ste="clipped_relu"), "samples="),
        (lambda m, v, w: GaussianModel(v, np.zeros(6)), "w_star must be nonzero"),
        (lambda m, v, w: m.loss(v, np.full(6, np.nan)), "w"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    model, v, w = qc1_setup()
    with pytest.raises(ValueError, match=match):
        call(model, v, w)
