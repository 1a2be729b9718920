"""Figures with matplotlib, drawn off-screen (Agg) and saved as PNG and PDF.

Figures are made with :class:`matplotlib.figure.Figure` and an Agg canvas directly, not through ``pyplot``: no
global backend switch, no window, nothing kept alive in pyplot's figure list, safe in worker threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIGURE_FORMATS = ("png", "pdf")


def new_figure(*, figsize=None, panels: int = 1):
    """A new off-screen figure with one Axes, or ``panels`` Axes side by side.

    Parameters
    ----------
    figsize : (float, float), optional
        Inches; default 6.4 x 4.4 per panel row, 4.8 wide per panel when there are several.
    panels : int
        How many Axes (in one row).

    Returns
    -------
    fig : matplotlib.figure.Figure
    ax : matplotlib.axes.Axes, or a list of them when ``panels > 1``
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if figsize is None:
        figsize = (6.4, 4.4) if panels == 1 else (4.8 * panels, 4.4)
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    if panels == 1:
        return fig, fig.add_subplot()
    return fig, list(fig.subplots(1, panels))


def band(ax, x, mean, lo, hi, *, label: str, log: bool = False, **kwargs):
    """Draw a mean line with markers and a shaded band from ``lo`` to ``hi`` (NaN bounds are left unshaded).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x, mean, lo, hi : array-like
        The abscissae, the means and the band's bounds (for a log axis, from ``mean_band(..., log=True)``).
    label : str
        The legend entry.
    log : bool
        The y axis is logarithmic: a non-positive bound cannot be drawn there and is left unshaded (NaN) rather
        than replaced by an arbitrary small value, which would draw a band down to it.
    **kwargs
        Passed on to ``ax.plot`` (color, marker, ...).
    """
    x, mean = np.asarray(x, dtype=float), np.asarray(mean, dtype=float)
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if log:
        bad = ~(lo > 0) | ~(hi > 0)
        lo, hi = np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)
    kwargs.setdefault("marker", "o")
    (line,) = ax.plot(x, mean, label=label, **kwargs)
    if np.any(np.isfinite(lo) & np.isfinite(hi)):
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def power_law_guide(ax, x, slope: float, *, through, label: str | None = None, **kwargs):
    """Draw the theory's power law c x**slope over ``x``, with c chosen so that it passes through ``through``.

    A guide for a predicted exponent (a rate known up to constants): only its slope is the theory's, so it is
    anchored to a measured point (``through = (x0, y0)``) and drawn dotted.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : array-like
        Positive abscissae spanned by the guide.
    slope : float
        The exponent.
    through : (float, float)
        A point on the guide, both coordinates positive.
    label : str, optional
        The legend entry.
    **kwargs
        Passed on to ``ax.plot``; default a thin dotted line.
    """
    x = np.asarray(x, dtype=float)
    x0, y0 = map(float, through)
    if not (x0 > 0 and y0 > 0 and np.all(x > 0)):
        raise ValueError(f"a power-law guide needs positive coordinates, got x = {x}, through = {through}")
    kwargs.setdefault("linestyle", ":")
    kwargs.setdefault("linewidth", 1.5)
    xs = np.geomspace(x.min(), x.max(), 20)
    (line,) = ax.plot(xs, y0 * (xs / x0) ** slope, label=label, **kwargs)
    return line


def finish(fig, ax, *, title: str) -> None:
    """Check the axes are labelled, add ``title`` if the figure has none, and a legend if lines are labelled.

    ``ax`` may be a list of Axes (a figure of several panels): each must label both axes; ``title`` becomes
    the figure's title when no panel has one.
    """
    axes = list(ax) if isinstance(ax, list | tuple) else [ax]
    for i, one in enumerate(axes):
        if not one.get_xlabel() or not one.get_ylabel():
            which = f"panel {i} of the figure" if len(axes) > 1 else "a figure"
            raise ValueError(f"{which} must label both axes (ax.set_xlabel / ax.set_ylabel)")
        handles, labels = one.get_legend_handles_labels()
        if labels and one.get_legend() is None:
            one.legend(fontsize="small")
    if len(axes) == 1:
        if not axes[0].get_title():
            axes[0].set_title(title)
    elif not any(one.get_title() for one in axes) and fig.get_suptitle() == "":
        fig.suptitle(title)


def draw(experiment, table):
    """The figure of a sweep: ``experiment.figure(table, ax)`` on a new figure, then :func:`finish`.

    With ``experiment.panels = k > 1`` the hook receives a list of ``k`` Axes side by side.

    Parameters
    ----------
    experiment : Experiment
        An experiment with a ``figure`` callable.
    table : pandas.DataFrame
        The sweep's table.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if experiment.figure is None:
        raise ValueError(f"experiment {experiment.name!r} declares no figure")
    fig, ax = new_figure(panels=getattr(experiment, "panels", 1))
    experiment.figure(table, ax)
    finish(fig, ax, title=experiment.summary)
    return fig


def save_figure(fig, path, *, formats=FIGURE_FORMATS, dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``path.png`` and ``path.pdf`` (or the given formats).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or os.PathLike
        The file name without extension (an extension given is replaced).
    formats : sequence of {"png", "pdf"}
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        if fmt not in FIGURE_FORMATS:
            raise ValueError(f"figure format must be one of {', '.join(FIGURE_FORMATS)}, got {fmt!r}")
        target = path.with_suffix("." + fmt)
        # no creation date in the PDF: the same figure gives the same bytes
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        fig.savefig(target, format=fmt, dpi=dpi, metadata=metadata)
        written.append(target)
    return written
