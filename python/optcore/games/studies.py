"""Registered experiment ``last-iterate`` (RELATED.md 4.5: Daskalakis & Panageas, last-iterate convergence).

Four parts, one cell each (the ``part`` grid axis):

* ``kl`` (E-g-1): KL(x*||x_t) + KL(y*||y_t), the duality gap of the last and of the average iterate against
  steps, MWU vs OMWU, on the 2 x 2 game [[2, -1], [-1, 1]] (start x0 = (0.9, 0.1), y0 = (0.2, 0.8)) and
  rock-paper-scissors-like [[0, -1, 2], [1, 0, -3], [-2, 3, 0]] (uniform start).
* ``rate``: the measured asymptotic per-step rate of OMWU (the square root of the KL ratio over the last
  decade of KL above 1e-10) and the spectral radius of the numerical Jacobian, against the closed form
  rho(eta) of RELATED.md 4.4, on those games, our skew-symmetric 3 x 3 game, and the dominated-row game.
* ``threshold``: unconstrained OGDA, GDA and extragradient on A = default_rng(0).standard_normal((5, 5)):
  the measured growth or decay rate of |z_t| against eta sigma_max, with the closed forms (OGDA diverges iff
  eta sigma_max > 1/sqrt(3), GDA always, extragradient iff eta sigma_max > 1).
* ``scaling`` (E-g-2): OMWU on random n x n games with U[-1, 1] entries (seeds 0..games-1), uniform start:
  steps until |x - x*|_1 + |y - y*|_1 <= tol, capped at ``budget``; the fraction converged per n, and each
  instance's closed-form local rate.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..experiments.params import Param
from ..experiments.registry import Experiment, Timing
from ..experiments.stats import wilson_interval
from ..sgd import DivergenceWarning
from .dynamics import random_games, run_game
from .equilibrium import solve_game
from .rates import jacobian_radius, local_rate, mode_frequencies

GAMES = {
    "2x2": np.array([[2.0, -1.0], [-1.0, 1.0]]),
    "rps": np.array([[0.0, -1.0, 2.0], [1.0, 0.0, -3.0], [-2.0, 3.0, 0.0]]),
    "skew3": np.array([[0.0, 2.0, -1.0], [-2.0, 0.0, 3.0], [1.0, -3.0, 0.0]]),
    "dominated": np.array([[2.0, -1.0], [-1.0, 1.0], [-2.0, -2.0]]),
}
STARTS = {"2x2": ([0.9, 0.1], [0.2, 0.8])}
PARTS = ("kl", "rate", "threshold", "scaling")
RATE_ETAS = (0.01, 0.05, 0.1, 0.2, 0.3)
#: eta sigma_max of the threshold part: a grid, plus points on both sides of 1/sqrt(3) and of 1
THRESHOLD_C = tuple(sorted({*np.round(np.linspace(0.05, 1.1, 22), 4), 0.57, 0.585, 0.99, 1.01}))


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"sizes must be a comma list of integers >= 2, got {text!r}") from None
    if not sizes or min(sizes) < 2 or max(sizes) > 200:
        raise ValueError(f"sizes must be a comma list of integers in [2, 200], got {text!r}")
    return sizes


def validate(config: dict) -> None:
    """sizes parses; the KL traces record at least twice."""
    _sizes(config["sizes"])
    if config["record_every"] > config["steps"]:
        raise ValueError(f"record_every ({config['record_every']}) must be <= steps ({config['steps']})")


def _kl_rows(config):
    rows = []
    for name in ("2x2", "rps"):
        x0, y0 = STARTS.get(name, (None, None))
        for method in ("mwu", "omwu"):
            res = run_game(GAMES[name], method, steps=config["steps"], step_size=config["eta"], x0=x0, y0=y0,
                           record_every=config["record_every"])
            for k, t in enumerate(res.steps):
                rows.append({"game": name, "method": method, "step": int(t),
                             "kl": float(res.kl[0, k]), "gap": float(res.gap[0, k]),
                             "avg_gap": float(res.avg_gap[0, k])})
    return rows


def _measured_rate(kl: np.ndarray, every: int, floor: float = 1e-10) -> float:
    """sqrt of the per-step KL ratio over the last stretch above `floor` (at most a factor 1e4 of decay)."""
    above = np.flatnonzero(kl > floor)
    if above.size < 2:
        return float("nan")
    t2 = above[-1]
    t1 = max(0, np.flatnonzero(kl > kl[t2] * 1e4)[-1] if np.any(kl > kl[t2] * 1e4) else 0)
    t1 = max(t1, t2 // 2)
    if t2 - t1 < 2:
        return float("nan")
    return float((kl[t2] / kl[t1]) ** (1.0 / (2.0 * (t2 - t1) * every)))


def _rate_rows(config):
    rows = []
    budget, every = config["budget"], 10
    for name in ("2x2", "rps", "skew3", "dominated"):
        A = GAMES[name]
        eq = solve_game(A)
        x0, y0 = STARTS.get(name, (None, None))
        res = run_game(A, "omwu", steps=budget, step_size=np.array(RATE_ETAS), x0=x0, y0=y0, record_every=every)
        s = mode_frequencies(A, "omwu", equilibrium=eq)
        for r, eta in enumerate(RATE_ETAS):
            rows.append({
                "game": name, "method": "omwu", "step_size": eta, "eps_min": float(eta * s.min()),
                "eps_max": float(eta * s.max()),
                "measured_rate": _measured_rate(res.kl[r], every),
                "jacobian_rate": jacobian_radius(A, eta, "omwu", equilibrium=eq) if eq.interior else float("nan"),
                "predicted_rate": local_rate(A, eta, "omwu", equilibrium=eq),
                "mwu_predicted_rate": local_rate(A, eta, "mwu", equilibrium=eq),
            })
    return rows


def _threshold_rows(config):
    A = np.random.default_rng(0).standard_normal((5, 5))
    smax = float(np.linalg.svd(A, compute_uv=False).max())
    z0 = np.random.default_rng(1).standard_normal(10)
    c = np.array(THRESHOLD_C)
    steps, every = config["steps"], 100
    rows = []
    for method in ("ogda", "gda", "extragradient"):
        with warnings.catch_warnings():  # the runs beyond the threshold overflow: that is what is measured here
            warnings.simplefilter("ignore", DivergenceWarning)
            res = run_game(A, method, steps=steps, step_size=c / smax, x0=z0[:5], y0=z0[5:],
                           domain="unconstrained", record_every=every)
        for r, cr in enumerate(c):
            d = res.dist[r]
            ok = np.flatnonzero(np.isfinite(d) & (d > 1e-250) & (d < 1e250))
            t2 = ok[-1]
            t1 = t2 // 2
            measured = float((d[t2] / d[t1]) ** (1.0 / ((t2 - t1) * every))) if t2 - t1 >= 1 else float("nan")
            rows.append({"game": "gaussian5", "method": method, "eta_sigma": float(cr),
                         "step_size": float(cr / smax), "measured_rate": measured,
                         "predicted_rate": local_rate(A, cr / smax, method, domain="unconstrained")})
    return rows


def _scaling_rows(config):
    rows = []
    for n in _sizes(config["sizes"]):
        A = random_games(n, seeds=range(config["games"]))
        eqs = [solve_game(a) for a in A]
        res = run_game(A, "omwu", steps=config["budget"], step_size=config["eta"], equilibrium=eqs,
                       record_every=config["budget"], tol=config["tol"])
        for g, eq in enumerate(eqs):
            rate = local_rate(A[g], config["eta"], "omwu", equilibrium=eq) if eq.unique else float("nan")
            s = mode_frequencies(A[g], "omwu", equilibrium=eq) if eq.unique else np.array([np.nan])
            at = int(res.converged_at[g])
            rows.append({"game": f"uniform{n}", "method": "omwu", "n": n, "instance": g,
                         "step_size": config["eta"], "converged": int(at >= 0),
                         "steps_to_tol": at if at >= 0 else np.nan,
                         "support": int(eq.support_x.size), "unique": int(eq.unique),
                         "s_min": float(s.min()) if s.size else np.nan, "predicted_rate": rate,
                         "final_l1": float(np.abs(res.x[g] - eq.x).sum() + np.abs(res.y[g] - eq.y).sum())})
    return rows


def run_last_iterate(config: dict, seed: int) -> list[dict]:
    """One part (see the module docstring); every instance is fixed, so the seed is not used."""
    del seed
    return {"kl": _kl_rows, "rate": _rate_rows, "threshold": _threshold_rows, "scaling": _scaling_rows}[
        config["part"]](config)


def summarize_last_iterate(table: pd.DataFrame) -> pd.DataFrame:
    """One line per measured quantity, with the closed form (RELATED.md 4.4) where there is one."""
    out = []
    parts = set(table["part"])

    def row(part, case, quantity, measured, closed_form=np.nan):
        out.append({"part": part, "case": case, "quantity": quantity, "measured": float(measured),
                    "closed_form": float(closed_form), "difference": float(measured) - float(closed_form)})

    if "kl" in parts:
        for (game, method), g in table[table["part"] == "kl"].groupby(["game", "method"], sort=True):
            g = g.sort_values("step")
            at = g[g["step"] == 1000]["kl"]
            if len(at):
                row("kl", f"{game} {method}", "KL at t = 1000", at.iloc[0])
            row("kl", f"{game} {method}", f"KL at t = {int(g['step'].iloc[-1])}", g["kl"].iloc[-1])
    if "rate" in parts:
        for _, r in table[table["part"] == "rate"].iterrows():
            row("rate", f"{r['game']} eta={r['step_size']:g}", "OMWU rate (KL ratio)", r["measured_rate"],
                r["predicted_rate"])
    if "threshold" in parts:
        for method, g in table[table["part"] == "threshold"].groupby("method", sort=True):
            measured = g[g["measured_rate"] > 1]["eta_sigma"]
            predicted = g[g["predicted_rate"] > 1]["eta_sigma"]
            row("threshold", method, "smallest diverging eta*sigma_max on the grid",
                measured.min() if len(measured) else np.nan, predicted.min() if len(predicted) else np.nan)
    if "scaling" in parts:
        for n, g in table[table["part"] == "scaling"].groupby("n", sort=True):
            row("scaling", f"n={int(n)}", "fraction converged", g["converged"].mean())
            row("scaling", f"n={int(n)}", "median steps (converged runs)", g["steps_to_tol"].median())
    return pd.DataFrame(out)


def figure_last_iterate(table: pd.DataFrame, axes) -> None:
    """(a) KL vs steps, (b) measured vs closed-form rate, (c) OGDA/GDA/EG rate vs eta sigma_max, (d) scaling."""
    ax_kl, ax_rate, ax_th, ax_sc = axes
    kl = table[table["part"] == "kl"]
    for (game, method), g in kl.groupby(["game", "method"], sort=True):
        # below ~1e-15 the KL is rounding noise (it even turns negative): not drawn
        ax_kl.semilogy(g["step"], g["kl"].where(g["kl"] > 1e-15), ls="-" if method == "omwu" else "--",
                       label=f"{game} {method}")
    ax_kl.set_xlabel("step t")
    ax_kl.set_ylabel("KL(x*||x_t) + KL(y*||y_t)")
    ax_kl.set_title("(a) last iterate: MWU vs OMWU, eta = 0.1")
    rate = table[table["part"] == "rate"]
    for game, g in rate.groupby("game", sort=True):
        ax_rate.plot(g["step_size"], 1 - g["measured_rate"], "o", label=f"{game} measured")
        ax_rate.plot(g["step_size"], 1 - g["predicted_rate"], "k:", lw=1)
    ax_rate.set_xscale("log")
    ax_rate.set_yscale("log")
    ax_rate.set_xlabel("step size eta")
    ax_rate.set_ylabel("1 - rate (dotted: closed form)")
    ax_rate.set_title("(b) OMWU asymptotic rate")
    th = table[table["part"] == "threshold"]
    for method, g in th.groupby("method", sort=True):
        line, = ax_th.plot(g["eta_sigma"], g["measured_rate"], "o", ms=3, label=f"{method} measured")
        ax_th.plot(g["eta_sigma"], g["predicted_rate"], "-", lw=1, color=line.get_color())  # closed form
    ax_th.axhline(1.0, color="k", lw=0.5)
    ax_th.axvline(1 / np.sqrt(3), color="gray", ls=":", lw=1, label="1/sqrt(3)")
    ax_th.set_xlabel("eta * sigma_max")
    ax_th.set_ylabel("per-step rate of |z_t| (lines: closed form)")
    ax_th.set_title("(c) unconstrained: divergence threshold")
    sc = table[table["part"] == "scaling"]
    if len(sc):
        stats = sc.groupby("n")["converged"].agg(["sum", "count"])
        lo, hi = wilson_interval(stats["sum"].to_numpy(), stats["count"].to_numpy())
        frac = stats["sum"] / stats["count"]
        ax_sc.errorbar(stats.index, frac, yerr=[frac - lo, hi - frac], marker="o", capsize=3,
                       label="converged within budget")
    ax_sc.set_xscale("log")
    if len(sc):
        ax_sc.set_xticks(sorted(set(sc["n"].astype(int))), [str(n) for n in sorted(set(sc["n"].astype(int)))])
        ax_sc.minorticks_off()
    ax_sc.set_ylim(-0.05, 1.05)
    ax_sc.set_xlabel("n (n x n games, U[-1, 1])")
    ax_sc.set_ylabel("fraction converged (95% Wilson)")
    ax_sc.set_title("(d) OMWU on random games")


LAST_ITERATE = Experiment(
    name="last-iterate",
    summary="Zero-sum games: last-iterate KL of MWU vs OMWU, OMWU's rate vs the closed form, OGDA/GDA threshold, "
    "random-game scaling.",
    run=run_last_iterate,
    params=(
        Param("part", str, PARTS, "which measurement (a grid axis)", choices=PARTS),
        Param("eta", float, 0.1, "step size of the KL traces and of the random games", gt=0, le=10),
        Param("steps", int, 20000, "steps of the KL traces and of the threshold runs", ge=10, le=10**7),
        Param("record_every", int, 100, "KL trace resolution (steps)", ge=1, le=10**6),
        Param("budget", int, 100000, "step cap of the rate and scaling runs", ge=100, le=10**8),
        Param("sizes", str, "2,5,10,20", "game sizes n of the scaling part (comma list)"),
        Param("games", int, 10, "random games per size (seeds 0..games-1)", ge=1, le=10000),
        Param("tol", float, 1e-2, "l1 distance counted as converged", gt=0, le=4),
    ),
    timing=Timing(
        seconds=38.0,
        cpu_seconds=7.5,
        machine="2-core x86-64 AVX2, shared with other jobs (load average 21); serial, no cache",
    ),
    validate=validate,
    version="1",
    seeds=1,
    panels=4,
    figure=figure_last_iterate,
    summarize=summarize_last_iterate,
)
