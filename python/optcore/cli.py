"""The ``optcore`` command: list the registered experiments, or run one over its grid and seeds.

``optcore list`` shows one line per experiment. ``optcore run NAME [--PARAM VALUE ...] [--seeds N]
[--workers N | --dask ADDRESS] [--out DIR]`` runs a sweep with the experiment's defaults for every parameter not
given (a comma list such as ``--K 8,16,32`` is a grid axis), shows a progress bar on long work, prints the
summary table, and writes the table, its metadata, the summary and the figure to ``DIR``. Finished cells are
cached under ``DIR/cache``: the same command after an interruption resumes without recomputing them. Bad input
exits with code 2 and a message that lists the valid choices.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import experiments as ex
from .experiments.results import TABLE_FORMATS

EXIT_USAGE = 2


def main(argv=None) -> int:
    """Run the ``optcore`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _command_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    try:
        experiment = ex.get(args.name)
    except ex.UnknownExperimentError as exc:
        parser.exit(EXIT_USAGE, f"optcore run: error: {exc}\n")
    return _run(experiment, args.options)


def _command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optcore",
        description="Run optcore's experiments: sweeps over grids and seeds, with cached, resumable results.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{list,run}")
    commands.add_parser("list", help="show the experiments, one line each", allow_abbrev=False)
    run = commands.add_parser(
        "run",
        help="run an experiment: optcore run NAME [--PARAM VALUE ...] (see optcore run NAME --help)",
        description="Run an experiment over its grid and seeds; `optcore run NAME --help` lists its parameters.",
        epilog="experiments: " + ", ".join(e.name for e in ex.experiments()),
        allow_abbrev=False,
    )
    run.add_argument("name", help="the experiment (see `optcore list`)")
    run.add_argument("options", nargs=argparse.REMAINDER, help="its parameters and the sweep options")
    return parser


def _list() -> int:
    items = ex.experiments()
    width = max((len(e.name) for e in items), default=0)
    for experiment in items:
        print(f"{experiment.name:<{width}}  {experiment.summary}")
    print("\n`optcore run NAME --help` lists an experiment's parameters.")
    return 0


def _experiment_parser(experiment: ex.Experiment) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"optcore run {experiment.name}",
        description=experiment.summary,
        epilog="A comma list (--K 8,16,32) makes a parameter a grid axis; the sweep runs every combination.",
        allow_abbrev=False,
    )
    group = parser.add_argument_group(f"parameters of {experiment.name}")
    for param in experiment.params:
        flags = [f"--{param.name}"]
        if "_" in param.name:
            flags.append(f"--{param.name.replace('_', '-')}")
        default = param.default_text().replace(",", ", ")
        if param.choices is not None:
            choices = ", ".join(str(c) for c in param.choices)
            default = "all of them" if param.grid and set(param.default) == set(param.choices) else default
            details = f"{param.type_name}, one of: {choices}; default: {default}"
        else:
            details = f"{param.type_name}; default: {default}"
        group.add_argument(
            *flags, dest=f"param:{param.name}", metavar=param.type_name.upper(), help=f"{param.help} ({details})"
        )
    sweep = parser.add_argument_group("sweep options")
    sweep.add_argument(
        "--seeds",
        type=_positive_int,
        default=experiment.seeds,
        metavar="N",
        help=f"seeds per configuration (default: {experiment.seeds})",
    )
    sweep.add_argument("--seed", type=_nonnegative_int, default=0, metavar="BASE", help="base seed (default: 0)")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, metavar="N", help="run cells in N local processes")
    where.add_argument("--dask", metavar="ADDRESS", help="run cells on the Dask scheduler at ADDRESS")
    sweep.add_argument("--out", type=Path, metavar="DIR", help=f"output directory (default: results/{experiment.name})")
    sweep.add_argument("--cache", type=Path, metavar="DIR", help="cache directory (default: OUT/cache)")
    sweep.add_argument("--no-cache", action="store_true", help="recompute every cell and cache nothing")
    sweep.add_argument(
        "--format",
        choices=TABLE_FORMATS,
        default="auto",
        help="table file format (auto: Parquet if pyarrow is installed, else CSV)",
    )
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary table")
    return parser


def _run(experiment: ex.Experiment, options: list[str]) -> int:
    parser = _experiment_parser(experiment)
    args, unknown = parser.parse_known_args(options)
    if unknown:
        flags = [a for a in unknown if a.startswith("-")]
        what = f"unknown parameter {flags[0]}" if flags else f"unexpected argument {unknown[0]!r}"
        valid = ", ".join(f"--{p.name}" for p in experiment.params) or "(none)"
        parser.error(f"{what}; valid parameters of {experiment.name}: {valid} (sweep options: see --help)")
    grid = {}
    for param in experiment.params:
        text = getattr(args, f"param:{param.name}")
        if text is not None:
            try:
                grid[param.name] = param.parse(text)
            except (TypeError, ValueError) as exc:
                parser.error(str(exc))
    try:
        ex.expand_grid(experiment, grid)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))

    out = args.out if args.out is not None else Path("results") / experiment.name
    cache = None if args.no_cache else (args.cache if args.cache is not None else out / "cache")
    try:
        result = ex.run_sweep(
            experiment,
            grid,
            seeds=args.seeds,
            base_seed=args.seed,
            workers=args.workers,
            dask=args.dask,
            cache=cache,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        where = f"; finished cells are cached in {cache}: run the same command to resume" if cache else ""
        print(f"optcore run: interrupted{where}", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, ImportError) as exc:
        print(f"optcore run: error: {exc}", file=sys.stderr)
        return 1

    summary = experiment.summary_table(result.table)
    written = list(result.save(out, format=args.format).values())
    summary_path = out / "summary.csv"
    summary.to_csv(summary_path, index=False)
    written.append(summary_path)
    if experiment.figure is not None:
        written += ex.save_figure(ex.draw(experiment, result.table), out / "figure")
    if not args.quiet:
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        stats = result.cache_stats
        print(
            f"{result.meta['cells']} cells ({stats['hits']} cached, {stats['computed']} computed) on "
            f"{result.meta['backend']} in {result.meta['elapsed_s']:.2f} s"
        )
    print(f"wrote {out}{os.sep}: {', '.join(p.name if p.parent == out else str(p) for p in written)}")
    return 0


def _positive_int(text: str) -> int:
    value = _nonnegative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative int, got {text!r}")
    return value
