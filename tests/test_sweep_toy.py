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


def validated_run(config, seed):
    counter = os.environ.get(COUNTER_ENV)
    if counter:
        with open(counter, "a") as f:
            f.write(f"{config['n']}\n")
    return {"half": config["n"] // 2, "c_times_2": 2 * config["c"]}


def validate_even(config):
    if config["n"] % 2:
        raise ValueError(f"n must be even, got {config['n']}")


#: declares domains (n >= 2, c > 0 and finite) and a validate hook (n even)
VALIDATED = Experiment(
    name="toy-validated",
    summary="Toy experiment with parameter domains and a validate hook.",
    run=validated_run,
    params=(Param("n", int, (2, 4), "an even int", ge=2), Param("c", float, 1.0, "a positive float", gt=0)),
    validate=validate_even,
    seeds=1,
)

PID_DIR_ENV = "OPTCORE_TOY_PID_DIR"


def sleepy_run(config, seed):
    """Write this worker's pid and its environment's thread settings, then sleep (to be killed mid-way)."""
    folder = os.environ.get(PID_DIR_ENV)
    if folder:
        with open(os.path.join(folder, f"{os.getpid()}.pid"), "w") as f:
            f.write(str(os.getppid()))
    time.sleep(float(os.environ.get(SLEEP_ENV, "0")))
    from threadpoolctl import threadpool_info

    names = ("OPTCORE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    blas = max(library["num_threads"] for library in threadpool_info())  # numpy's OpenBLAS among them
    return {"pid": os.getpid(), "blas_threads": blas, **{name: os.environ.get(name, "") for name in names}}


SLEEPY = Experiment(
    name="toy-sleepy",
    summary="Toy experiment that reports its worker and sleeps.",
    run=sleepy_run,
    params=(Param("i", int, (0, 1, 2, 3), "a cell index"),),
    seeds=1,
)


def progress_run(config, seed):
    """A cell that reports its own progress (a bar shows once it has run a second)."""
    from optcore.experiments import progress

    total = 0
    for step in progress(range(config["steps"]), desc="inner steps"):
        time.sleep(0.3)
        total += step
    return {"total": total}


REPORTING = Experiment(
    name="toy-reporting",
    summary="Toy experiment whose cell reports its progress.",
    run=progress_run,
    params=(Param("steps", int, 5, "steps of 0.3 s", ge=1),),
    seeds=1,
)
