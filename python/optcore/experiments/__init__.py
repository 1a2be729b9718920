"""Experiments: sweeps over grids and seeds, resumable results, statistics and figures, and the ``optcore`` command.

An experiment is a function ``run(config, seed)`` returning a dict of scalars, registered with its parameters
(:class:`Param`: type, default, help), a summary table and a figure. :func:`run_sweep` runs it over a grid of
configurations times seeds, through any :class:`concurrent.futures.Executor` (in-process, ``workers=N`` local
processes, or a Dask cluster), caching every cell on disk so that an interrupted sweep resumes where it stopped,
and returns a :class:`ResultTable` (a tidy pandas table plus metadata) that saves as Parquet or CSV plus JSON.

>>> from optcore import experiments as ex
>>> result = ex.run_sweep("shuffling-rates", {"K": [16, 32]}, seeds=2)  # doctest: +SKIP
>>> ex.get("shuffling-rates").summary_table(result.table)  # doctest: +SKIP

See ``docs/experiments.md``.
"""

from __future__ import annotations

from .cache import Cache, CacheCorruptionWarning
from .params import Param
from .plotting import band, draw, new_figure, save_figure
from .registry import Experiment, UnknownExperimentError, experiments, get, register, registered, unregister
from .results import ResultTable
from .stats import SlopeFit, loglog_slope, mean_band, t_quantile, wilson_interval
from .sweep import cell_seed, code_version, expand_grid, run_sweep

__all__ = [
    "Cache",
    "CacheCorruptionWarning",
    "Experiment",
    "Param",
    "ResultTable",
    "SlopeFit",
    "UnknownExperimentError",
    "band",
    "cell_seed",
    "code_version",
    "draw",
    "expand_grid",
    "experiments",
    "get",
    "loglog_slope",
    "mean_band",
    "new_figure",
    "register",
    "registered",
    "run_sweep",
    "save_figure",
    "t_quantile",
    "unregister",
    "wilson_interval",
]
