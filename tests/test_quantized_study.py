"""The ``coarse-gradient`` experiment on a small grid: rows, summary and figure."""

import numpy as np
import pytest

from optcore import experiments as ex


def test_coarse_gradient_experiment_small():
    res = ex.run_sweep(
        "coarse-gradient",
        {"m": 3, "n": 4, "runs": 3, "steps": 20, "samples": 20, "every": 10, "epochs": 2, "width": 8},
        seeds=1,
    )
    table = res.table
    assert set(table["section"]) == {"gaussian", "digits"}
    s = ex.get("coarse-gradient").summary_table(table)
    digits = s[s["part"] == "digits"]
    assert list(digits["method"]) == ["full_precision", "binaryconnect", "bcgd", "binaryconnect", "bcgd"]
    assert digits["bit_width"].tolist() == [32, 1, 1, 2, 2]
    assert np.all((digits["final_test_accuracy"] >= 0) & (digits["final_test_accuracy"] <= 1))
    assert np.all(np.isfinite(digits["final_train_loss"]))
    gauss = s[s["part"] == "gaussian"]
    assert len(gauss) == 2 * 5  # (v trained, v = v*) x (relu, identity closed form + sampled, clipped sampled)
    assert np.all((gauss["final_near_teacher"] >= 0) & (gauss["final_near_teacher"] <= 1))
    ex.draw(ex.get("coarse-gradient"), table)


def test_coarse_gradient_experiment_refuses_bad_parameters():
    with pytest.raises(ValueError, match="rho"):
        ex.run_sweep("coarse-gradient", {"rho": 1.5}, seeds=1)
    with pytest.raises(ValueError, match="bits"):
        ex.run_sweep("coarse-gradient", {"bits": "3"}, seeds=1)
