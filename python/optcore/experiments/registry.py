"""The experiment registry: the one table of experiments, filled from entry points and by :func:`register`.

Experiments are found through the ``optcore.experiments`` entry-point group: any installed distribution may
declare ``NAME = "package.module:ATTRIBUTE"`` there, where the attribute is an :class:`Experiment` (or the
module registers one called ``NAME`` when imported). optcore's own studies are declared the same way in its
``pyproject.toml``. Discovery reads only the metadata; a study's module is imported when the study is first asked
for (:func:`get`), or when all are (:func:`experiments`) -- the framework itself imports no study.

Other code (tests, notebooks, a study in a file) adds its own with :func:`register` -- as a call or as a
decorator -- and removes it with :func:`unregister`, or both at once with the :func:`registered` context manager.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from .catalog import BUILTIN
from .experiment import RESERVED, Experiment, Timing

__all__ = [
    "ENTRY_POINT_GROUP",
    "RESERVED",
    "Experiment",
    "ExperimentLoadError",
    "ExperimentLoadWarning",
    "Timing",
    "UnknownExperimentError",
    "experiment_names",
    "experiments",
    "get",
    "register",
    "registered",
    "source",
    "unregister",
]

#: the entry-point group through which distributions (optcore included) declare experiments
ENTRY_POINT_GROUP = "optcore.experiments"


class UnknownExperimentError(KeyError):
    """No experiment of that name is registered; the message lists the registered ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ExperimentLoadError(RuntimeError):
    """An experiment declared by an entry point could not be loaded; the message names the entry point."""


class ExperimentLoadWarning(UserWarning):
    """An experiment declared by an entry point was skipped (while listing all of them) because it failed to load."""


@dataclass(frozen=True)
class _Declared:
    """An experiment known from an entry point (or optcore's own list) and not imported yet."""

    name: str
    value: str  # "module:attribute"
    origin: str  # where the declaration comes from, for messages and `optcore list -v`


_REGISTRY: dict[str, Experiment] = {}
_SOURCES: dict[str, str] = {}  # name -> where a registered experiment came from
_DECLARED: dict[str, _Declared] = {}  # declared, not imported yet
_BROKEN: dict[str, ExperimentLoadError] = {}  # declared, failed to import
_LOCK = threading.RLock()
_discovered = False


def _discover() -> None:
    """Read the entry points of every installed distribution once (metadata only: nothing is imported)."""
    global _discovered
    with _LOCK:
        if _discovered:
            return
        _discovered = True
        declared: dict[str, _Declared] = {}
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            where = f"entry point of {dist.name} {dist.version}" if dist is not None else "entry point"
            other = declared.get(ep.name)
            if other is not None:
                if other.value != ep.value:
                    warnings.warn(
                        f"two entry points declare the experiment {ep.name!r}: {other.value} ({other.origin}) and "
                        f"{ep.value} ({where}); using the first",
                        ExperimentLoadWarning,
                        stacklevel=3,
                    )
                continue
            declared[ep.name] = _Declared(ep.name, ep.value, where)
        # optcore's own studies: from its metadata when installed; from its own list when that metadata does not
        # declare them (imported from a source tree, next to no install or an older one)
        for name, value in BUILTIN.items():
            if name not in declared:
                origin = "optcore's built-in list (the optcore metadata found declares no entry point for it)"
                declared[name] = _Declared(name, value, origin)
        for name, item in declared.items():
            if name not in _REGISTRY:
                _DECLARED[name] = item


def _load(name: str) -> Experiment:
    """Import the declared experiment ``name`` and register it; raise ExperimentLoadError when that fails."""
    with _LOCK:
        item = _DECLARED.pop(name)
        try:
            obj = importlib.metadata.EntryPoint(name=name, value=item.value, group=ENTRY_POINT_GROUP).load()
        except Exception as exc:
            error = ExperimentLoadError(
                f"experiment {name!r} ({item.origin}: {item.value}) failed to load: {type(exc).__name__}: {exc}"
            )
            error.__cause__ = exc
            _BROKEN[name] = error
            raise error from exc
        if name in _REGISTRY:  # the module registered it when imported (decorator form)
            _SOURCES.setdefault(name, f"{item.origin}: {item.value}")
            return _REGISTRY[name]
        if not isinstance(obj, Experiment) or obj.name != name:
            what = f"the experiment {obj.name!r}" if isinstance(obj, Experiment) else type(obj).__name__
            error = ExperimentLoadError(
                f"experiment {name!r} ({item.origin}) points at {item.value}, which is {what}: it must be an "
                f"Experiment called {name!r}, or a module that registers one when imported"
            )
            _BROKEN[name] = error
            raise error
        _REGISTRY[name] = obj
        _SOURCES[name] = f"{item.origin}: {item.value}"
        return obj


def register(experiment: Experiment | None = None, /, *, replace: bool = False, **fields):
    """Register an experiment; as a decorator, make one from a ``run`` function.

    Parameters
    ----------
    experiment : Experiment, optional
        The experiment to register. Leave it out to use ``register`` as a decorator:
        ``@register(name=..., summary=..., params=[...])`` over ``def run(config, seed)``.
    replace : bool
        Allow replacing an experiment of the same name, registered or declared by an entry point (otherwise
        that is a ``ValueError``).
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
    _discover()
    name = experiment.name
    with _LOCK:
        taken = (name in _REGISTRY and _REGISTRY[name] is not experiment) or name in _DECLARED or name in _BROKEN
        if taken and not replace:
            where = _SOURCES.get(name) or (_DECLARED[name].origin if name in _DECLARED else "registered")
            raise ValueError(f"an experiment called {name!r} is already registered ({where}); use replace=True")
        _DECLARED.pop(name, None)
        _BROKEN.pop(name, None)
        _REGISTRY[name] = experiment
        _SOURCES.setdefault(name, f"registered by {getattr(experiment.run, '__module__', '?')}")
    return experiment


def unregister(name: str) -> Experiment:
    """Remove the experiment called ``name`` and return it (a declared one is loaded first)."""
    experiment = get(name)
    with _LOCK:
        _SOURCES.pop(name, None)
        return _REGISTRY.pop(name, experiment)


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
                _SOURCES.pop(experiment.name, None)


def get(name: str | Experiment) -> Experiment:
    """The experiment called ``name`` (an :class:`Experiment` is returned as is); imports only that one.

    Raises
    ------
    UnknownExperimentError
        (a ``KeyError``) No such experiment; the message lists the registered ones.
    ExperimentLoadError
        (a ``RuntimeError``) An entry point declares it, but its module failed to import or holds no such
        experiment; the message names the entry point and the error.
    """
    if isinstance(name, Experiment):
        return name
    _discover()
    with _LOCK:
        if name in _REGISTRY:
            return _REGISTRY[name]
        if name in _BROKEN:
            raise _BROKEN[name]
        if name in _DECLARED:
            return _load(name)
    raise UnknownExperimentError(_unknown(name))


def experiments() -> list[Experiment]:
    """All experiments, sorted by name; one whose entry point fails to load is skipped with a warning."""
    _discover()
    with _LOCK:
        for name in sorted(_DECLARED):
            try:
                _load(name)
            except ExperimentLoadError as exc:
                warnings.warn(f"{exc} (skipped)", ExperimentLoadWarning, stacklevel=2)
        return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def experiment_names() -> list[str]:
    """The names of all registered and declared experiments, sorted, without importing any study."""
    _discover()
    with _LOCK:
        return sorted({*_REGISTRY, *_DECLARED, *_BROKEN})


def source(name: str) -> str:
    """Where the experiment ``name`` comes from: its entry point (and distribution), or who registered it."""
    _discover()
    with _LOCK:
        if name in _SOURCES:
            return _SOURCES[name]
        if name in _DECLARED:
            return f"{_DECLARED[name].origin}: {_DECLARED[name].value} (not loaded yet)"
    get(name)
    return _SOURCES[name]


def _unknown(name) -> str:
    valid = ", ".join(experiment_names()) or "(none registered)"
    return f"unknown experiment {name!r}; valid experiments: {valid}"
