"""Memorizing constructions (THEORY.md 2.2): exact memorization in rationals on hundreds of random configurations,
hard inputs, float64 export through the C++ forward pass, classification variants, capacity counts, bad input."""

import numpy as np
import pytest

from optcore.memorization import (
    float64_error,
    memorize,
    memorize_classes,
    minimal_widths,
    necessary_violation,
    sufficient_count,
    verify_exact,
)


def random_config(rng):
    dy = int(rng.integers(1, 3))
    D1 = 4 * int(rng.integers(1, 4))
    D2 = 4 * dy * int(rng.integers(1, 4))
    N = int(rng.integers(1, sufficient_count(D1, D2, dy=dy) + 1))  # up to the bound, inclusive
    dx = int(rng.integers(1, 4))
    X = np.round(rng.standard_normal((N, dx)) * 1e4) / 1e4
    Y = rng.choice([-1.0, 1.0], (N, dy)) if rng.random() < 0.3 else np.round(rng.uniform(-1, 1, (N, dy)), 6)
    return X, Y, D1, D2


def test_exact_memorization_on_random_configurations():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        X, Y, D1, D2 = random_config(rng)
        if np.unique(X, axis=0).shape[0] < X.shape[0]:
            continue
        c = memorize(X, Y, d1=D1, d2=D2, seed=int(rng.integers(1 << 30)))
        assert c.widths[1] <= D1 and c.widths[2] <= D2
        assert verify_exact(c, X, Y)
        checked += 1
    assert checked > 250


@pytest.mark.parametrize(
    "kind", ["nearly_collinear", "tiny_gaps", "last_coordinate_only", "integer_grid", "one_point", "two_points"]
)
def test_hard_inputs(kind):
    rng = np.random.default_rng(1)
    N, dx = 40, 3
    if kind == "nearly_collinear":
        t = rng.standard_normal(N)
        X = np.outer(t, [1.0, 2.0, -1.0]) + 1e-9 * rng.standard_normal((N, dx))
    elif kind == "tiny_gaps":
        X = np.zeros((N, dx))
        X[:, 0] = 1.0 + 1e-12 * np.arange(N)
    elif kind == "last_coordinate_only":
        X = np.tile(rng.standard_normal(dx), (N, 1))
        X[:, -1] += np.arange(N) * 1e-6
    elif kind == "integer_grid":
        X = rng.integers(-3, 4, (N, dx)).astype(float)
        X = np.unique(X, axis=0)
    elif kind == "one_point":
        X = rng.standard_normal((1, dx))
    else:
        X = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1e-300]])
    Y = np.round(rng.uniform(-1, 1, X.shape[0]), 4)
    c = memorize(X, Y)
    assert verify_exact(c, X, Y)


@pytest.mark.parametrize("N", [100, 400, 1000])
def test_float64_export_through_the_cpp_forward_pass(N):
    rng = np.random.default_rng(N)
    X = np.round(rng.standard_normal((N, 5)) * 1e3) / 1e3
    Y = rng.uniform(-1, 1, N)
    c = memorize(X, Y)
    D1, D2 = minimal_widths(N)
    assert c.widths[1] <= D1 and c.widths[2] <= D2
    assert float64_error(c, X, Y) < 1e-6
    if N <= 100:
        assert verify_exact(c, X, Y)


@pytest.mark.slow
def test_exact_memorization_of_a_few_thousand_points():
    # about 7 minutes on 2 cores (pure-Python rational arithmetic): run with `python -m pytest -m slow`
    rng = np.random.default_rng(7)
    N = 2000
    X = np.round(rng.standard_normal((N, 4)) * 1e3) / 1e3
    Y = np.round(rng.uniform(-1, 1, N), 5)
    c = memorize(X, Y)
    assert verify_exact(c, X, Y)


def test_widths_at_the_bound():
    rng = np.random.default_rng(3)
    D1, D2 = 12, 16
    N = sufficient_count(D1, D2)
    assert N == D1 * D2 // 4
    X = rng.standard_normal((N, 2))
    Y = rng.uniform(-1, 1, N)
    assert verify_exact(memorize(X, Y, d1=D1, d2=D2), X, Y)
    with pytest.raises(ValueError, match="memorize at most 48 points"):
        memorize(np.vstack([X, [[9.0, 9.0]]]), np.append(Y, 0.5), d1=D1, d2=D2)


@pytest.mark.parametrize("one_hot", [False, True])
def test_classification_variants(one_hot):
    rng = np.random.default_rng(4)
    N, C = 60, 5
    X = rng.standard_normal((N, 4))
    labels = rng.integers(0, C, N)
    c = memorize_classes(X, labels, C, exact_one_hot=one_hot)
    out = c.exact_outputs(X)
    if one_hot:
        assert all(o == [1 if k == lab else 0 for k in range(C)] for o, lab in zip(out, labels, strict=True))
    else:
        assert [int(np.argmax([float(v) for v in o])) for o in out] == labels.tolist()
    net, params = c.to_mlp()
    assert np.array_equal(np.argmax(net.forward(params, X), axis=1), labels)


def test_capacity_counts():
    assert sufficient_count(8, 8) == 16 and sufficient_count(8, 16, dy=2) == 16
    assert necessary_violation(2, 3, 2 * 2 * 3 + 3 + 3) and not necessary_violation(2, 3, 2 * 2 * 3 + 3 + 2)
    for N in (1, 7, 100, 1000, 10**4):
        D1, D2 = minimal_widths(N)
        assert sufficient_count(D1, D2) >= N and D1 % 4 == 0 and D2 % 4 == 0
        assert max(D1, D2) <= 4 * (int(np.sqrt(N)) + 2)  # width about sqrt(N)


def test_bad_input():
    X = np.array([[0.0], [1.0], [0.0]])
    with pytest.raises(ValueError, match="inputs 0 and 2 are equal but carry different labels"):
        memorize(X, [0.1, 0.2, 0.3])
    assert verify_exact(memorize(X, [0.1, 0.2, 0.1]), X, [0.1, 0.2, 0.1])  # equal inputs, equal labels: fine
    with pytest.raises(ValueError, match=r"labels must lie in \[-1, 1\]"):
        memorize([[0.0], [1.0]], [0.0, 2.0])
    with pytest.raises(ValueError, match="X must be finite"):
        memorize([[np.nan], [1.0]], [0.0, 0.5])
    with pytest.raises(ValueError, match=r"Y must have shape \(N,\) or \(N, dy\)"):
        memorize([[0.0], [1.0]], [0.0])
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        memorize_classes([[0.0], [1.0]], np.array([0, 3]), 3)


def test_capacity_study_separates_construction_from_training():
    from optcore.experiments.sweep import run_sweep
    from optcore.memorization.studies import CAPACITY

    table = run_sweep(CAPACITY, {"N": [16, 128], "W": [4, 16], "nets": 4, "epochs": 100}, seeds=1).table
    s = CAPACITY.summarize(table).set_index(["W", "N"])
    assert s.loc[(16, 16), "memorized"] >= 0.75  # far below the line: SGD memorizes
    assert s.loc[(4, 128), "memorized"] == 0.0  # far above: it cannot
    assert s.loc[(16, 16), "constructible"] == 1.0 and s.loc[(4, 128), "constructible"] == 0.0


def test_sgd_near_a_memorizing_minimum_reduces_the_risk():
    from optcore.experiments.sweep import run_sweep
    from optcore.memorization.studies import NEAR_MINIMUM

    table = run_sweep(NEAR_MINIMUM, {"delta": [1e-5, 1e-2], "N": 16, "epochs": 100}, seeds=2).table
    s = NEAR_MINIMUM.summarize(table).set_index("delta")
    assert s.loc[1e-5, "risk_ratio"] < 0.1 and s.loc[1e-5, "pattern_changes"] <= 2
    assert s.loc[1e-2, "pattern_changes"] > s.loc[1e-5, "pattern_changes"]


@pytest.mark.parametrize(("N", "dx", "width"), [(1, 1, 8), (7, 2, 8), (40, 3, 8), (120, 2, 10), (150, 5, 14)])
def test_deep_construction_is_exact_with_linear_parameter_count(N, dx, width):
    from optcore.memorization import memorize_deep

    rng = np.random.default_rng(N)
    X = np.round(rng.standard_normal((N, dx)) * 1e3) / 1e3
    X = np.unique(X, axis=0)
    y = np.round(rng.uniform(-1, 1, X.shape[0]), 5)
    c = memorize_deep(X, y, width=width)
    assert max(c.widths[1:-1]) <= width
    assert verify_exact(c, X, y)
    assert float64_error(c, X, y) < 1e-8
    net, _ = c.to_mlp()
    per_chunk = (width - 2) // 2 * 2 * ((width - 2) // 4)
    chunks = -(-X.shape[0] // per_chunk)
    assert len(c.widths) - 2 == 2 * chunks  # two hidden layers per chunk
    assert net.n_params <= 20 * width * max(X.shape[0], per_chunk)  # Theta(N) parameters for a fixed width


def test_deep_construction_rejects_bad_input():
    from optcore.memorization import memorize_deep

    with pytest.raises(ValueError, match="width must be >= 8"):
        memorize_deep([[0.0], [1.0]], [0.0, 0.5], width=6)
    with pytest.raises(ValueError, match="distinct"):
        memorize_deep([[0.0], [0.0]], [0.0, 0.5], width=8)
    with pytest.raises(ValueError, match=r"labels must lie in \[-1, 1\]"):
        memorize_deep([[0.0], [1.0]], [0.0, 1.5], width=8)
