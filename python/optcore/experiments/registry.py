"""The experiment registry: what an experiment declares, and the one table of registered experiments.

The package's own experiments are listed in :mod:`optcore.experiments.catalog`, loaded on first use. Other code
(tests, notebooks, studies outside the package) adds its own with :func:`register` -- as a call or as a decorator --
and removes it with :func:`unregister`, or both at once with the :func:`registered` context manager.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .params import Param

#: names an experiment's parameters and outputs may not take: they are the sweep's own columns and options
RESERVED = frozenset({"replicate", "seed", "seeds", "workers", "dask", "out", "cache", "no_cache", "quiet", "help"})


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
        The parameters; ``config`` holds one value of each.
    version : str
        The experiment's code version; bump it when ``run`` changes its results, so that cached cells of the old
        code are not reused.
    seeds : int
        The default number of seeds (replicates) per configuration.
    figure : callable, optional
        ``figure(table, ax)`` draws the sweep's table (a pandas DataFrame) on a matplotlib Axes: it must label
        both axes; a title and a legend are added by the framework when missing.
    summarize : callable, optional
        ``summarize(table) -> DataFrame``, the table printed by ``optcore run``. Default: the mean of every
        numeric output over the seeds of each configuration.
    """

    name: str
    summary: str
    run: Callable[[dict, int], Mapping[str, Any] | list]
    params: tuple[Param, ...] = ()
    version: str = "1"
    seeds: int = 3
    figure: Callable | None = None
    summarize: Callable | None = None
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"experiment name must be letters, digits, '-' and '_', got {self.name!r}")
        if not isinstance(self.summary, str) or not self.summary.strip() or "\n" in self.summary.strip():
            raise ValueError(f"experiment {self.name!r} needs a one-line summary")
        if not callable(self.run):
            raise TypeError(f"experiment {self.name!r}: run must be callable, got {type(self.run).__name__}")
        params = tuple(self.params)
        for p in params:
            if not isinstance(p, Param):
                raise TypeError(f"experiment {self.name!r}: params must be Param objects, got {type(p).__name__}")
            if p.name in RESERVED:
                raise ValueError(f"experiment {self.name!r}: parameter name {p.name!r} is reserved")
        by_name = {p.name: p for p in params}
        if len(by_name) != len(params):
            raise ValueError(f"experiment {self.name!r}: repeated parameter names")
        if not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"experiment {self.name!r}: seeds must be a positive int, got {self.seeds!r}")
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


class UnknownExperimentError(KeyError):
    """No experiment of that name is registered; the message lists the registered ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


_REGISTRY: dict[str, Experiment] = {}
_LOCK = threading.RLock()
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    from .catalog import EXPERIMENTS

    for experiment in EXPERIMENTS:
        register(experiment)


def register(experiment: Experiment | None = None, /, *, replace: bool = False, **fields):
    """Register an experiment; as a decorator, make one from a ``run`` function.

    Parameters
    ----------
    experiment : Experiment, optional
        The experiment to register. Leave it out to use ``register`` as a decorator:
        ``@register(name=..., summary=..., params=[...])`` over ``def run(config, seed)``.
    replace : bool
        Allow replacing an experiment of the same name (otherwise that is a ``ValueError``).
    **fields
        In decorator form, the other fields of :class:`Experiment`.

    Returns
    -------
    Experiment or callable
        The registered experiment; in decorator form, a decorator that returns the decorated function unchanged
        (the experiment is available from :func:`get`).
    """
    if experiment is None:

        def decorator(run):
            register(Experiment(run=run, **fields), replace=replace)
            return run

        return decorator
    if fields:
        raise TypeError(f"register(experiment) takes no other fields, got {sorted(fields)}")
    if not isinstance(experiment, Experiment):
        raise TypeError(f"register() needs an Experiment, got {type(experiment).__name__}")
    _load_builtins()
    with _LOCK:
        if experiment.name in _REGISTRY and not replace and _REGISTRY[experiment.name] is not experiment:
            raise ValueError(f"an experiment called {experiment.name!r} is already registered (use replace=True)")
        _REGISTRY[experiment.name] = experiment
    return experiment


def unregister(name: str) -> Experiment:
    """Remove the experiment called ``name`` and return it."""
    _load_builtins()
    with _LOCK:
        if name not in _REGISTRY:
            raise UnknownExperimentError(_unknown(name))
        return _REGISTRY.pop(name)


@contextlib.contextmanager
def registered(experiment: Experiment, *, replace: bool = False) -> Iterator[Experiment]:
    """Register ``experiment`` for the duration of a ``with`` block (for tests), then unregister it."""
    register(experiment, replace=replace)
    try:
        yield experiment
    finally:
        with _LOCK:
            if _REGISTRY.get(experiment.name) is experiment:
                del _REGISTRY[experiment.name]


def get(name: str | Experiment) -> Experiment:
    """The experiment called ``name`` (an :class:`Experiment` is returned as is).

    Raises
    ------
    UnknownExperimentError
        (a ``KeyError``) No such experiment; the message lists the registered ones.
    """
    if isinstance(name, Experiment):
        return name
    _load_builtins()
    with _LOCK:
        experiment = _REGISTRY.get(name)
    if experiment is None:
        raise UnknownExperimentError(_unknown(name))
    return experiment


def experiments() -> list[Experiment]:
    """All registered experiments, sorted by name."""
    _load_builtins()
    with _LOCK:
        return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def _unknown(name) -> str:
    with _LOCK:
        valid = ", ".join(sorted(_REGISTRY)) or "(none registered)"
    return f"unknown experiment {name!r}; valid experiments: {valid}"
