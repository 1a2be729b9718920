"""Experiments from a module or a file that is not (yet) an installed distribution with an entry point.

``optcore run path/to/study.py:NAME`` and ``optcore run NAME --module pkg.mod`` come here: the module is imported
by its name -- a file's directory is put first on ``sys.path`` and the file imported under its stem -- so that
worker processes, which import the experiment's ``run`` function by module name, find it too (``spawn`` workers
inherit ``sys.path``; Dask workers need the module installed or on their own ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from .experiment import Experiment
from .registry import _LOCK, _REGISTRY, register


def import_module_experiments(module_name: str) -> list[Experiment]:
    """Import ``module_name`` and register every experiment it registers or defines at module level.

    Parameters
    ----------
    module_name : str
        A dotted module name importable from ``sys.path`` (``pkg.studies``).

    Returns
    -------
    list of Experiment
        The experiments the module registered when imported or defines as module attributes (those whose
        ``run`` function lives in that module), sorted by name.

    Raises
    ------
    ImportError
        The module cannot be imported (the message says which and why).
    ValueError
        The module defines an experiment whose name is already taken by another one.
    """
    if not isinstance(module_name, str) or not all(part.isidentifier() for part in module_name.split(".")):
        raise ValueError(f"module must be a dotted Python module name (pkg.mod), got {module_name!r}")
    with _LOCK:
        before = dict(_REGISTRY)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ImportError(f"cannot import the experiment module {module_name!r}: {exc}") from exc
        found = {
            name: e
            for name, e in _REGISTRY.items()
            if before.get(name) is not e or getattr(e.run, "__module__", None) == module.__name__
        }
        for value in vars(module).values():
            if isinstance(value, Experiment) and getattr(value.run, "__module__", None) == module.__name__:
                found[value.name] = register(value)
    return [found[name] for name in sorted(found)]


def import_file_experiments(path) -> list[Experiment]:
    """Import a Python file as the module named by its stem (its directory first on ``sys.path``); see above.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.py`` file whose stem is a valid module name.

    Returns
    -------
    list of Experiment
        The experiments it registers or defines, sorted by name.
    """
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise FileNotFoundError(f"no Python file {str(path)!r} (expected path/to/file.py[:NAME])")
    path = path.resolve()
    stem = path.stem
    if not stem.isidentifier():
        raise ValueError(f"the file name {path.name!r} must be a valid module name (letters, digits, _)")
    loaded = sys.modules.get(stem)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != path:
        raise ValueError(
            f"cannot import {path} as module {stem!r}: that name is already the module {loaded.__name__} from "
            f"{getattr(loaded, '__file__', None) or 'built-in'}; rename the file"
        )
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    importlib.invalidate_caches()
    experiments = import_module_experiments(stem)
    module_file = Path(sys.modules[stem].__file__ or "").resolve()
    if module_file != path:
        raise ValueError(f"importing {stem!r} found {module_file}, not {path}: another module shadows it")
    return experiments
