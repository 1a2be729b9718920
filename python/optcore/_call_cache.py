"""Per-object caches of what a call derives from an object's attributes, valid while none of them is rebound.

:func:`optcore.run_sgd` keeps the checked, prepared plan of a call on its problem, and :class:`optcore.nn.MLP` the
fixed part of the data its evaluations hand the core, so that repeated calls skip work that only depends on them.
An entry is used only while the object's attributes are the very objects they were when the entry was made (same
names, same objects, compared by identity; the cache keeps them alive, so an identity cannot be reused), and the
object is of the same type. Rebinding any attribute (``problem.A = ...``, ``problem.l2 = 0.5``, even to an equal
value) empties the cache. Not seen: attributes changed in place, such as an array's entries (optcore documents
this as unsupported: a problem's x_star, f_star and fingerprint would be stale too), and class attributes.

The cache lives in the object's ``__dict__`` under :data:`ATTRIBUTE`. It pickles and deep-copies as an empty cache,
so it never travels with the object; a shallow copy shares it, which is harmless: every look-up checks the
attributes of the object it is given.
"""

from __future__ import annotations

from operator import is_

ATTRIBUTE = "_optcore_call_cache"

#: Entries kept per object; the oldest goes first.
MAX_ENTRIES = 8


class CallCache:
    """Entries (any hashable key -> any value) valid for the attributes an object had when they were made."""

    __slots__ = ("entries", "_type", "_names", "_values")

    def __init__(self):
        self.entries: dict = {}
        self._type = None
        self._names: tuple = ()
        self._values: tuple = ()  # compared by identity (kept alive: no other object can be one of them)

    def __reduce__(self):  # pickles (and deep-copies) empty: the entries hold compiled objects
        return (CallCache, ())

    def valid_for(self, obj) -> bool:
        """Whether ``obj`` is of the type and has the attributes (the same objects) the entries were made for."""
        d = obj.__dict__
        return (type(obj) is self._type and len(d) == len(self._values) and all(map(is_, d.values(), self._values))
                and tuple(d) == self._names)

    def get(self, obj, key):
        """The entry for ``key`` if there is one and it is valid for ``obj``, else None."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        d = obj.__dict__  # valid_for(obj), without a call
        if (type(obj) is self._type and len(d) == len(self._values) and all(map(is_, d.values(), self._values))
                and tuple(d) == self._names):
            return entry
        return None

    def put(self, obj, key, value) -> None:
        """Keep ``value`` for ``key``, valid for ``obj``'s attributes as they are now (call right after making
        it: entries made for other attributes are dropped)."""
        if not self.valid_for(obj):
            self.entries.clear()
            d = obj.__dict__
            self._type, self._names, self._values = type(obj), tuple(d), tuple(d.values())
        elif key not in self.entries and len(self.entries) >= MAX_ENTRIES:
            del self.entries[next(iter(self.entries))]
        self.entries[key] = value


def cache_of(obj) -> CallCache | None:
    """``obj``'s cache, made on first use; None for objects without a ``__dict__`` (``__slots__`` classes)."""
    d = getattr(obj, "__dict__", None)
    if d is None:
        return None
    cache = d.get(ATTRIBUTE)
    if cache is None:
        cache = d[ATTRIBUTE] = CallCache()
    return cache
