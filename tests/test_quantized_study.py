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
    assert list(digits["method"]) == ["full_precision"] + ["binaryconnect", "bcgd"] * 4
    assert digits["bit_width"].tolist() == [32, 1, 1, 1, 1, 2, 2, 2, 2]
    assert digits["resolution"].tolist() == ["-"] + ["fixed", "fixed", "learned", "learned"] * 2
    learned = digits[digits["resolution"] == "learned"]
    assert np.all((learned[["final_alpha_1", "final_alpha_2"]] >= 1e-3).to_numpy())
    assert np.all((learned[["final_alpha_1", "final_alpha_2"]] <= 5).to_numpy())
    assert np.all(np.isnan(digits[digits["resolution"] != "learned"]["final_alpha_1"]))
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
    with pytest.raises(ValueError, match="rate_factor"):
        ex.run_sweep("coarse-gradient", {"rate_factor": 0.0}, seeds=1)
    with pytest.raises(ValueError, match="alpha_grad"):
        ex.run_sweep("coarse-gradient", {"alpha_grad": "exact"}, seeds=1)
    with pytest.raises(ValueError, match="rho_rate"):
        ex.run_sweep("coarse-gradient", {"rho_rate": 0.0}, seeds=1)


def test_coarse_gradient_digits_alone_with_a_growing_rho():
    """--part digits (the figure without the Gaussian part) and rho_k recorded per epoch."""
    res = ex.run_sweep("coarse-gradient", {"part": "digits", "runs": 2, "epochs": 3, "width": 8, "bits": "1",
                                           "alpha": "fixed", "rho": 1e-3, "rho_rate": 2.0}, seeds=1)
    d = res.table[res.table["method"] == "bcgd"]
    np.testing.assert_allclose(d["rho_epoch"].to_numpy()[1:], [1e-3, 2e-3, 4e-3])
    ex.draw(ex.get("coarse-gradient"), res.table)
