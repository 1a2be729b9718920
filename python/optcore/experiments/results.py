"""A sweep's result: a tidy pandas table plus the metadata that says how it was made, saved as Parquet or CSV + JSON."""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_FORMATS = ("auto", "parquet", "csv")
METADATA_FILE = "metadata.json"


def parquet_available() -> bool:
    """Whether pandas can write Parquet here (pyarrow is installed: ``pip install optcore[parquet]``)."""
    return importlib.util.find_spec("pyarrow") is not None


@dataclass
class ResultTable:
    """A tidy table (one row per configuration and seed, or several when an experiment returns rows) and metadata.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns: the experiment's parameters, ``replicate`` (0..S-1), ``seed`` (the cell's seed), then the
        experiment's outputs.
    meta : dict
        JSON-serialisable: experiment and optcore versions, the grid, seeds, times, backend, workers and
        threads, cache statistics.
    """

    table: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @property
    def cache_stats(self) -> dict:
        """``{"hits", "misses", "corrupt", "computed"}``: how many cells came from the cache and how many ran."""
        return dict(self.meta.get("cache", {}))

    def save(self, directory, *, format: str = "auto") -> dict[str, Path]:
        """Write ``table.parquet`` (or ``table.csv``) and ``metadata.json`` into ``directory``.

        Parameters
        ----------
        directory : str or os.PathLike
            Created if needed.
        format : {"auto", "parquet", "csv"}
            ``"auto"``: Parquet when pyarrow is installed, otherwise CSV.

        Returns
        -------
        dict
            ``{"table": path, "metadata": path}``.
        """
        if format not in TABLE_FORMATS:
            raise ValueError(f"format must be one of {', '.join(TABLE_FORMATS)}, got {format!r}")
        if format == "auto":
            format = "parquet" if parquet_available() else "csv"
        if format == "parquet" and not parquet_available():
            raise ImportError("writing Parquet needs pyarrow: pip install 'optcore[parquet]' (or use format='csv')")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        table_path = directory / f"table.{format}"
        if format == "parquet":
            self.table.to_parquet(table_path, index=False)
        else:
            self.table.to_csv(table_path, index=False)
        meta_path = directory / METADATA_FILE
        meta = {**self.meta, "table_file": table_path.name}
        meta_path.write_text(json.dumps(_jsonable(meta), indent=2, allow_nan=False) + "\n")
        return {"table": table_path, "metadata": meta_path}

    @classmethod
    def load(cls, directory) -> ResultTable:
        """Read a table saved by :meth:`save`.

        Parameters
        ----------
        directory : str or os.PathLike
            A directory holding ``metadata.json`` and the table file it names.

        Returns
        -------
        ResultTable
        """
        directory = Path(directory)
        meta_path = directory / METADATA_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"no {METADATA_FILE} in {directory}: not a saved ResultTable")
        meta = json.loads(meta_path.read_text())
        table_file = meta.pop("table_file", None)
        if table_file not in ("table.parquet", "table.csv"):
            raise ValueError(f"{meta_path} names no table file (table_file = {table_file!r})")
        if table_file == "table.parquet":
            table = pd.read_parquet(directory / table_file)
        else:
            # pandas >= 3 parses floats exactly by default (and deprecates the option); older ones need "round_trip"
            exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
            table = pd.read_csv(directory / table_file, **exact)
        return cls(table=table, meta=meta)


def _jsonable(obj):
    """``obj`` with numpy scalars and arrays, paths and tuples turned into JSON types; non-finite floats as strings."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj
