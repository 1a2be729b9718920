"""What an experiment declares: its run function, parameters, checks, expected time, summary and figure."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .params import Param

#: names an experiment's parameters and outputs may not take: they are the sweep's own columns and options
RESERVED = frozenset(
    {
        "replicate",
        "seed",
        "seeds",
        "workers",
        "dask",
        "out",
        "cache",
        "no_cache",
        "quiet",
        "help",
        "force",
        "format",
        "max_cells",
        "module",
        "version",
    }
)


@dataclass(frozen=True)
class Timing:
    """How long ``optcore run NAME`` took with the default grid, and on what: shown by ``optcore run NAME --help``.

    Parameters
    ----------
    seconds : float
        Wall time of the whole command (imports, every cell serially, the figure), without cache.
    machine : str
        Where it was measured (cores, CPU, how busy), so that a reader can scale it to their machine.
    cpu_seconds : float, optional
        The CPU time (user + system) the command used: less dependent on how busy the machine was.
    """

    seconds: float
    machine: str
    cpu_seconds: float | None = None

    def __post_init__(self):
        for name in ("seconds", "cpu_seconds"):
            value = getattr(self, name)
            if value is None and name == "cpu_seconds":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"Timing.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"Timing.{name} must be positive and finite, got {value!r}")
        if not isinstance(self.machine, str) or not self.machine.strip():
            raise ValueError("Timing.machine must say where the time was measured")

    def text(self) -> str:
        """For example ``"25 s of CPU time, 40 s wall (measured on ...)"``."""
        cpu = f"{_duration(self.cpu_seconds)} of CPU time, " if self.cpu_seconds is not None else "about "
        return f"{cpu}{_duration(self.seconds)} wall (measured on {self.machine})"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


@dataclass(frozen=True, kw_only=True)
class Experiment:
    """A registered experiment: a function of (config, seed), its parameters, and how to summarise and draw it.

    All fields are keyword-only.

    Parameters
    ----------
    name : str
        The name on the command line (``optcore run NAME``); letters, digits, ``-`` and ``_``.
    summary : str
        One line for ``optcore list``.
    run : callable
        ``run(config: dict, seed: int)`` returning a dict of scalars (one row of the table) or a list of such
        dicts (several rows). It must be a module-level function so that worker processes can import it, and it
        must depend only on ``config`` and ``seed``.
    params : sequence of Param
        The parameters; ``config`` holds one value of each. Each declares its own domain (``min``, ``max``,
        ``choices``).
    validate : callable, optional
        ``validate(config)``: raise ``ValueError`` (or ``TypeError``) with a message naming the parameter when a
        configuration is invalid in a way one parameter's domain cannot say (``n`` even, ``M`` divides ``N``,
        ``alpha_min <= alpha_max``). :func:`~optcore.experiments.run_sweep` calls it on every configuration
        before any cell runs.
    version : str
        The experiment's code version; bump it when ``run`` changes its results, so that cached cells of the old
        code are not reused.
    seeds : int
        The default number of seeds (replicates) per configuration.
    figure : callable, optional
        ``figure(table, ax)`` draws the sweep's table (a pandas DataFrame) on a matplotlib Axes: it must label
        both axes; a title and a legend are added by the framework when missing. With ``panels=k`` it receives
        a list of ``k`` Axes instead and must label each.
    panels : int
        How many Axes the figure hook draws on (default 1: one Axes, passed as is).
    summarize : callable, optional
        ``summarize(table) -> DataFrame``, the table printed by ``optcore run``. Default: the mean of every
        numeric output over the seeds of each configuration.
    timing : Timing, optional
        The measured time of ``optcore run NAME`` with the defaults, shown by ``optcore run NAME --help``.
    """

    name: str
    summary: str
    run: Callable[[dict, int], Mapping[str, Any] | list]
    params: tuple[Param, ...] = ()
    validate: Callable[[dict], None] | None = None
    version: str = "1"
    seeds: int = 3
    figure: Callable | None = None
    panels: int = 1
    summarize: Callable | None = None
    timing: Timing | None = None
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"experiment name must be letters, digits, '-' and '_', got {self.name!r}")
        if not isinstance(self.summary, str) or not self.summary.strip() or "\n" in self.summary.strip():
            raise ValueError(f"experiment {self.name!r} needs a one-line summary")
        if not callable(self.run):
            raise TypeError(f"experiment {self.name!r}: run must be callable, got {type(self.run).__name__}")
        for hook in ("validate", "figure", "summarize"):
            value = getattr(self, hook)
            if value is not None and not callable(value):
                raise TypeError(f"experiment {self.name!r}: {hook} must be callable, got {type(value).__name__}")
        params = tuple(self.params)
        for p in params:
            if not isinstance(p, Param):
                raise TypeError(f"experiment {self.name!r}: params must be Param objects, got {type(p).__name__}")
            if p.name in RESERVED:
                raise ValueError(f"experiment {self.name!r}: parameter name {p.name!r} is reserved")
        by_name = {p.name: p for p in params}
        if len(by_name) != len(params):
            raise ValueError(f"experiment {self.name!r}: repeated parameter names")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"experiment {self.name!r}: seeds must be a positive int, got {self.seeds!r}")
        if isinstance(self.panels, bool) or not isinstance(self.panels, int) or self.panels < 1:
            raise ValueError(f"experiment {self.name!r}: panels must be a positive int, got {self.panels!r}")
        if self.timing is not None and not isinstance(self.timing, Timing):
            raise TypeError(f"experiment {self.name!r}: timing must be a Timing, got {type(self.timing).__name__}")
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "version", str(self.version))
        object.__setattr__(self, "_by_name", by_name)

    def param(self, name: str) -> Param:
        """The parameter called ``name``; a ``ValueError`` listing the valid names otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            raise ValueError(
                f"experiment {self.name!r} has no parameter {name!r}; valid parameters: {self.param_names()}"
            ) from None

    def check_config(self, config: dict) -> None:
        """Run the experiment's ``validate`` hook on one configuration (values already checked by their Params).

        Raises
        ------
        ValueError
            The configuration is invalid; the message names the experiment and the configuration.
        """
        if self.validate is None:
            return
        try:
            self.validate(dict(config))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"experiment {self.name!r}: invalid configuration {config}: {exc}") from exc

    def summary_table(self, table):
        """The table ``optcore run`` prints: ``summarize(table)``, or the mean of each output over seeds.

        Without ``summarize``, the mean of every numeric output over the seeds of each configuration, with the
        number of seeds.

        Parameters
        ----------
        table : pandas.DataFrame
            A sweep's table.

        Returns
        -------
        pandas.DataFrame
        """
        if self.summarize is not None:
            return self.summarize(table)
        keys = [p.name for p in self.params]
        outputs = [c for c in table.columns if c not in {*keys, *RESERVED} and table[c].dtype.kind in "biuf"]
        if not keys:
            return table[outputs].mean().to_frame().T
        summary = table.groupby(keys, sort=False)[outputs].mean().reset_index()
        summary.insert(len(keys), "seeds", table.groupby(keys, sort=False).size().to_numpy())
        return summary

    def param_names(self) -> str:
        """The parameter names, comma separated (for messages)."""
        return ", ".join(self._by_name) or "(none)"
