"""Declared parameters of an experiment: type, default, help text, and the checks every value goes through.

A parameter's value in a sweep is either one value or a grid axis (a list of values). Values from Python are
checked with :meth:`Param.coerce`; values from the command line are parsed from text with :meth:`Param.parse`,
where a comma list (``8,16,32``) is a grid axis. Every value is checked against the parameter's declared domain
(bounds ``ge``/``gt``/``le``/``lt``, ``choices``; floats are finite unless ``allow_inf``) before a sweep runs
anything; checks that involve several parameters belong to the experiment's ``validate`` hook.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from types import MappingProxyType
from typing import Any

#: the value types a parameter may declare
TYPES = (int, float, str, bool)

#: the bound keywords: (name, (symbol, test))
_BOUNDS = (
    ("ge", (">=", lambda v, b: v >= b)),
    ("gt", (">", lambda v, b: v > b)),
    ("le", ("<=", lambda v, b: v <= b)),
    ("lt", ("<", lambda v, b: v < b)),
)

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Param:
    """One parameter of an experiment.

    Parameters
    ----------
    name : str
        A Python identifier; on the command line it is ``--name`` (``_`` may be written ``-``).
    type : {int, float, str, bool}
        The type every value is checked against (ints are accepted for floats and converted).
    default : value or tuple of values
        The value used when a sweep does not set the parameter. A tuple (or list) makes the parameter a grid
        axis by default: the sweep runs every value.
    help : str
        One line for ``optcore run NAME --help``.
    choices : tuple, optional
        The allowed values, when there is a closed set (keyword-only).
    ge, gt, le, lt : int or float, optional
        Bounds for an int or float parameter (keyword-only): every value must be ``>= ge``, ``> gt``, ``<= le``,
        ``< lt``.
    allow_inf : bool
        A float parameter may be infinite (keyword-only; default: finite values only -- NaN is never valid).
    aliases : mapping, optional
        Other spellings of a str parameter's values, ``{alias: value}`` (keyword-only), for example the order
        names of :data:`optcore.orders.ALIASES`: a value is replaced by what it stands for before any check, so
        ``rr`` and ``random_reshuffling`` are the same configuration (and the same cached cells).
    """

    name: str
    type: type
    default: Any
    help: str
    _: KW_ONLY
    choices: tuple | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    allow_inf: bool = False
    aliases: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"parameter name must be a Python identifier, got {self.name!r}")
        if self.type not in TYPES:
            allowed = ", ".join(t.__name__ for t in TYPES)
            raise TypeError(f"parameter {self.name!r}: type must be one of {allowed}, got {self.type!r}")
        if not isinstance(self.help, str) or not self.help.strip():
            raise ValueError(f"parameter {self.name!r} needs a help text")
        for bound, _ in _BOUNDS:
            value = getattr(self, bound)
            if value is None:
                continue
            if self.type not in (int, float):
                raise TypeError(f"parameter {self.name!r}: {bound}= needs an int or float parameter")
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
                raise TypeError(f"parameter {self.name!r}: {bound} must be a number, got {value!r}")
        if self.aliases is not None:
            if self.type is not str:
                raise TypeError(f"parameter {self.name!r}: aliases= needs a str parameter")
            object.__setattr__(self, "aliases", MappingProxyType(dict(self.aliases)))
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self._check(c) for c in self.choices))
        if isinstance(self.default, list):
            object.__setattr__(self, "default", tuple(self.default))
        self.coerce(self.default)  # the default itself must be valid

    @property
    def grid(self) -> bool:
        """Whether the default is a grid axis (several values)."""
        return isinstance(self.default, tuple)

    @property
    def type_name(self) -> str:
        """The declared type's name (``"int"``, ``"float"``, ...)."""
        return self.type.__name__

    def default_text(self) -> str:
        """The default as it would be written on the command line."""
        values = self.default if self.grid else (self.default,)
        return ",".join(_format(v) for v in values)

    def coerce(self, value) -> list:
        """Check a value (or a list or tuple of values: a grid axis) and return the list of checked values.

        Parameters
        ----------
        value : scalar, list or tuple
            One value of the declared type, or a non-empty list or tuple of them.

        Returns
        -------
        list
            The values, converted to the declared type (numpy scalars become Python scalars).

        Raises
        ------
        TypeError
            A value is not of the declared type.
        ValueError
            An empty grid, a repeated value, or a value outside the domain (``choices``, ``min``, ``max``, an
            infinite float without ``allow_inf``).
        """
        values = list(value) if isinstance(value, list | tuple) else [value]
        if not values:
            raise ValueError(f"parameter {self.name!r}: empty grid; give at least one value")
        checked = [self._check(v) for v in values]
        if len(set(checked)) != len(checked):
            raise ValueError(f"parameter {self.name!r}: repeated values in the grid {checked}")
        return checked

    def parse(self, text: str) -> list:
        """Parse command-line text: one value, or a comma list of values (a grid axis).

        Parameters
        ----------
        text : str
            For example ``"16"`` or ``"8,16,32"``.

        Returns
        -------
        list
            The checked values (see :meth:`coerce`).
        """
        items = [item.strip() for item in text.split(",")]
        if self.type is not str:
            items = [item for item in items if item]
        if not items or items == [""]:
            raise ValueError(f"parameter {self.name!r}: empty grid; give a value or a comma list (e.g. 8,16,32)")
        return self.coerce([self._from_text(item) for item in items])

    def _from_text(self, item: str):
        if self.type is str:
            return item
        if self.type is bool:
            low = item.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise TypeError(f"parameter {self.name!r} expects bool (true or false), got {item!r}")
        try:
            return self.type(item)
        except ValueError:
            raise TypeError(f"parameter {self.name!r} expects {self.type_name}, got {item!r}") from None

    def _check(self, value):
        expected = f"parameter {self.name!r} expects {self.type_name}"
        if self.type is bool:
            if not isinstance(value, bool) and type(value).__name__ != "bool_":
                raise TypeError(f"{expected}, got {value!r} ({type(value).__name__})")
            value = bool(value)
        elif self.type is int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{expected}, got {value!r} ({type(value).__name__})")
            value = int(value)
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{expected}, got {value!r} ({type(value).__name__})")
            value = float(value)
            if math.isnan(value):
                raise ValueError(f"parameter {self.name!r}: NaN is not a valid value")
            if math.isinf(value) and not self.allow_inf:
                raise ValueError(f"parameter {self.name!r} must be finite, got {value}")
        elif not isinstance(value, str):
            raise TypeError(f"{expected}, got {value!r} ({type(value).__name__})")
        elif self.aliases:
            value = self.aliases.get(value, value)
        for bound, (symbol, holds) in _BOUNDS:
            limit = getattr(self, bound)
            if limit is not None and not holds(value, limit):
                raise ValueError(f"parameter {self.name!r} must be {symbol} {_format(limit)}, got {_format(value)}")
        if self.choices is not None and value not in self.choices:
            valid = ", ".join(_format(c) for c in self.choices)
            also = [a for a, v in (self.aliases or {}).items() if v in self.choices]
            alias_text = f" (or an alias: {', '.join(sorted(also))})" if also else ""
            raise ValueError(f"parameter {self.name!r}: {value!r} is not one of the valid choices: {valid}{alias_text}")
        return value

    def domain_text(self) -> str:
        """The declared domain in words, for ``--help`` (empty when any value of the type is allowed)."""
        parts = [f"{symbol} {_format(getattr(self, b))}" for b, (symbol, _) in _BOUNDS if getattr(self, b) is not None]
        if self.type is float and not self.allow_inf:
            parts.append("finite")
        return ", ".join(parts)


def _format(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
