"""Statistics helpers: log-log slopes with bootstrap intervals, mean and confidence bands, t quantiles."""

import math

import numpy as np
import pandas as pd
import pytest

from optcore.experiments import SlopeFit, loglog_slope, mean_band, t_quantile


def test_exact_power_law():
    x = np.array([8, 16, 32, 64, 128])
    fit = loglog_slope(x, 5.0 * x**-2.5)
    assert isinstance(fit, SlopeFit)
    slope, intercept, (lo, hi) = fit
    assert slope == pytest.approx(-2.5, abs=1e-12) and intercept == pytest.approx(math.log(5.0), abs=1e-12)
    assert lo == pytest.approx(-2.5, abs=1e-12) and hi == pytest.approx(-2.5, abs=1e-12)


def test_bootstrap_over_points_covers_the_truth_and_is_deterministic():
    rng = np.random.default_rng(1)
    x = np.geomspace(10, 1000, 12)
    y = 3 * x**-1.0 * np.exp(rng.normal(0, 0.2, x.size))
    fit = loglog_slope(x, y, seed=4)
    assert fit.ci[0] < fit.slope < fit.ci[1]
    assert fit.ci[0] < -1.0 < fit.ci[1] and fit.ci[1] - fit.ci[0] < 0.5
    assert loglog_slope(x, y, seed=4) == fit
    assert loglog_slope(x, y, seed=5).ci != fit.ci
    wider = loglog_slope(x, y, seed=4, level=0.99)
    assert wider.ci[0] < fit.ci[0] and wider.ci[1] > fit.ci[1]


def test_bootstrap_over_seeds_fits_the_log_of_the_mean():
    rng = np.random.default_rng(2)
    x = np.array([16, 32, 64, 128])
    y = x[:, None] ** -2.0 * rng.exponential(1.0, (4, 20))  # S = 20 seeds per point
    fit = loglog_slope(x, y)
    assert fit.slope == pytest.approx(np.polyfit(np.log(x), np.log(y.mean(axis=1)), 1)[0], rel=1e-12)
    assert fit.ci[0] < -2.0 < fit.ci[1]
    no_boot = loglog_slope(x, y, n_boot=0)
    assert no_boot.slope == fit.slope and all(math.isnan(v) for v in no_boot.ci)


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1.0], [1.0], "at least two points"),
        ([1.0, 2.0], [1.0, 2.0, 3.0], "shape"),
        ([1.0, 1.0], [1.0, 2.0], "two distinct"),
        ([0.0, 2.0], [1.0, 2.0], "x must be positive"),
        ([1.0, 2.0], [1.0, -2.0], "y must be positive"),
        ([1.0, 2.0], [1.0, np.nan], "y must be positive and finite"),
    ],
)
def test_loglog_slope_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        loglog_slope(x, y)


def test_loglog_slope_bad_options():
    with pytest.raises(ValueError, match="n_boot"):
        loglog_slope([1, 2], [1, 2], n_boot=-1)
    with pytest.raises(ValueError, match="level"):
        loglog_slope([1, 2], [1, 2], level=1.5)


def test_mean_band():
    table = pd.DataFrame({"K": [8, 8, 8, 16, 16, 32], "order": ["rr"] * 6, "gap": [1.0, 2.0, 3.0, 0.5, 0.7, 0.1]})
    band = mean_band(table, ["order", "K"], "gap", level=0.9)
    assert list(band.columns) == ["order", "K", "mean", "lo", "hi", "sem", "count"]
    assert band["K"].tolist() == [8, 16, 32] and band["count"].tolist() == [3, 2, 1]
    first = band.iloc[0]
    sem = np.std([1.0, 2.0, 3.0], ddof=1) / math.sqrt(3)
    q = t_quantile(0.95, 2)
    assert (first["mean"], first["sem"]) == pytest.approx((2.0, sem))
    assert (first["lo"], first["hi"]) == pytest.approx((2.0 - q * sem, 2.0 + q * sem))
    single = band.iloc[2]
    assert single["mean"] == 0.1 and math.isnan(single["lo"]) and math.isnan(single["hi"])
    assert mean_band(table, "K", "gap")["K"].tolist() == [8, 16, 32]
    with pytest.raises(ValueError, match=r"columns \['width'\] are not in the table; its columns: K, order, gap"):
        mean_band(table, "width", "gap")


def test_t_quantile_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in [1, 2, 3, 4, 5, 9, 10, 30, 299, 300, 301, 1000, 10**6]:
        for p in [0.6, 0.9, 0.95, 0.975, 0.995, 0.9995]:
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)
            assert t_quantile(1 - p, df) == pytest.approx(stats.t.ppf(1 - p, df), rel=1e-9)
    assert t_quantile(0.5, 7) == 0.0
    with pytest.raises(ValueError, match="df"):
        t_quantile(0.9, 0)
    with pytest.raises(ValueError, match="p must be in"):
        t_quantile(1.0, 3)


def test_mean_band_groups_by_a_column_named_n():
    # a study grouped by the number of components n must not collide with the band's own columns
    table = pd.DataFrame({"n": [4, 4, 8, 8], "gap": [1.0, 3.0, 2.0, 2.0]})
    band = mean_band(table, "n", "gap")
    assert band["n"].tolist() == [4, 8] and band["count"].tolist() == [2, 2]
    with pytest.raises(ValueError, match="clash"):
        mean_band(table.rename(columns={"n": "count"}), "count", "gap")
