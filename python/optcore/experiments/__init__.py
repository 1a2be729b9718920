"""Experiments: sweeps over grids and seeds, resumable results, statistics and figures, and the ``optcore`` command.

An experiment is a function ``run(config, seed)`` returning a dict of scalars, declared with its parameters
(:class:`Param`: type, default, help, domain), a summary table and a figure, and found through the
``optcore.experiments`` entry-point group (optcore's own studies included) or registered with :func:`register`.
:func:`run_sweep` checks every configuration first, then runs it over a grid of configurations times seeds,
through any :class:`concurrent.futures.Executor` (in-process, ``workers=N`` local processes, or a Dask cluster),
caching every cell on disk so that an interrupted sweep resumes where it stopped, and returns a
:class:`ResultTable` (a tidy pandas table plus metadata) that saves as Parquet or CSV plus JSON.

>>> from optcore import experiments as ex
>>> result = ex.run_sweep("shuffling-rates", {"K": [16, 32]}, seeds=2)  # doctest: +SKIP
>>> ex.get("shuffling-rates").summary_table(result.table)  # doctest: +SKIP

See ``docs/experiments.md``.
"""

from __future__ import annotations

from .cache import Cache, CacheCorruptionWarning
from .modules import import_file_experiments, import_module_experiments
from .params import Param
from .plotting import band, draw, new_figure, save_figure
from .registry import (
    ENTRY_POINT_GROUP,
    Experiment,
    ExperimentLoadError,
    ExperimentLoadWarning,
    Timing,
    UnknownExperimentError,
    experiment_names,
    experiments,
    get,
    register,
    registered,
    source,
    unregister,
)
from .reporting import progress
from .results import ResultTable
from .stats import SlopeFit, loglog_slope, mean_band, t_quantile, wilson_interval
from .sweep import MAX_CELLS, cell_seed, check_sweep, code_version, expand_grid, run_sweep

__all__ = [
    "ENTRY_POINT_GROUP",
    "MAX_CELLS",
    "Cache",
    "CacheCorruptionWarning",
    "Experiment",
    "ExperimentLoadError",
    "ExperimentLoadWarning",
    "Param",
    "ResultTable",
    "SlopeFit",
    "Timing",
    "UnknownExperimentError",
    "band",
    "cell_seed",
    "check_sweep",
    "code_version",
    "draw",
    "expand_grid",
    "experiment_names",
    "experiments",
    "get",
    "import_file_experiments",
    "import_module_experiments",
    "loglog_slope",
    "mean_band",
    "new_figure",
    "progress",
    "register",
    "registered",
    "run_sweep",
    "save_figure",
    "source",
    "t_quantile",
    "unregister",
    "wilson_interval",
]
