"""Summaries of values that are not JSON, for the run folders, the panel's run view, the REST run
details and the comparison's messages: type, size and structure, and a short preview."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from naavre_batch_ext.engines.preview import PREVIEW_LIMIT, describe, summarize, type_name

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class Plot:
    name: str
    height: float


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr today")


def test_array_summary_gives_dtype_and_shape() -> None:
    np = pytest.importorskip("numpy")
    assert summarize(np.zeros((1000, 3))) == {
        "type": "numpy.ndarray",
        "summary": "float64 array, shape (1000, 3)",
        "preview": summarize(np.zeros((1000, 3)))["preview"],
    }
    assert summarize(np.zeros((1000, 3)))["preview"].startswith("array([[0., 0., 0.],")


def test_structured_array_summary_names_its_fields() -> None:
    np = pytest.importorskip("numpy")
    a = np.zeros(4, dtype=[("site", "U4"), ("height", "f4")])
    assert summarize(a)["summary"] == "structured array (fields site, height), shape (4,)"


def test_numpy_scalar_summary() -> None:
    np = pytest.importorskip("numpy")
    assert summarize(np.float32(1.5))["summary"] == "numpy float32 scalar"
    assert summarize(np.float32(1.5))["type"] == "numpy.float32"


def test_dataframe_summary_gives_rows_columns_dtypes_and_index() -> None:
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({"height": [1.5] * 20, "count": range(20)})
    assert summarize(table)["type"] == "pandas.DataFrame"
    assert summarize(table)["summary"] == (
        "DataFrame, 20 rows x 2 columns (height float64, count int64), RangeIndex"
    )
    # The first rows on one line, then a sign that more follow.
    assert summarize(table)["preview"].startswith("height count | 0 1.5 0 | 1 1.5 1")
    assert summarize(table)["preview"].endswith("| ...")


def test_series_summary_gives_length_dtype_and_name() -> None:
    pd = pytest.importorskip("pandas")
    assert summarize(pd.Series([1, 2], name="count"))["summary"] == (
        "Series, 2 values, dtype int64, name 'count'"
    )


@pytest.mark.parametrize(
    ("value", "kind", "summary"),
    [
        ([0.5] * 28, "list", "list, 28 items of float"),
        ((1, "a"), "tuple", "tuple, 2 items"),
        ({1: "a", 2: "b"}, "dict", "dict, 2 keys of int"),
        ({1.5}, "set", "set, 1 item of float"),
        ("abc", "str", "str, 3 characters"),
        (2**200, "int", "int, 201 bits"),
        (0.5, "float", "float 0.5"),
        (None, "NoneType", "None"),
        (date(2024, 5, 1), "datetime.date", "datetime.date 2024-05-01"),
        (Decimal("1.00"), "decimal.Decimal", "decimal.Decimal 1.00"),
        # A class defined in this module; one defined in a notebook (__main__) shows as "Plot".
        (Plot("a", 1.0), "test_preview.Plot", "dataclass test_preview.Plot (name, height)"),
        (range(10), "range", "range, 10 items"),
    ],
)
def test_summary_of_python_values(value: Any, kind: str, summary: str) -> None:
    assert summarize(value)["type"] == kind
    assert summarize(value)["summary"] == summary


def test_preview_is_at_most_the_limit_and_shows_the_first_items() -> None:
    preview = summarize(list(range(100_000)))["preview"]
    assert len(preview) <= PREVIEW_LIMIT
    assert preview.startswith("[0, 1, 2, 3")
    assert len(summarize("x" * 10_000)["preview"]) <= PREVIEW_LIMIT


def test_a_value_whose_repr_fails_is_still_summarised_by_its_type() -> None:
    assert summarize(Broken()) == {
        "type": "test_preview.Broken",
        "summary": "test_preview.Broken object",
        "preview": "<test_preview.Broken object>",
    }


def test_summaries_are_json() -> None:
    np = pytest.importorskip("numpy")
    json.dumps([summarize(v) for v in (np.arange(3), {1, 2}, Plot("a", 1.0), b"\x00")])


def test_type_names_drop_builtins_and_cut_library_modules() -> None:
    pd = pytest.importorskip("pandas")
    assert type_name(1) == "int"
    assert type_name(pd.DataFrame()) == "pandas.DataFrame"  # not pandas.core.frame.DataFrame
    assert type_name(date(2024, 1, 1)) == "datetime.date"
    assert type_name(type("Plot", (), {"__module__": "__main__"})()) == "Plot"


def test_describe_is_a_short_repr_and_the_type() -> None:
    assert describe(0.5) == "0.5 (float)"
    assert describe((1, 2)) == "(1, 2) (tuple)"


def test_summarising_imports_neither_numpy_nor_pandas() -> None:
    code = (
        "import sys\n"
        "from naavre_batch_ext.engines.preview import summarize\n"
        "summarize([(1, 2.0), {'a': {1}}])\n"
        "print(sorted(m for m in ('numpy', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
