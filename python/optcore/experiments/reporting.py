"""Progress of a sweep on stderr: a bar over cells, a bar inside a long cell, or one line per finished cell.

On a terminal, the sweep shows a tqdm bar over its cells (after a second), and a cell that reports its own
progress -- by iterating through :func:`progress` -- shows a second bar below it. When stderr is not a terminal
(a log file, a CI job), the sweep writes one line per finished cell instead, so that a long run is never silent.
Worker processes show no bars of their own: only the sweep's process writes to stderr.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time

_CELL_BARS: contextvars.ContextVar[bool] = contextvars.ContextVar("optcore_cell_bars", default=False)


def progress(iterable=None, *, total: int | None = None, desc: str | None = None, unit: str = "it"):
    """Iterate with a progress bar inside a cell, shown when the cell runs in a sweep with a visible bar.

    A cell's ``run`` function wraps its long loop: ``for epoch in ex.progress(range(epochs), desc="epochs")``.
    Outside such a sweep (in a worker process, with ``progress=False``, or stderr not a terminal) it iterates
    without drawing anything.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; leave it out to update a bar by hand (``bar.update(k)``), with ``total``.
    total : int, optional
        The number of steps (default: ``len(iterable)`` when it has one).
    desc : str, optional
        The bar's label.
    unit : str
        The unit of a step.

    Returns
    -------
    tqdm.tqdm
        Iterable (and usable as a context manager); disabled when no bar is to be shown.
    """
    from tqdm import tqdm

    show = _CELL_BARS.get()
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        leave=False,
        position=1,
        delay=1.0,
        disable=not show,
    )


#: without a terminal, a finished cell gets its own line when it took LINE_CELL_S or more, or LINE_EVERY_S have
#: passed since the last line (the first and the last cell always do)
LINE_CELL_S, LINE_EVERY_S = 1.0, 10.0


class Reporter:
    """The sweep's own report: a bar over cells on a terminal, else one line per finished cell; or nothing."""

    def __init__(self, name: str, *, total: int, initial: int, enabled: bool, inline: bool):
        self.name, self.total, self.done = name, total, initial
        self.terminal = enabled and _isatty(sys.stderr)
        self.lines = enabled and not self.terminal
        self._bar = None
        self._token = None
        self._start = self._last_line = time.perf_counter()
        if self.terminal:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=name, unit="cell", file=sys.stderr, delay=1.0)
            if inline:  # cells run in this thread: their own bars may show below this one
                self._token = _CELL_BARS.set(True)
        elif self.lines and initial:
            self._print(f"{initial} of {total} cells found in the cache")

    def cell_done(self, config: dict, replicate: int, elapsed: float) -> None:
        """Count one finished cell (and print its line when stderr is not a terminal)."""
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self.lines:
            now = time.perf_counter()
            # A log needs to show that a sweep moves, not 80 lines for a 1-second sweep: the first and the last
            # cell, every cell that took a while, and otherwise one line every LINE_EVERY_S seconds.
            quick = elapsed < LINE_CELL_S and now - self._last_line < LINE_EVERY_S
            if quick and self._last_line > self._start and self.done < self.total:
                return
            self._last_line = now
            where = ", ".join(f"{k}={v}" for k, v in config.items())
            self._print(
                f"cell {self.done}/{self.total} done in {elapsed:.2f} s ({where}; replicate {replicate}); "
                f"all so far in {now - self._start:.1f} s"
            )

    def close(self) -> None:
        """Close the bar (and stop showing cell bars)."""
        if self._token is not None:
            _CELL_BARS.reset(self._token)
            self._token = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _print(self, text: str) -> None:
        print(f"{self.name}: {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def reporter(name: str, *, total: int, initial: int, enabled: bool, inline: bool):
    """A :class:`Reporter`, closed at the end of the block."""
    rep = Reporter(name, total=total, initial=initial, enabled=enabled, inline=inline)
    try:
        yield rep
    finally:
        rep.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
