"""Toy experiments shared by the sweep and CLI tests (this module holds no tests).

They live in an importable module, not in a test function, because worker processes import ``run`` by name.
``toy`` appends one line per computed cell to the file named by $OPTCORE_TOY_COUNTER (so tests can count what
was recomputed) and sleeps $OPTCORE_TOY_SLEEP seconds per cell (so a test can kill a sweep mid-way).
"""

import os
import time

import numpy as np

from optcore.experiments import Experiment, Param

COUNTER_ENV = "OPTCORE_TOY_COUNTER"
SLEEP_ENV = "OPTCORE_TOY_SLEEP"


def toy_run(config, seed):
    counter = os.environ.get(COUNTER_ENV)
    if counter:
        with open(counter, "a") as f:
            f.write(f"{config['a']} {seed}\n")
    pause = float(os.environ.get(SLEEP_ENV, "0"))
    if pause:
        time.sleep(pause)
    rng = np.random.default_rng(seed)
    return {
        "value": config["a"] * config["scale"] + rng.standard_normal(),
        "noise": np.float32(rng.uniform()),  # numpy scalars become Python scalars
        "label_out": config["label"] + "!",
        "positive": bool(config["a"] > 0),
        "count": np.int64(config["a"]),
    }


def toy_figure(table, ax):
    for label, group in table.groupby("scale", sort=False):
        means = group.groupby("a", sort=False)["value"].mean()
        ax.plot(means.index, means.to_numpy(), marker="o", label=f"scale {label}")
    ax.set_xlabel("a")
    ax.set_ylabel("mean value")


def rows_run(config, seed):
    rng = np.random.default_rng(seed)
    return [{"step": s, "loss": float(rng.uniform()) / (s + 1)} for s in range(config["steps"])]


def bad_output_run(config, seed):
    return {"vector": np.zeros(3)}


def failing_run(config, seed):
    if config["a"] == 2:
        raise ArithmeticError("the toy fails at a = 2")
    return {"value": 1.0}


def make_toy(*, name="toy", version="1", seeds=2):
    return Experiment(
        name=name,
        summary="Toy experiment for the tests.",
        run=toy_run,
        params=(
            Param("a", int, (1, 2, 3), "an int grid axis"),
            Param("scale", float, 1.0, "a float"),
            Param("label", str, "x", "a string with choices", choices=("x", "y")),
            Param("flag", bool, False, "a bool"),
        ),
        version=version,
        seeds=seeds,
        figure=toy_figure,
    )


TOY = make_toy()
ROWS = Experiment(
    name="toy-rows",
    summary="Toy experiment returning several rows per cell.",
    run=rows_run,
    params=(Param("steps", int, 3, "rows per cell"),),
)
BAD_OUTPUT = Experiment(name="toy-bad-output", summary="Returns an array.", run=bad_output_run)
FAILING = Experiment(
    name="toy-failing",
    summary="Fails on one config.",
    run=failing_run,
    params=(Param("a", int, (1, 2, 3), "fails at 2"),),
    seeds=1,
)
