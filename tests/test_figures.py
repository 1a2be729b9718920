"""The statistics behind the studies' figures and tables: Wilson intervals, bands, the rates fit, exact expectations.

Each test would have caught a figure that misled: a legend slope fitted on other points than the table's, a
constant "expected" slope whatever n, c and K, a band drawn from two seeds or down to mean x 1e-3, error bars
below 0%, an absolute value hiding a sign.
"""

import itertools
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from optcore.experiments import band, mean_band, new_figure, t_quantile, wilson_interval
from optcore.shuffling.exact import EXACT_ORDERS, exact_slope_1d, expected_gap_1d
from optcore.shuffling.studies_rates import RATES, figure_flipflop, figure_rates, summarize_flipflop, summarize_rates


# --- Wilson interval ------------------------------------------------------------------------------------------------
def test_wilson_interval_known_values():
    # 0 of 50 at 95%: [0, z^2 / (n + z^2)] -- an interval, not the empty +-0 of the normal approximation
    z = NormalDist().inv_cdf(0.975)
    lo, hi = wilson_interval(0, 50)
    assert lo == 0.0 and hi == pytest.approx(z**2 / (50 + z**2), rel=1e-12) and hi == pytest.approx(0.07135, abs=1e-5)
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and lo == pytest.approx(50 / (50 + z**2), rel=1e-12)
    # 5 of 10: the textbook (0.2366, 0.7634)
    lo, hi = wilson_interval(5, 10)
    assert (float(lo), float(hi)) == pytest.approx((0.23659, 0.76341), abs=1e-5)


def test_wilson_interval_against_closed_form():
    k = np.array([0, 1, 3, 17, 49, 50, 250])
    n = np.array([50, 50, 7, 40, 50, 50, 500])
    for level in (0.9, 0.95, 0.99):
        z = NormalDist().inv_cdf((1 + level) / 2)
        p = k / n
        centre = (k + z**2 / 2) / (n + z**2)
        half = z * np.sqrt(n) / (n + z**2) * np.sqrt(p * (1 - p) + z**2 / (4 * n))
        lo, hi = wilson_interval(k, n, level=level)
        assert np.allclose(lo, np.clip(centre - half, 0, 1), rtol=1e-12, atol=1e-15)
        assert np.allclose(hi, np.clip(centre + half, 0, 1), rtol=1e-12, atol=1e-15)
        assert np.all((lo >= 0) & (lo <= p) & (p <= hi) & (hi <= 1)) and np.all(hi > lo)


def test_wilson_interval_rejects_bad_counts():
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(6, 5)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(-1, 5)
    with pytest.raises(ValueError, match="trials"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 5, level=1.0)


# --- bands ----------------------------------------------------------------------------------------------------------
def test_no_band_below_three_seeds():
    table = pd.DataFrame({"K": [8, 8, 16, 16, 16, 32], "gap": [1.0, 2.0, 0.5, 0.7, 0.6, 0.1]})
    out = mean_band(table, "K", "gap")
    assert out["count"].tolist() == [2, 3, 1]
    assert math.isnan(out["lo"].iloc[0]) and math.isnan(out["hi"].iloc[0])  # two seeds: no band
    assert not math.isnan(out["sem"].iloc[0])  # ... though the standard error is reported
    assert np.isfinite(out["lo"].iloc[1]) and np.isfinite(out["hi"].iloc[1])
    assert math.isnan(out["lo"].iloc[2])
    two = mean_band(table, "K", "gap", min_count=2)
    assert np.isfinite(two["lo"].iloc[0])
    with pytest.raises(ValueError, match="min_count"):
        mean_band(table, "K", "gap", min_count=1)


def test_log_band_is_the_t_interval_of_log_mean():
    # three seeds whose linear t-interval reaches below zero
    table = pd.DataFrame({"K": [4, 4, 4], "gap": [1e-4, 1e-6, 5e-3]})
    linear = mean_band(table, "K", "gap").iloc[0]
    assert linear["lo"] < 0
    log = mean_band(table, "K", "gap", log=True).iloc[0]
    q = t_quantile(0.975, 2)
    spread = math.exp(q * linear["sem"] / linear["mean"])
    assert log["lo"] == pytest.approx(linear["mean"] / spread) and log["hi"] == pytest.approx(linear["mean"] * spread)
    assert 0 < log["lo"] < log["mean"] < log["hi"]


def test_band_on_log_axis_never_invents_a_lower_bound():
    fig, ax = new_figure()
    ax.set_yscale("log")
    band(ax, [1, 2, 3], [1e-3, 1e-4, 1e-5], [-1.0, 5e-5, np.nan], [2e-3, 2e-4, 2e-5], label="x", log=True)
    (shade,) = ax.collections
    ys = np.concatenate([p.vertices[:, 1] for p in shade.get_paths()])
    assert ys.min() >= 5e-5  # only the point with a positive band is shaded; no 1e-6 (mean x 1e-3) floor
    fig2, ax2 = new_figure()
    band(ax2, [1, 2], [1.0, 2.0], [np.nan, np.nan], [np.nan, np.nan], label="y", log=True)
    assert not ax2.collections  # no band at all, rather than an empty or invented one


# --- exact expectations on THEORY.md 4.7's instance -----------------------------------------------------------------
def _brute_force_gap(order: str, n: int, K: int, c: float) -> float:
    """E[x_T^2 / 2] by enumerating every index sequence (with replacement) or permutation draw, stepping
    x <- x - eta (x - b_i) from x0 = 1 with eta = c log(nK) / (nK): THEORY.md 4.7 evaluated directly."""
    eta = c * math.log(n * K) / (n * K)
    b = [1.0] * (n // 2) + [-1.0] * (n // 2)

    def run(indices):
        x = 1.0
        for i in indices:
            x -= eta * (x - b[i])
        return 0.5 * x * x

    perms = list(itertools.permutations(range(n)))
    identity = list(range(n))
    if order == "with_replacement":
        return float(np.mean([run(seq) for seq in itertools.product(range(n), repeat=n * K)]))
    if order == "incremental":
        return run(identity * K)
    if order == "flipflop_ig":
        return run([i for k in range(K) for i in (identity[::-1] if k % 2 else identity)])
    if order == "single_shuffle":
        return float(np.mean([run(list(p) * K) for p in perms]))
    if order == "flipflop_ss":
        return float(np.mean([run([i for k in range(K) for i in (p[::-1] if k % 2 else p)]) for p in perms]))
    if order == "random_reshuffling":
        return float(np.mean([run([i for p in draw for i in p]) for draw in itertools.product(perms, repeat=K)]))
    if order == "flipflop_rr":  # epochs 2j and 2j + 1 share a permutation, the odd one reversed
        pairs = (K + 1) // 2
        gaps = []
        for draw in itertools.product(perms, repeat=pairs):
            seq = [i for k in range(K) for i in (draw[k // 2][::-1] if k % 2 else draw[k // 2])]
            gaps.append(run(seq))
        return float(np.mean(gaps))
    raise AssertionError(order)


@pytest.mark.parametrize("order", EXACT_ORDERS)
def test_exact_expectation_against_enumeration(order):
    for n, K, c in [(4, 2, 3.0), (4, 3, 1.5)]:
        if order == "with_replacement" and K > 2:
            continue  # 4^12 sequences
        assert expected_gap_1d(order, n, K, c=c) == pytest.approx(_brute_force_gap(order, n, K, c), rel=1e-12)


def test_exact_slopes_reproduce_theory_4_7():
    quoted = {"with_replacement": -0.878, "random_reshuffling": -2.562, "single_shuffle": -1.743, "incremental": -1.724}
    for order, value in quoted.items():
        assert exact_slope_1d(order, 64, [16, 32, 64, 128], c=3.0) == pytest.approx(value, abs=5e-4)


def _synthetic_rates(n=64, c=3.0, Ks=(8, 16, 32, 64, 128), orders=RATES.param("order").default, seeds=3, noise=0.1):
    """A rates-shaped table: the exact expectations times seeded log-normal noise."""
    rng = np.random.default_rng(0)
    rows = []
    for order in orders:
        for K in Ks:
            for seed in range(seeds):
                gap = expected_gap_1d(order, n, K, c=c) * math.exp(noise * rng.standard_normal())
                rows.append({"order": order, "K": K, "n": n, "c": c, "runs": 10, "gap": gap, "seed": seed})
    return pd.DataFrame(rows)


def test_exact_slope_column_follows_n_c_and_K():
    base = summarize_rates(_synthetic_rates()).set_index("order")["exact_slope"]
    for order, value in base.items():
        assert value == pytest.approx(exact_slope_1d(order, 64, [16, 32, 64, 128], c=3.0), rel=1e-12)
    for kwargs, (n, c, Ks) in [
        ({"n": 16}, (16, 3.0, [16, 32, 64, 128])),
        ({"c": 1.5}, (64, 1.5, [16, 32, 64, 128])),
        ({"Ks": (16, 32)}, (64, 3.0, [16, 32])),
    ]:
        other = summarize_rates(_synthetic_rates(**kwargs)).set_index("order")["exact_slope"]
        for order, value in other.items():
            assert value == pytest.approx(exact_slope_1d(order, n, Ks, c=c), rel=1e-12)
        assert not np.allclose(other.to_numpy(), base.to_numpy(), atol=1e-3), kwargs
    # n as a grid axis: one row per (order, n), each with its own exact slope
    both = pd.concat([_synthetic_rates(n=16), _synthetic_rates(n=64)], ignore_index=True)
    s = summarize_rates(both)
    assert len(s) == 8 and set(s["n"]) == {16, 64}
    for _, row in s.iterrows():
        assert row["exact_slope"] == pytest.approx(exact_slope_1d(row["order"], row["n"], [16, 32, 64, 128]))


# --- the rates figure shows the table's fit -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("figure", "summarize", "orders"),
    [
        (figure_rates, summarize_rates, ("random_reshuffling", "single_shuffle", "incremental")),
        (figure_flipflop, summarize_flipflop, ("random_reshuffling", "flipflop_rr", "incremental")),
    ],
)
def test_rates_legend_slope_is_the_table_slope(figure, summarize, orders):
    table = _synthetic_rates(orders=orders, noise=0.3)
    table.loc[table["K"] == 8, "gap"] *= 5  # a pre-asymptotic K = 8 that an all-K fit would feel
    summary = summarize(table).set_index("order")
    fig, ax = new_figure()
    figure(table, ax)
    labels = {line.get_label(): line for line in ax.get_lines()}
    for order in orders:
        (text,) = [t for t in labels if t.startswith(f"{order}: ")]
        legend_slope = float(text.split("slope ")[1].split(" ")[0])
        assert legend_slope == pytest.approx(summary.loc[order, "slope_K"], abs=0.005)
        assert f"exact {summary.loc[order, 'exact_slope']:.2f}" in text
        # the dashed fitted line spans the fitted K only, and is the table's fit
        color = labels[text].get_color()
        (dashed,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--" and ln.get_color() == color]
        ks, ys = dashed.get_data()
        assert min(ks) == 16
        assert np.polyfit(np.log(ks), np.log(ys), 1)[0] == pytest.approx(summary.loc[order, "slope_K"], rel=1e-9)
    means = table.groupby(["order", "K"])["gap"].mean()["incremental"]
    all_k = np.polyfit(np.log(means.index.to_numpy(float)), np.log(means.to_numpy()), 1)[0]
    assert abs(all_k - summary.loc["incremental", "slope_K"]) > 0.05  # the test would catch an all-K legend


# --- studies' figures ----------------------------------------------------------------------------------------------
def test_spurious_minima_bars_are_wilson_intervals():
    from optcore.landscape.studies import figure_spurious, summarize_spurious

    rows = [
        {"k": k, "excess": 0, "n": k, "starts": 50, "spurious_pct": pct, "seed": 0, "replicate": 0}
        for k, pct in [(6, 0.0), (7, 2.0), (8, 100.0)]
    ]
    cols = ["global_pct", "undetermined_pct", "not_converged_pct", "distinct_spurious", "mean_lambda_min"]
    table = pd.DataFrame(rows).assign(**{c: 0.0 for c in cols}, mean_loss=np.nan, seconds=1.0)
    s = summarize_spurious(table)
    lo, hi = wilson_interval([0, 1, 50], 50)
    assert np.allclose(s["wilson_lo_pct"], 100 * lo) and np.allclose(s["wilson_hi_pct"], 100 * hi)
    fig, ax = new_figure()
    figure_spurious(table, ax)
    (bars,) = [c for c in ax.collections if len(c.get_segments()) == 3]
    spans = np.array([[seg[:, 1].min(), seg[:, 1].max()] for seg in bars.get_segments()])
    assert np.all(spans[:, 0] >= 0) and np.all(spans[:, 1] <= 100)
    assert spans[0, 1] > 5  # 0 of 50: a bar up to 7.1%, not none


def test_matrix_products_figure_keeps_the_sign():
    from optcore.shuffling.studies_matrices import figure_matrices

    table = pd.DataFrame(
        {
            "n": [3, 3, 4, 4],
            "K": 2,
            "dim": 5,
            "eta": 0.1,
            "gap_ss_rs": [1e-6, -2e-7, 3e-6, 4e-7],
            "gap_rs_gd": [1e-3, 2e-3, 1e-3, 3e-3],
            "float64_error": 1e-15,
        }
    )
    fig, ax = new_figure()
    figure_matrices(table, ax)
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if hasattr(c, "get_offsets")])
    assert np.any(ys < 0) and ys.min() == pytest.approx(-2e-7)  # the violation is drawn below zero
    assert ax.get_yscale() == "symlog"
    assert any("(1 violations of 4)" in label for label in ax.get_legend_handles_labels()[1])
