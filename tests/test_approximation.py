"""optcore.approximation: targets (structure, standardization, matched roughness), tree and shallow networks
(connectivity, parameter counts, weight sharing), fitting through the engine, the registered experiment and its CLI
run."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from optcore.approximation.fitting import fit_network
from optcore.approximation.networks import (
    shallow_network,
    shallow_width_for_budget,
    tree_network,
    tree_units_for_budget,
)
from optcore.approximation.studies import COMPOSITIONAL_APPROXIMATION, fitted_slope, run_cell, summarize, theory_slope
from optcore.approximation.targets import (
    compositional_target,
    control_target,
    dirichlet_ratio,
    tree_inputs,
    uniform_inputs,
)
from optcore.cli import main


# --- targets --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [4, 8, 16])
def test_compositional_target_is_the_tree_of_its_constituents(n):
    f = compositional_target(n, seed=3)
    assert [len(level) for level in f.levels] == [n >> (k + 1) for k in range(tree_inputs(n))]
    X = uniform_inputs(n, 500, seed=9)

    def compose(values, level):  # the recursion written out independently of CompositionalTarget
        if level == len(f.levels):
            return values[:, 0]
        h = f.levels[level]
        nxt = np.stack([h[j](values[:, [2 * j, 2 * j + 1]]) for j in range(len(h))], axis=1)
        return compose(nxt, level + 1)

    np.testing.assert_allclose(f(X), f.scale * (compose(X, 0) - f.shift), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(f(X), compositional_target(n, seed=3)(X))  # deterministic
    assert not np.allclose(f(X), compositional_target(n, seed=4)(X))
    Y = f(uniform_inputs(n, 20000, seed=11))  # standardized on the calibration sample: about mean 0, variance 1
    assert abs(Y.mean()) < 0.05 and abs(Y.var() - 1) < 0.08


def test_compositional_target_depends_on_input_pairs_through_one_value():
    """Changing (x1, x2) to another pair with the same h_11 value leaves f unchanged: the tree structure."""
    f = compositional_target(4, seed=0)
    h11 = f.levels[0][0]
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 4)
    target = h11(x[None, :2])[0]
    # another (x1', x2') with h11 = target: move x1, solve for x2 by bisection along [-1, 1] when bracketed
    for x1 in np.linspace(-1, 1, 41):
        grid = np.linspace(-1, 1, 2001)
        vals = h11(np.stack([np.full_like(grid, x1), grid], axis=1)) - target
        sign = np.flatnonzero(np.diff(np.sign(vals)) != 0)
        if sign.size and abs(x1 - x[0]) > 0.2:
            lo, hi = grid[sign[0]], grid[sign[0] + 1]
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                same = np.sign(h11(np.array([[x1, mid]]))[0] - target) == np.sign(h11(np.array([[x1, lo]]))[0] - target)
                lo, hi = (mid, hi) if same else (lo, mid)
            other = x.copy()
            other[:2] = x1, 0.5 * (lo + hi)
            assert f(other[None])[0] == pytest.approx(f(x[None])[0], abs=1e-9)
            return
    pytest.fail("no second pair with the same constituent value found")


@pytest.mark.parametrize("n", [4, 8])
def test_control_matches_the_compositional_roughness(n):
    comp = compositional_target(n, seed=2)
    ctrl = control_target(n, seed=2)
    r_comp = dirichlet_ratio(comp, n, seed=7)
    r_ctrl = dirichlet_ratio(ctrl, n, seed=7)
    assert r_ctrl == pytest.approx(r_comp, rel=0.1)
    Y = ctrl(uniform_inputs(n, 20000, seed=5))
    assert abs(Y.mean()) < 0.05 and abs(Y.var() - 1) < 0.08


def test_target_bad_input():
    with pytest.raises(ValueError, match="n must be a power of two"):
        compositional_target(6, seed=0)
    with pytest.raises(ValueError, match="frequency"):
        compositional_target(4, seed=0, frequency=-1.0)
    with pytest.raises(ValueError, match="roughness"):
        control_target(4, seed=0, roughness=0.0)


# --- networks -------------------------------------------------------------------------------------------------------
def expected_tree_params(n, units, channels):
    """Free parameters of the tree counted node by node (weights + biases)."""
    total, levels = 0, int(np.log2(n))
    for level in range(levels):
        nodes = n >> (level + 1)
        reads = 1 if level == 0 else channels
        per_node = 2 * reads * units + units  # hidden units over both children
        per_node += units + 1 if level == levels - 1 else channels * units + channels  # output / channels
        total += nodes * per_node
    return total


@pytest.mark.parametrize(("n", "units", "channels"), [(4, 3, 2), (8, 5, 4), (16, 2, 3)])
def test_tree_connectivity_and_parameter_count(n, units, channels):
    net = tree_network(n, units=units, channels=channels)
    assert net.n_free_params == expected_tree_params(n, units, channels)
    first = net.masks[0]
    assert first.shape == (n // 2 * units, n) and np.all(first.sum(axis=1) == 2)
    for j in range(n // 2):  # node j reads inputs 2j and 2j + 1
        assert np.all(first[j * units : (j + 1) * units, 2 * j : 2 * j + 2])
    # the output of the tree depends on input 0 only through node 0: zero node 0's first-layer weights
    theta = net.init(1, seed=1)[0]
    layers = net.unpack(theta.copy())
    X = uniform_inputs(n, 50, seed=2)
    X2 = X.copy()
    X2[:, 0] = -X[:, 0]
    W, _ = layers[0]
    W[:units] = 0
    cut = net.pack(layers)
    np.testing.assert_array_equal(net.forward(cut, X), net.forward(cut, X2))
    assert not np.array_equal(net.forward(theta, X), net.forward(theta, X2))


def test_direct_tree_and_shared_tree():
    direct = tree_network(8, units=3, channels=None)
    assert direct.widths.tolist() == [8, 12, 6, 3, 1]
    assert direct.n_free_params == 4 * (2 * 3 + 3) + 2 * (6 * 3 + 3) + (6 * 3 + 3) + 3 + 1
    shared = tree_network(8, units=3, channels=2, shared=True)
    # one node's parameters per level: (2*3+3) + (2*3+2) at level 1, (4*3+3) + (2*3+2) at 2, (4*3+3) + (3+1) root
    assert shared.n_free_params == (9 + 8) + (15 + 8) + (15 + 4)
    theta = shared.init(1, seed=0)[0]
    W1 = shared.unpack(theta)[0][0]
    np.testing.assert_array_equal(W1[:3, :2], W1[3:6, 2:4])  # nodes of a level share weights


def test_budgets_match():
    for n in (4, 8, 16):
        for budget in (200, 800, 3200):
            assert abs(shallow_network(n, width=shallow_width_for_budget(n, budget)).n_params / budget - 1) < 0.1
            units = tree_units_for_budget(n, budget, channels=4)
            assert abs(np.log(tree_network(n, units=units, channels=4).n_free_params / budget)) < 0.5
    with pytest.raises(ValueError, match="budget"):
        shallow_width_for_budget(8, 0)
    with pytest.raises(ValueError, match="units"):
        tree_network(8, units=0)


# --- fitting and the experiment -------------------------------------------------------------------------------------
def test_fit_network_learns_and_is_deterministic():
    f = compositional_target(4, seed=0)
    net = tree_network(4, units=6, channels=4)
    kwargs = dict(seed=1, train_points=512, test_points=256, epochs=15, batch_size=16, step_sizes=(0.1, 0.05))
    fit = fit_network(net, f, **kwargs)
    assert fit.test_mse < 0.5 and fit.train_mse < 0.5
    assert fit.free_params == net.n_free_params
    assert np.all(fit.params[net._group < 0] == 0)  # masked weights exactly zero after training
    assert fit_network(net, f, **kwargs).test_mse == fit.test_mse
    with pytest.raises(ValueError, match="step_sizes"):
        fit_network(net, f, seed=0, step_sizes=())
    with pytest.raises(TypeError, match="net must be"):
        fit_network("net", f, seed=0)


def test_slopes_and_theory():
    params = np.array([100, 200, 400, 800])
    assert fitted_slope(params, 3.0 * params**-0.7) == pytest.approx(-0.7)
    assert np.isnan(fitted_slope([100, 100], [1.0, 2.0]))
    assert theory_slope("compositional", "tree", 8) == -1.0
    assert theory_slope("compositional", "shallow", 8) == -0.25
    assert theory_slope("control", "tree-shared", 16) == -0.125


def test_run_cell_summary_and_figure():
    config = {p.name: p.default for p in COMPOSITIONAL_APPROXIMATION.params}
    config.update(n=4, instance=0, train_points=256, test_points=128, epochs=3, tries=2)
    rows = []
    for target in ("compositional", "control"):
        for arch in ("shallow", "tree", "tree-shared"):
            for budget in (60, 120):
                row = run_cell({**config, "target": target, "arch": arch, "budget": budget}, 0)
                rows.append({"target": target, "arch": arch, "budget": budget, "n": 4, "replicate": 0, **row})
    table = pd.DataFrame(rows)
    assert np.all(np.isfinite(table["test_mse"]))
    s = summarize(table)
    assert len(s) == 12 and set(s["theory_slope"]) == {-1.0, -0.5}
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    COMPOSITIONAL_APPROXIMATION.figure(table, ax)
    assert ax.get_xscale() == "log" and len(ax.get_legend_handles_labels()[1]) == 6
    plt.close(fig)


def test_cli_writes_table_and_figure(tmp_path, capsys):
    out = tmp_path / "ca"
    args = ["run", "compositional-approximation", "--n", "4", "--instance", "0", "--budget", "60,120", "--epochs", "2"]
    args += ["--train_points", "256", "--test_points", "128", "--tries", "1", "--seeds", "1", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "fitted_slope" in printed and "theory_slope" in printed
    assert (out / "figure.png").exists() and (out / "summary.csv").exists()
    assert len(pd.read_csv(out / "summary.csv")) == 8
