"""The edge-of-stability and hessian-density studies on tiny configurations."""

import numpy as np
import pytest

from optcore import MLP
from optcore.experiments import get
from optcore.spectrum.studies import digits_subset, run_edge_of_stability, run_hessian_density


def test_edge_of_stability_measures_the_exact_sharpness():
    config = dict(eta=0.3, steps=20, every=10, n=40, width=6, activation="tanh", instance=0)
    rows = run_edge_of_stability(config, seed=1)
    assert [r["step"] for r in rows] == [0, 10, 20]
    X, y = digits_subset(40, 0)
    mlp = MLP([64, 6, 6, 10], activation="tanh", loss="squared")
    H = mlp.hessian(mlp.init(1, seed=0)[0], X, np.eye(10)[y.astype(int)])
    assert rows[0]["sharpness"] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-6)
    assert all(r["two_over_eta"] == pytest.approx(2 / 0.3) and r["diverged"] == 0 for r in rows)
    summary = get("edge-of-stability").summary_table(_table(rows, eta=0.3))
    assert summary["2/eta"].iloc[0] == pytest.approx(2 / 0.3)


def test_edge_of_stability_stops_at_a_divergence():
    rows = run_edge_of_stability(dict(eta=50.0, steps=50, every=5, n=40, width=6, activation="tanh", instance=0), 0)
    assert rows and rows[-1]["diverged"] == 1 and rows[-1]["step"] < 50


def test_hessian_density_rows():
    config = dict(n=60, width=6, epochs=2, lr=0.05, vectors=2, lanczos_steps=8, instance=0)
    rows = run_hessian_density(config, seed=0)
    phases = {r["phase"] for r in rows}
    assert phases == {"initialization", "trained"}
    for phase in phases:
        g = [r for r in rows if r["phase"] == phase]
        assert all(r["density"] >= 0 for r in g) and g[0]["lambda_max"] > 0 and g[0]["slq_hvps"] == 16


def _table(rows, **keys):
    import pandas as pd

    t = pd.DataFrame(rows)
    for k, v in keys.items():
        t[k] = v
    t["replicate"] = 0
    return t
