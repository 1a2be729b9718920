"""Learned activation resolutions (one alpha per hidden layer) and BCGD's per-epoch rho schedule (RELATED.md 3.2,
QC-8's alpha gradients): against the independent NumPy implementation of tests/quant_reference.py."""

import numpy as np
import pytest
import quant_reference as ref

import optcore
from optcore.nn import MLP
from optcore.quantized import DEFAULT_ALPHA, QuantizedNetworkProblem

RULES = ("ae", "pact", "mean")


def data(n=40, d=5, k=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)


def probe(z, bits, alpha, ste="clipped_relu"):
    """A [1, m, 1] network whose hidden pre-activations are z for any input (W1 = 0, b1 = z) and whose output is
    their sum (W2 = 1): d loss / d alpha = (out - y) sum_j d sigma(z_j) / d alpha."""
    mlp = MLP([1, z.size, 1], activation="quantized", act_bits=bits, act_alpha=alpha, ste=ste)
    theta = np.zeros(mlp.n_params)
    layers = mlp.unpack(theta)
    layers[0][1][:] = z
    layers[1][0][0, :] = 1.0
    return mlp, theta


# --- QC-8: d sigma / d alpha equals RELATED.md 3.2's definitions --------------------------------------------------


@pytest.mark.parametrize("rule", RULES)
def test_qc8_alpha_gradient_rules_by_hand(rule):
    """z across every region for b = 2 (L = 3), alpha = 0.5: z <= 0, inside (0, 1.5] at each step, above 1.5."""
    bits, alpha = 2, 0.5
    z = np.array([-1.0, 0.0, 0.2, 0.5, 0.6, 1.0, 1.2, 1.5, 1.6, 4.0])
    by_hand = {  # 0 at z <= 0, L = 3 above L alpha = 1.5; inside: ceil(z / alpha) / 0 / (L + 1) / 2 = 2
        "ae": [0, 0, 1, 1, 2, 2, 3, 3, 3, 3],
        "pact": [0, 0, 0, 0, 0, 0, 0, 0, 3, 3],
        "mean": [0, 0, 2, 2, 2, 2, 2, 2, 3, 3],
    }[rule]
    np.testing.assert_array_equal(ref.alpha_first(z, bits, alpha, rule), by_hand)
    mlp, theta = probe(z, bits, alpha)
    y = 10.0
    loss, _, g_alpha = mlp.alpha_gradient(theta, np.zeros((1, 1)), np.array([[y]]), alpha_grad=rule)
    out = ref.quantized_act(z, bits, alpha).sum()
    assert loss == 0.5 * (out - y) ** 2
    assert g_alpha.shape == (1,)
    assert g_alpha[0] == (out - y) * np.sum(by_hand)


def test_qc8_ae_is_the_exact_derivative_in_alpha():
    """'ae' is sigma's derivative in alpha almost everywhere: sigma = alpha * count, the count locally constant."""
    z = np.random.default_rng(0).uniform(-0.5, 3.0, 200)
    for bits, alpha in ((1, 1.2221), (2, 0.6511), (4, 0.1946)):
        h = 1e-7
        numeric = (ref.quantized_act(z, bits, alpha + h) - ref.quantized_act(z, bits, alpha - h)) / (2 * h)
        smooth = np.all(np.abs(np.ceil(z / alpha) * alpha - z)[:, None] > [[1e-5]], axis=1)  # away from the steps
        np.testing.assert_allclose(numeric[smooth], ref.alpha_first(z, bits, alpha, "ae")[smooth], rtol=0, atol=1e-6)


# --- forward bit for bit, gradients to 1e-12 ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("widths", [[5, 8, 3], [5, 12, 9, 3]])
def test_forward_with_per_layer_alphas_is_bit_exact(widths, dtype):
    X, _ = data(30, widths[0], widths[-1], dtype=dtype)
    mlp = MLP(widths, activation="quantized", act_bits=2, act_alpha=0.5, dtype=dtype)
    theta = mlp.init(2, seed=1)
    alphas = np.array([[0.3, 0.7, 1.1][: len(widths) - 2], [0.45, 0.2, 0.9][: len(widths) - 2]])
    out = mlp.forward(theta, X, alpha=alphas)
    for r in range(2):
        expect, _, _ = ref.forward_alphas(mlp.widths, True, theta[r], X, 2, alphas[r].astype(dtype))
        np.testing.assert_array_equal(out[r], expect)
    # one alpha for every layer is the plain network's forward pass, bit for bit
    np.testing.assert_array_equal(mlp.forward(theta, X, alpha=0.5), mlp.forward(theta, X))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("ste", ["clipped_relu", "relu", "identity"])
@pytest.mark.parametrize("widths", [[5, 8, 3], [5, 12, 9, 3]])
def test_alpha_gradient_against_numpy(widths, ste, rule):
    X, Y = data(30, widths[0], widths[-1])
    mlp = MLP(widths, activation="quantized", act_bits=2, act_alpha=0.5, ste=ste)
    theta = mlp.init(2, seed=3)
    alphas = np.array([[0.35, 0.6][: len(widths) - 2], [0.5, 0.25][: len(widths) - 2]])
    loss, grad, g_alpha = mlp.alpha_gradient(theta, X, Y, alpha=alphas, alpha_grad=rule)
    for r in range(2):
        l_ref, g_ref, ga_ref = ref.squared_loss_and_alpha_grad(mlp.widths, True, theta[r], X, Y, 2, alphas[r], ste,
                                                               rule)
        assert abs(loss[r] - l_ref) <= 1e-12 * abs(l_ref)
        np.testing.assert_allclose(grad[r], g_ref, rtol=0, atol=1e-12 * np.max(np.abs(g_ref)))
        np.testing.assert_allclose(g_alpha[r], ga_ref, rtol=0, atol=1e-12 * max(np.max(np.abs(ga_ref)), 1e-300))
    if rule != "pact":
        assert np.all(g_alpha != 0)
    # the weights' gradient at one alpha everywhere is loss_and_grad's
    _, g_plain = mlp.loss_and_grad(theta, X, Y)
    np.testing.assert_allclose(mlp.alpha_gradient(theta, X, Y, alpha_grad=rule)[1], g_plain, rtol=0, atol=1e-14)


# --- training: the alphas' clipped and clamped steps ------------------------------------------------------------------


def alpha_problem(rule="mean", rate_factor=0.01, rho=0.0, n=24, seed=0, **kw):
    X, Y = data(n, 5, 3, seed=seed)
    mlp = MLP([5, 10, 8, 3], activation="quantized", act_bits=2, ste="clipped_relu")
    return QuantizedNetworkProblem(mlp, X, Y, weights="binary", rho=rho, learn_alpha=True, alpha_grad=rule,
                                   rate_factor=rate_factor, **kw)


@pytest.mark.parametrize("rule", RULES)
def test_learned_alpha_training_against_numpy(rule):
    """Full-batch steps: the weights' BCGD update and alpha <- clamp(alpha - eta clip(r g / b, -1, 1), 1e-3, 5)."""
    problem = alpha_problem(rule, rate_factor=0.5, rho=0.02)
    P, n = problem.mlp.n_params, problem.n
    x0 = problem.init(1, seed=2)[0]
    assert problem.dim == P + 2 and np.all(problem.alphas(x0) == DEFAULT_ALPHA[2])
    res = optcore.run_sgd(problem, order="incremental", batch_size=n, epochs=6, step_size=0.2, x0=x0,
                          record=("objective",), record_iterates=True)
    X, Y = problem._data()["X"], problem._data()["Y"]
    mask = problem.weight_mask()[:P]
    x = x0.copy()
    for t in range(6):
        w, a = x[:P], x[P:]
        q = ref.quantize(problem.mlp.widths, True, w, "binary")
        loss, g, g_a = ref.squared_loss_and_alpha_grad(problem.mlp.widths, True, q, X, Y, 2, a, "clipped_relu", rule)
        assert res.objective[0, t] == pytest.approx(loss, rel=1e-12)
        w_new = ref.bcgd_update(w, q, g * n, -0.2 / n, 0.02, mask)  # the core sums the batch's gradients
        a_new = ref.alpha_update(a, g_a * n, 0.2, n, 0.5)
        np.testing.assert_allclose(res.iterates[0, t + 1, :P], w_new, rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.iterates[0, t + 1, P:], a_new, rtol=0, atol=1e-12)
        x = res.iterates[0, t + 1].copy()  # step from the core's iterate: no drift through sign changes
    assert not np.array_equal(res.x[0, P:], x0[P:])
    np.testing.assert_array_equal(problem.alphas(res.x), res.x[:, P:])


def test_alpha_step_is_clipped_then_clamped():
    """Probe networks whose alpha gradient has a known sign: a huge rate_factor makes the step exactly eta (the
    clip), and the clamp stops alpha at 1e-3 and at 5."""
    z = np.array([0.3, 0.8, 2.0])
    for y, alpha0, eta, expect in ((-100.0, 0.5, 0.1, 0.4),   # out > y: d/d alpha > 0, alpha - eta
                                   (100.0, 0.5, 0.1, 0.6),    # out < y: alpha + eta
                                   (-100.0, 0.05, 0.1, 1e-3),  # clamped below
                                   (100.0, 4.95, 0.1, 5.0)):  # clamped above
        mlp, theta = probe(z, 2, alpha0)
        problem = QuantizedNetworkProblem(mlp, np.zeros((1, 1)), np.array([[y]]), weights="binary",
                                          quantize_layers=[0], learn_alpha=True, rate_factor=1e6)
        x0 = np.concatenate([theta, [alpha0]])
        res = optcore.run_sgd(problem, order="incremental", epochs=1, step_size=eta, x0=x0, record=("objective",))
        assert res.x[0, -1] == np.clip(np.float64(alpha0) - np.float64(eta) * np.sign(-y), 1e-3, 5.0)
        assert res.x[0, -1] == pytest.approx(expect, rel=1e-15)


@pytest.mark.parametrize(("order", "batch"), [("random_reshuffling", 8), ("incremental", 1)])
def test_many_nets_with_learned_alphas_equal_each_net_alone(order, batch):
    problem = alpha_problem("ae", rate_factor=0.05, rho=0.01, n=32, rho_rate=2.0, rho_max=0.05)
    x0 = problem.init(5, seed=5)
    x0[:, -2:] = np.linspace(0.3, 1.2, 10).reshape(5, 2)  # different starting alphas per network
    steps = np.array([0.05 + 0.02 * r for r in range(5)])
    kw = dict(order=order, batch_size=batch, epochs=3, record=("objective", "accuracy"), record_iterates=True)
    together = optcore.run_sgd(problem, x0=x0, step_size=steps, seed=7, **kw)
    for r in (0, 2, 4):
        alone = optcore.run_sgd(problem, x0=x0[r], step_size=steps[r], seed=7, run_ids=[r], **kw)
        np.testing.assert_array_equal(alone.iterates[0], together.iterates[r])
        np.testing.assert_array_equal(alone.objective[0], together.objective[r])
        np.testing.assert_array_equal(alone.accuracy[0], together.accuracy[r])
    assert not np.array_equal(problem.alphas(together.x), x0[:, -2:])
    # the recorded objective and accuracy are those of the network at (Q(w), alpha)
    np.testing.assert_array_equal(together.objective[:, -1], problem.objective(together.x))
    np.testing.assert_array_equal(together.accuracy[:, -1], problem.accuracy(together.x))


# --- BCGD's per-epoch rho --------------------------------------------------------------------------------------------


def test_rho_schedule_grows_per_epoch_and_trains_as_numpy():
    """rho_k = min(rho_rate rho_{k-1}, rho_max); the 1-D instance of RELATED.md 3.3 (one step per epoch) follows
    the NumPy loop with that rho bit for bit."""
    mlp = MLP([1, 1], bias=False, activation="linear")
    problem = QuantizedNetworkProblem(mlp, np.ones((1, 1)), np.full((1, 1), 0.2), weights="sign", rho=1e-3,
                                      rho_rate=1.5, rho_max=0.12)
    sched = problem.rho_schedule(40)
    expect = [1e-3]
    for _ in range(39):
        expect.append(min(1.5 * expect[-1], 0.12))
    np.testing.assert_array_equal(sched, expect)
    assert sched[0] == 1e-3 and sched[-1] == 0.12 and np.all(np.diff(sched) >= 0)
    res = optcore.run_sgd(problem, order="incremental", epochs=40, step_size=0.1, x0=[0.5], record=("objective",),
                          record_iterates=True)
    w, path = np.float64(0.5), [np.float64(0.5)]
    for k in range(40):
        q = np.sign(w)
        w = ((1 - sched[k]) * w + sched[k] * q) + (-0.1) * (q - 0.2)
        path.append(w)
    np.testing.assert_array_equal(res.iterates[0, :, 0], path)
    # constant rho (rho_rate = 1) is the default and the old behavior
    assert np.all(QuantizedNetworkProblem(mlp, np.ones((1, 1)), np.full((1, 1), 0.2), weights="sign",
                                          rho=0.05).rho_schedule(5) == 0.05)


# --- bad input ---------------------------------------------------------------------------------------------------


def _q(**kw):
    mlp = MLP([2, 3, 1], activation="quantized", act_bits=2)
    return QuantizedNetworkProblem(mlp, np.zeros((2, 2)), np.zeros(2), **kw)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: _q(learn_alpha=True, alpha_grad="exact"), "alpha_grad"),
        (lambda: _q(learn_alpha=True, rate_factor=0.0), "rate_factor"),
        (lambda: _q(learn_alpha=True, rate_factor=-0.01), "rate_factor"),
        (lambda: _q(learn_alpha=True, rate_factor=np.inf), "rate_factor"),
        (lambda: _q(learn_alpha=True).init(2, alpha=6.0), "alpha"),
        (lambda: _q(learn_alpha=True).init(2, alpha=1e-4), "alpha"),
        (lambda: _q(learn_alpha=True).init(2, alpha=[0.5, 0.5]), "alpha"),
        (lambda: optcore.run_sgd(_q(learn_alpha=True), epochs=1, step_size=0.1), "x0"),  # zeros: alpha = 0
        (lambda: optcore.run_sgd(_q(learn_alpha=True), epochs=1, step_size=0.1, x0=np.r_[np.zeros(13), 7.0]), "x0"),
        (lambda: QuantizedNetworkProblem(MLP([2, 3, 1]), np.zeros((2, 2)), np.zeros(2), learn_alpha=True),
         "learn_alpha"),
        (lambda: _q(rho=0.01, rho_rate=0.0), "rho_rate"),
        (lambda: _q(rho=0.01, rho_rate=np.nan), "rho_rate"),
        (lambda: _q(rho=0.1, rho_max=0.01), "rho_max"),
        (lambda: _q(rho_max=1.5), "rho_max"),
        (lambda: MLP([2, 3, 1], activation="quantized").alpha_gradient(np.zeros(13), np.zeros((2, 2)), np.zeros(2),
                                                                       alpha_grad="exact"), "alpha_grad"),
        (lambda: MLP([2, 3, 1], activation="quantized").alpha_gradient(np.zeros(13), np.zeros((2, 2)), np.zeros(2),
                                                                       alpha=5.5), "alpha"),
        (lambda: MLP([2, 3, 1], activation="quantized").alpha_gradient(np.zeros(13), np.zeros((2, 2)), np.zeros(2),
                                                                       alpha=0.0), "alpha"),
        (lambda: MLP([2, 3, 1], activation="quantized").alpha_gradient(np.zeros(13), np.zeros((2, 2)), np.zeros(2),
                                                                       alpha=[0.5, 0.5]), "alpha"),
        (lambda: MLP([2, 3, 1]).alpha_gradient(np.zeros(13), np.zeros((2, 2)), np.zeros(2)), "quantized"),
        (lambda: MLP([2, 3, 1], activation="quantized").forward(np.zeros(13), np.zeros((2, 2)), alpha=0.5,
                                                                backend="cuda"), "alpha"),
    ],
)
def test_bad_input_names_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()
