"""Memorizing constructions (THEORY.md 2.2): exact memorization in rationals on hundreds of random configurations,
hard inputs, float64 export through the C++ forward pass, classification variants, capacity counts, bad input."""

from fractions import Fraction

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
    with pytest.raises(ValueError, match="inputs 0 and 1 are equal but carry different labels"):
        memorize_deep([[0.0], [0.0]], [0.0, 0.5], width=8)
    with pytest.raises(ValueError, match=r"labels must lie in \[-1, 1\]"):
        memorize_deep([[0.0], [1.0]], [0.0, 1.5], width=8)


# --- equal points, non-finite input, minimal widths, float64 range (issue 16, item 3) -----------------------------
def _builders():
    from optcore.memorization import memorize_deep

    return {
        "memorize": lambda X, y: memorize(X, y),
        "memorize_deep": lambda X, y: memorize_deep(X, y, width=8),
        # class labels 0/1 stand for the scalar labels -1/+1 (argmax) and 1/4, 2/4 (exact one-hot)
        "classes_argmax": lambda X, y: memorize_classes(X, (np.asarray(y) > 0).astype(int), 2),
        "classes_one_hot": lambda X, y: memorize_classes(X, (np.asarray(y) > 0).astype(int), 2, exact_one_hot=True),
    }


# every way two rows can be equal as numbers while their bits or types differ
EQUAL_ROWS = {
    "signed_zero": ([0.0, 1.0], [-0.0, 1.0]),
    "all_signed_zeros": ([-0.0, -0.0], [0.0, 0.0]),
    "mixed_signed_zeros": ([0.0, -0.0], [-0.0, 0.0]),
    "float32_signed_zero": (np.array([-0.0, 2.5], np.float32), [0.0, 2.5]),
    "integer_and_float": (np.array([3, 0]), [3.0, -0.0]),
}


@pytest.mark.parametrize("builder", ["memorize", "memorize_deep", "classes_argmax", "classes_one_hot"])
@pytest.mark.parametrize("case", sorted(EQUAL_ROWS))
def test_equal_inputs_are_compared_as_numbers(builder, case):
    build = _builders()[builder]
    a, b = EQUAL_ROWS[case]
    X = np.array([a, [7.0, -1.0], b], dtype=np.float64)
    # equal labels (0.9 and 0.9, or -0.0 and 0.0 for the scalar builders): one point, memorized
    for y in ([0.9, -0.3, 0.9], [-0.0, 0.5, 0.0]):
        c = build(X, y)
        out = [[float(v) for v in o] for o in c.exact_outputs(X)]
        assert out[0] == out[2]
        if builder in ("memorize", "memorize_deep"):
            assert verify_exact(c, X, y)
    # different labels: the documented ValueError, naming both rows
    with pytest.raises(ValueError, match="inputs 0 and 2 are equal but carry different labels"):
        build(X, [0.9, -0.3, -0.9])


def test_merged_points_cost_no_capacity():
    # 48 distinct points fill widths (12, 16) exactly; 48 more rows that equal them up to the sign of zeros add none
    rng = np.random.default_rng(5)
    X = np.round(rng.standard_normal((48, 2)), 3)
    X[:24, 0] = 0.0
    Y = rng.uniform(-1, 1, 48)
    X2 = np.vstack([X, np.where(X == 0, -0.0, X)])
    c = memorize(X2, np.concatenate([Y, Y]), d1=12, d2=16)
    assert verify_exact(c, X2, np.concatenate([Y, Y]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_points_are_a_clear_error(bad):
    from optcore.memorization import memorize_deep

    X_bad, y_bad = [[0.0], [bad]], [0.5, bad]
    for call in (
        lambda: memorize(X_bad, [0.5, 0.1]),
        lambda: memorize_deep(X_bad, [0.5, 0.1], width=8),
        lambda: memorize_classes(X_bad, np.array([0, 1]), 2),
        lambda: memorize_classes(X_bad, np.array([0, 1]), 2, exact_one_hot=True),
    ):
        with pytest.raises(ValueError, match="X must be finite"):
            call()
    with pytest.raises(ValueError, match="Y must be finite"):
        memorize([[0.0], [1.0]], y_bad)
    with pytest.raises(ValueError, match="y must be finite"):
        memorize_deep([[0.0], [1.0]], y_bad, width=8)
    c = memorize([[0.0], [1.0]], [0.5, 0.1])
    for check in (verify_exact, float64_error):
        with pytest.raises(ValueError, match="X must be finite"):
            check(c, X_bad, [0.5, 0.1])
        with pytest.raises(ValueError, match="Y must be finite"):
            check(c, [[0.0], [1.0]], y_bad)
        with pytest.raises(ValueError, match=r"Y must have shape \(2,\) or \(2, 1\)"):
            check(c, [[0.0], [1.0]], [0.5])


def _brute_force_minimal_widths(N, dy):
    """argmin over all integer widths of (D1 + D2, max(D1, D2), D1) subject to sufficient_count(D1, D2, dy) >= N."""
    top1, top2 = 4 * (-(-N // 4)) + 8, 4 * dy * (-(-N // 4)) + 8 * dy  # a = 1 or b = 1 (plus slack) suffice
    D1, D2 = np.meshgrid(np.arange(1, top1 + 1), np.arange(1, top2 + 1), indexing="ij")
    count = 4 * (D1 // 4) * (D2 // (4 * dy))  # sufficient_count, vectorized
    d1, d2 = D1[count >= N], D2[count >= N]
    best = np.lexsort((d1, np.maximum(d1, d2), d1 + d2))[0]
    return int(d1[best]), int(d2[best])


@pytest.mark.parametrize("dy", [1, 2, 3, 4])
def test_minimal_widths_is_the_true_minimum(dy):
    for N in range(1, 161):
        D1, D2 = minimal_widths(N, dy=dy)
        assert (D1, D2) == _brute_force_minimal_widths(N, dy), (N, dy)
        assert sufficient_count(D1, D2, dy=dy) >= N
    assert minimal_widths(97, dy=3) == (36, 36)  # was (20, 60): 80 hidden units where 72 suffice


def test_memorize_uses_the_minimal_widths_with_several_outputs():
    rng = np.random.default_rng(8)
    X = np.round(rng.standard_normal((97, 2)), 4)
    Y = np.round(rng.uniform(-1, 1, (97, 3)), 4)
    c = memorize(X, Y)
    assert c.widths[1] <= 36 and c.widths[2] <= 36
    assert verify_exact(c, X, Y)


def test_widths_two_mod_four_hold_what_the_docstring_says():
    # D1 = 6: 3 ramps of 2 floor(D2 / 4) = 4 points each = 12 points, above sufficient_count(6, 8) = 8
    rng = np.random.default_rng(9)
    X = rng.standard_normal((12, 2))
    Y = rng.uniform(-1, 1, 12)
    assert sufficient_count(6, 8) == 8
    assert verify_exact(memorize(X, Y, d1=6, d2=8), X, Y)
    with pytest.raises(ValueError, match="memorize at most 12 points"):
        memorize(np.vstack([X, [[9.0, 9.0]]]), np.append(Y, 0.5), d1=6, d2=8)


@pytest.mark.parametrize(
    "X",
    [
        [[5e-324], [1e-323], [2e-323]],  # subnormal: weights ~ 1 / gap ~ 1e323
        [[1e308], [-1e308], [1.5e308]],  # huge: ramp slopes ~ 1e-310
        [[1e308, 0.0], [-1.7e308, 5e-324]],
    ],
)
def test_exact_construction_works_where_float64_export_is_out_of_range(X):
    from optcore.memorization import memorize_deep

    X = np.array(X)
    y = np.linspace(-0.5, 0.5, X.shape[0])
    for c in (memorize(X, y), memorize_deep(X, y, width=8), memorize_classes(X, np.arange(X.shape[0]) % 2, 2)):
        exports = [c.float_layers, c.to_mlp]
        if c.widths[-1] == 1:  # the regression networks (the classifier's outputs are not the labels)
            assert verify_exact(c, X, y)
            exports.append(lambda c=c: float64_error(c, X, y))
        for export in exports:
            with pytest.raises(ValueError, match=r"float64 export is out of range: layer \d (weight|bias)"):
                export()
        with pytest.raises(ValueError, match="2.2e-308 to 1.8e308"):
            c.float_layers()


def test_float64_export_in_range_is_unchanged():
    c = memorize([[0.0], [1.0], [2.5]], [0.5, -0.5, 1.0])
    layers = c.float_layers()
    assert all(np.array_equal(Wf, [[float(w) for w in row] for row in W]) for (Wf, _), (W, _) in zip(layers, c.layers))
    assert c.max_weight() == max(float(np.max(np.abs(np.concatenate([W.ravel(), b])))) for W, b in layers)


@pytest.mark.parametrize("deep", [False, True])
def test_construction_is_scale_invariant(deep):
    # the outer ramps start a data-sized margin outside the projections: inputs 2^k X give the network of X with
    # the first layer's weights divided by 2^k (shallow), so float64 resolves them equally well at every scale (a
    # fixed margin of 1 gave float64 errors of 0.03 at scale 1e12 and 10 at 1e100 on this data, 3.5 on 1e-300, 2e-300)
    from optcore.memorization import memorize_deep

    rng = np.random.default_rng(0)
    X = np.round(rng.standard_normal((40, 2)), 4)
    y = np.round(rng.uniform(-1, 1, 40), 4)

    def build(X):
        return memorize_deep(X, y, width=8) if deep else memorize(X, y)

    base = build(X)
    for k in () if deep else (-1000, -40, 40, 330):  # (the deep net's carry channel holds z itself, scaled)
        scaled = build(np.ldexp(X, k))
        factor = 2 ** Fraction(-k)
        (W1, b1), *rest = scaled.layers
        assert W1 == [[w * factor for w in row] for row in base.layers[0][0]] and b1 == base.layers[0][1]
        assert rest == base.layers[1:]
    for scale in (1e-300, 1e-12, 1e12, 1e100, 1e290):
        assert float64_error(build(X * scale), X * scale, y) < 1e-9
    assert float64_error(memorize([[1e-300], [2e-300]], [0.5, -0.5]), [[1e-300], [2e-300]], [0.5, -0.5]) < 1e-12


def test_inputs_float64_cannot_hold_are_refused():
    # 2^53 + 1 would be memorized as 2^53 and called equal to it; a long double would be rounded silently
    from optcore.memorization import memorize_deep

    X = np.array([[2**53], [2**53 + 1], [0]])
    for call in (
        lambda: memorize(X, [0.5, -0.5, 0.1]),
        lambda: memorize_deep(X, [0.5, -0.5, 0.1], width=8),
        lambda: memorize_classes(X, np.array([0, 1, 0]), 2),
    ):
        with pytest.raises(ValueError, match=r"X\[1, 0\] = 9007199254740993 has no exact float64 value"):
            call()
    with pytest.raises(ValueError, match="X\\[1, 0\\] = 18446744073709551615 has no exact float64 value"):
        memorize(np.array([[1], [2**64 - 1]], dtype=np.uint64), [0.5, -0.5])
    if np.finfo(np.longdouble).nmant > 52:  # x87 long double (not where long double is float64)
        Xl = np.array([[1.0], [np.longdouble(1) + np.longdouble(2) ** -60]], dtype=np.longdouble)
        with pytest.raises(ValueError, match=r"X\[1, 0\] = .* has no exact float64 value"):
            memorize(Xl, [0.5, -0.5])
        with pytest.raises(ValueError, match=r"Y\[0\] = .* has no exact float64 value"):
            memorize([[0.0], [1.0]], np.array([np.longdouble(1) / 3, 0.5], dtype=np.longdouble))
    c = memorize(np.array([[2**60], [-(2**53)], [3]]), [0.5, -0.5, 0.1])  # large but exact integers are fine
    assert verify_exact(c, np.array([[2**60], [-(2**53)], [3]], dtype=float), [0.5, -0.5, 0.1])
    with pytest.raises(ValueError, match="has no exact float64 value"):
        verify_exact(c, np.array([[2**60 + 1], [-(2**53)], [3]]), [0.5, -0.5, 0.1])
    with pytest.raises(ValueError, match=r"X must have shape \(N, 1\)"):
        verify_exact(c, np.zeros((3, 2)), [0.5, -0.5, 0.1])


def test_capacity_counts_validate_their_arguments():
    with pytest.raises(ValueError, match="dy must be >= 1"):
        sufficient_count(8, 8, dy=0)  # was ZeroDivisionError
    with pytest.raises(ValueError, match="d1 must be >= 0"):
        sufficient_count(-4, 8)  # was the count -8
    with pytest.raises(TypeError, match="d2 must be an integer"):
        necessary_violation(2, 2.5, 10)
    with pytest.raises(ValueError, match="N must be >= 1"):
        minimal_widths(0)


def test_classification_label_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\) \(one class per row of X\), got \(3,\)"):
        memorize_classes([[0.0], [1.0]], np.array([0, 1, 1]), 2)
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        memorize_classes([[0.0], [1.0]], np.array([[0], [1]]), 2)
    with pytest.raises(TypeError, match="labels must be an integer array, got dtype float64"):
        memorize_classes([[0.0], [1.0]], np.array([0.0, 1.0]), 2)


def test_float32_export_names_its_own_range():
    # weights ~1e40 fit float64 but not float32: the cast overflowed to inf (RuntimeWarning, then a generic error)
    X, y = np.array([[1e-40], [2e-40], [3e-40]]), [0.5, -0.5, 0.2]
    c = memorize(X, y)
    assert float64_error(c, X, y) < 1e-12
    with pytest.raises(ValueError, match=r"float32 export is out of range: layer 1 weight \[0, 0\] .* 1.2e-38 to 3.4e"):
        c.to_mlp(dtype=np.float32)
    c = memorize([[0.0], [1.0], [2.5]], [0.5, -0.5, 1.0])
    net, params = c.to_mlp(dtype=np.float32)
    assert params.dtype == np.float32
    np.testing.assert_allclose(net.forward(params, [[0.0], [1.0], [2.5]])[:, 0], [0.5, -0.5, 1.0], atol=1e-5)


def test_inputs_without_coordinates_are_a_clear_error():
    with pytest.raises(ValueError, match=r"X needs at least one coordinate, got shape \(2, 0\)"):
        memorize(np.zeros((2, 0)), [0.5, 0.1])
