"""The ``optcore`` command: list the experiments, or run one over its grid and seeds.

``optcore list`` shows one line per experiment, sorted by name (``-v``: where each comes from). ``optcore run NAME
[--PARAM VALUE ...] [--seeds N] [--workers N | --dask ADDRESS] [--out DIR] [--force]`` runs a sweep with the
experiment's defaults for every parameter not given (a comma list such as ``--K 8,16,32`` is a grid axis), reports
progress on stderr, prints the summary table, and writes the table, its metadata, the summary and the figure to
``DIR`` (default ``results/NAME``; a folder that holds an earlier run is not overwritten: the run goes to
``DIR-2``, ``DIR-3``, ... unless ``--force``). Finished cells are cached under ``DIR/cache``: the same command after
an interruption resumes without recomputing them.

Experiments come from the ``optcore.experiments`` entry points of the installed distributions (optcore's own
studies included), from a file (``optcore run path/to/study.py:NAME``) or from a module (``--module pkg.mod``).

Bad input -- an unknown experiment or parameter, a value of the wrong type or outside its domain, a configuration
the experiment rejects, a sweep over ``--max-cells`` -- exits with code 2 and a message that names the argument
and the valid choices, before any cell runs. A failing cell exits with code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from . import __version__
from . import experiments as ex
from .experiments.results import METADATA_FILE, TABLE_FORMATS

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process ended by SIGPIPE

#: the files a run writes into its output folder (a folder holding any of them holds an earlier run)
RUN_OUTPUTS = (METADATA_FILE, "table.parquet", "table.csv", "summary.csv", "figure.png", "figure.pdf")


def main(argv=None) -> int:
    """Run the ``optcore`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        status = _main(sys.argv[1:] if argv is None else list(argv))
        sys.stdout.flush()  # here, not at exit: a closed pipe (`optcore list | head -1`) is handled below
        return status
    except BrokenPipeError:
        # the reader went away: stop quietly; point stdout at devnull so that the flush at exit does not fail again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # pragma: no cover - stdout without a file descriptor
            pass
        return EXIT_BROKEN_PIPE


def _main(argv: list[str]) -> int:
    parser = _command_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        if args.module is not None:
            _import_module(args.module, "optcore list")
        return _list(verbose=args.verbose)
    options, modules = _take_modules(args.options)
    for module in ([args.module] if args.module else []) + modules:
        _import_module(module, "optcore run")
    experiment = _resolve(args.name)
    if isinstance(experiment, int):
        return experiment
    return _run(experiment, options)


def _usage_error(prog: str, message: str):
    """Print ``prog: error: message`` on stderr and exit with status 2 (as argparse does)."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optcore",
        description="Run optcore's experiments: sweeps over grids and seeds, with cached, resumable results.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"optcore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{list,run}")
    listing = commands.add_parser("list", help="show the experiments, one line each", allow_abbrev=False)
    listing.add_argument("-v", "--verbose", action="store_true", help="also say where each experiment comes from")
    listing.add_argument("--module", metavar="PKG.MOD", help="also import this module's experiments")
    run = commands.add_parser(
        "run",
        help="run an experiment: optcore run NAME [--PARAM VALUE ...] (see optcore run NAME --help)",
        description=(
            "Run an experiment over its grid and seeds; `optcore run NAME --help` lists its parameters. NAME may "
            "be path/to/file.py:NAME (an experiment in a file), or come from --module PKG.MOD."
        ),
        epilog="experiments: " + ", ".join(ex.experiment_names()),
        allow_abbrev=False,
    )
    run.add_argument("--module", metavar="PKG.MOD", help="import this module first (it defines the experiment)")
    run.add_argument("name", help="the experiment (see `optcore list`), or path/to/file.py:NAME")
    run.add_argument("options", nargs=argparse.REMAINDER, help="its parameters and the sweep options")
    return parser


def _take_modules(options: list[str]) -> tuple[list[str], list[str]]:
    """Split ``--module M`` / ``--module=M`` out of the options after NAME (so that they may come anywhere)."""
    rest, modules, it = [], [], iter(options)
    for item in it:
        if item == "--module":
            modules.append(next(it, ""))
        elif item.startswith("--module="):
            modules.append(item.split("=", 1)[1])
        else:
            rest.append(item)
    return rest, modules


def _import_module(module: str, prog: str):
    # as with `python -m`, a module in the current folder is found (the `optcore` script's own folder is first)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return ex.import_module_experiments(module)
    except (ImportError, ValueError) as exc:
        _usage_error(prog, str(exc))
    except Exception as exc:  # the module itself fails: say where, without a traceback
        print(f"{prog}: error: importing {module} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _resolve(name: str):
    """The experiment for NAME or path/to/file.py[:NAME]; or an exit status after printing why not."""
    file, _, inner = name.partition(".py:") if ".py:" in name else (name, "", "")
    if name.endswith(".py") or ".py:" in name:
        path = name if name.endswith(".py") else file + ".py"
        try:
            found = ex.import_file_experiments(path)
        except (FileNotFoundError, ValueError, ImportError) as exc:
            _usage_error("optcore run", str(exc))
        except Exception as exc:  # the file itself fails: say where, without a traceback
            print(f"optcore run: error: importing {path} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        names = [e.name for e in found]
        if not inner:
            if len(found) != 1:
                what = ", ".join(names) or "none"
                _usage_error("optcore run", f"{path} defines {len(found)} experiments ({what}): write {path}:NAME")
            return found[0]
        if inner not in names:
            defined = ", ".join(names) or "none"
            _usage_error("optcore run", f"{path} defines no experiment {inner!r}; it defines: {defined}")
        return ex.get(inner)
    try:
        return ex.get(name)
    except ex.UnknownExperimentError as exc:
        _usage_error("optcore run", str(exc))
    except ex.ExperimentLoadError as exc:
        print(f"optcore run: error: {exc}", file=sys.stderr)
        return 1


def _list(*, verbose: bool) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ex.ExperimentLoadWarning)
        items = ex.experiments()
    for warning in caught:
        print(f"optcore list: warning: {warning.message}", file=sys.stderr)
    width = max((len(e.name) for e in items), default=0)
    for experiment in items:
        print(f"{experiment.name:<{width}}  {experiment.summary}")
        if verbose:
            print(f"{'':<{width}}  from {ex.source(experiment.name)}")
    print(f"\n{len(items)} experiments; `optcore run NAME --help` lists an experiment's parameters.")
    return 0


def _grid_text(experiment: ex.Experiment) -> str:
    configs = 1
    for param in experiment.params:
        configs *= len(param.default) if param.grid else 1
    cells = configs * experiment.seeds
    size = f"{configs} configurations x {experiment.seeds} seeds = {cells} cells"
    when = experiment.timing.text() if experiment.timing is not None else "not measured"
    return f"Default grid: {size}; expected time of `optcore run {experiment.name}`: {when}."


def _experiment_parser(experiment: ex.Experiment) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"optcore run {experiment.name}",
        description=f"{experiment.summary} {_grid_text(experiment)}",
        epilog="A comma list (--K 8,16,32) makes a parameter a grid axis; the sweep runs every combination.",
        allow_abbrev=False,
    )
    group = parser.add_argument_group(f"parameters of {experiment.name}")
    for param in experiment.params:
        flags = [f"--{param.name}"]
        if "_" in param.name:
            flags.append(f"--{param.name.replace('_', '-')}")
        default = param.default_text().replace(",", ", ")
        domain = param.domain_text()
        domain = f", {domain}" if domain else ""
        if param.choices is not None:
            choices = ", ".join(str(c) for c in param.choices)
            aliases = sorted(a for a, v in (param.aliases or {}).items() if v in param.choices)
            if aliases:
                choices += f" (aliases: {', '.join(aliases)})"
            default = "all of them" if param.grid and set(param.default) == set(param.choices) else default
            details = f"{param.type_name}, one of: {choices}; default: {default}"
        else:
            details = f"{param.type_name}{domain}; default: {default}"
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
    sweep.add_argument(
        "--max-cells",
        type=_positive_int,
        default=ex.MAX_CELLS,
        metavar="N",
        help=f"refuse a sweep of more cells than this (default: {ex.MAX_CELLS})",
    )
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, metavar="N", help="run cells in N local processes")
    where.add_argument("--dask", metavar="ADDRESS", help="run cells on the Dask scheduler at ADDRESS")
    sweep.add_argument(
        "--threads-per-worker",
        type=_positive_int,
        default=1,
        metavar="N",
        help="with --workers: threads each worker process may use (default: 1)",
    )
    sweep.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=f"output directory (default: results/{experiment.name}); if it holds an earlier run, DIR-2, DIR-3, ...",
    )
    sweep.add_argument("--force", action="store_true", help="overwrite the earlier run in DIR instead")
    sweep.add_argument("--cache", type=Path, metavar="DIR", help="cache directory (default: DIR/cache of --out)")
    sweep.add_argument("--no-cache", action="store_true", help="recompute every cell and cache nothing")
    sweep.add_argument(
        "--format",
        choices=TABLE_FORMATS,
        default="auto",
        help="table file format (auto: Parquet if pyarrow is installed, else CSV)",
    )
    sweep.add_argument("-q", "--quiet", action="store_true", help="no progress report and no summary table")
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
    try:  # every value's domain and every configuration, before anything runs
        ex.check_sweep(experiment, grid, seeds=args.seeds, max_cells=args.max_cells)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))

    requested = args.out if args.out is not None else Path("results") / experiment.name
    overwrites = args.force and _holds_a_run(requested)
    out = _output_folder(requested, force=args.force)
    cache = None if args.no_cache else (args.cache if args.cache is not None else requested / "cache")
    try:
        result = ex.run_sweep(
            experiment,
            grid,
            seeds=args.seeds,
            base_seed=args.seed,
            workers=args.workers,
            dask=args.dask,
            threads_per_worker=args.threads_per_worker,
            cache=cache,
            progress=not args.quiet,
            max_cells=args.max_cells,
        )
    except KeyboardInterrupt:
        where = f"; finished cells are cached in {cache}: run the same command to resume" if cache else ""
        print(f"optcore run: interrupted{where}", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, ImportError) as exc:
        print(f"optcore run: error: {exc}", file=sys.stderr)
        return 1

    if args.force:
        for name in RUN_OUTPUTS:  # no stale file of the earlier run (a CSV next to a new Parquet table)
            (out / name).unlink(missing_ok=True)
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
    note = ""
    if out != requested:
        note = f" (new folder: {requested} holds an earlier run; --force overwrites it)"
    elif overwrites:
        note = " (--force: the earlier run there was overwritten)"
    print(f"wrote {out}{os.sep}: {', '.join(p.name if p.parent == out else str(p) for p in written)}{note}")
    return 0


def _holds_a_run(folder: Path) -> bool:
    return any((folder / name).exists() for name in RUN_OUTPUTS)


def _output_folder(requested: Path, *, force: bool) -> Path:
    """``requested``, unless it holds an earlier run and not ``force``: then the first free ``requested-k``."""
    if force or not _holds_a_run(requested):
        return requested
    for k in range(2, 10_000):
        candidate = requested.with_name(f"{requested.name}-{k}")
        if not candidate.exists() or (candidate.is_dir() and not _holds_a_run(candidate)):
            print(
                f"optcore run: {requested} holds an earlier run; writing to {candidate} (--force overwrites "
                f"{requested} instead)",
                file=sys.stderr,
            )
            return candidate
    raise RuntimeError(f"no free output folder next to {requested}")  # pragma: no cover


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

