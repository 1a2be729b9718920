"""Results and figures: ResultTable saves and loads as Parquet or CSV plus JSON; figures have titles, labelled axes
and legends, and are written as PNG and PDF."""

import json

import pandas as pd
import pytest
from test_sweep_toy import ROWS, TOY

from optcore import experiments as ex
from optcore.experiments.results import parquet_available


@pytest.fixture(scope="module")
def result():
    return ex.run_sweep(TOY, {"scale": [0.5, 2.0], "label": ["x", "y"]}, seeds=2)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_save_load_round_trip(tmp_path, result, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    paths = result.save(tmp_path, format=fmt)
    assert paths == {"table": tmp_path / f"table.{fmt}", "metadata": tmp_path / "metadata.json"}
    loaded = ex.ResultTable.load(tmp_path)
    pd.testing.assert_frame_equal(loaded.table, result.table, check_dtype=fmt == "parquet")
    assert loaded.meta == json.loads(json.dumps(result.meta))
    assert json.loads((tmp_path / "metadata.json").read_text())["table_file"] == f"table.{fmt}"


def test_csv_round_trip_is_exact_for_floats(tmp_path):
    table = ex.run_sweep(ROWS, seeds=3).table
    ex.ResultTable(table=table, meta={}).save(tmp_path, format="csv")
    pd.testing.assert_frame_equal(ex.ResultTable.load(tmp_path).table, table)


def test_auto_format_and_errors(tmp_path, result):
    paths = result.save(tmp_path)
    assert paths["table"].name == ("table.parquet" if parquet_available() else "table.csv")
    with pytest.raises(ValueError, match="auto, parquet, csv"):
        result.save(tmp_path, format="xlsx")
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        ex.ResultTable.load(tmp_path / "nowhere")


def test_metadata_with_numpy_values_and_nan(tmp_path):
    import numpy as np

    rt = ex.ResultTable(table=pd.DataFrame({"x": [1.0]}), meta={"a": np.int64(3), "b": np.arange(2), "c": np.nan})
    rt.save(tmp_path, format="csv")
    assert ex.ResultTable.load(tmp_path).meta == {"a": 3, "b": [0, 1], "c": "nan"}


def test_figure_has_title_labels_and_legend(tmp_path, result):
    fig = ex.draw(TOY, result.table)
    (ax,) = fig.axes
    assert ax.get_title() == TOY.summary  # the default title
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("a", "mean value")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["scale 0.5", "scale 2.0"]
    png, pdf = ex.save_figure(fig, tmp_path / "figure")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"
    assert ex.save_figure(fig, tmp_path / "again.svg", formats=("pdf",)) == [tmp_path / "again.pdf"]
    with pytest.raises(ValueError, match="png, pdf"):
        ex.save_figure(fig, tmp_path / "x", formats=("jpg",))


def test_figure_must_label_its_axes(result):
    unlabelled = ex.Experiment(name="toy-unlabelled", summary="s", run=TOY.run, figure=lambda t, ax: ax.plot([1]))
    with pytest.raises(ValueError, match="label both axes"):
        ex.draw(unlabelled, result.table)
    with pytest.raises(ValueError, match="declares no figure"):
        ex.draw(ROWS, result.table)


def test_band_and_mean_band_figure(tmp_path, result):
    fig, ax = ex.new_figure()
    stats = ex.mean_band(result.table, ["a"], "value")
    ex.band(ax, stats["a"], stats["mean"], stats["lo"], stats["hi"], label="value")
    ax.set(xlabel="a", ylabel="value", title="a band")
    assert len(ax.collections) == 1 and ax.lines[0].get_label() == "value"


def test_default_summary_table(result):
    summary = TOY.summary_table(result.table)
    assert list(summary.columns) == ["a", "scale", "label", "flag", "seeds", "value", "noise", "positive", "count"]
    assert len(summary) == 3 * 2 * 2 and (summary["seeds"] == 2).all()
    first = result.table.iloc[:2]
    assert summary.loc[0, "value"] == pytest.approx(first["value"].mean())
