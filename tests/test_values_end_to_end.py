"""Values scientists pass between cells, run in both contexts: the workflow computes and prints
what the notebook computes and prints (tests/notebooks/values/, see make_notebooks.py there).

Each notebook runs once per module (``--context both``); the tests read the shared result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import NOTEBOOKS

pytest.importorskip(
    "naavre_batch_ext.steps.transport",
    reason="needs the value transport (naavre_batch_ext/steps/transport.py, RUNTIME-V2)",
)

from naavre_batch_ext.engines import runner  # noqa: E402

VALUES = NOTEBOOKS / "values"

SAME = (
    "dataframe-rows",
    "array-rows",
    "tuples-and-dates",
    "dataclass",
    "exact-values",
    "display-magics",
)
LIBRARIES = {"dataframe-rows": "pandas", "array-rows": "numpy"}


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


_RESULTS: dict[str, dict[str, Any]] = {}


def _result(name: str, runs: Path) -> dict[str, Any]:
    """The ``both`` run of a values notebook, run once per module."""
    if name in LIBRARIES:
        pytest.importorskip(LIBRARIES[name])
    if name not in _RESULTS:
        _RESULTS[name] = runner.run(VALUES / f"{name}.ipynb", "both", {}, runs_dir=runs)
    return _RESULTS[name]


def _merger_printed(result: dict[str, Any], context: str) -> str:
    """What the merger cell (the notebook's last cell) printed in one context."""
    printed = result[f"{context}_run"]["printed"]
    return printed[max(printed, key=int)]


@pytest.mark.parametrize("name", SAME)
def test_values_notebook_gives_the_same_result(name: str, runs_dir: Path) -> None:
    result = _result(name, runs_dir)
    assert result["status"] == "ok", result.get("comparison") or result.get("errors")
    comparison = result["comparison"]
    assert comparison["same"] is True
    assert comparison["printed_compared"] == 1
    assert comparison["verdict"].startswith("same result (")


@pytest.mark.parametrize("name", SAME)
def test_merger_prints_the_same_text_in_both_contexts(name: str, runs_dir: Path) -> None:
    result = _result(name, runs_dir)
    assert _merger_printed(result, "workflow") == _merger_printed(result, "notebook")
    assert _merger_printed(result, "workflow").strip()


def test_dataframe_split_by_rows_comes_back_with_index_dtypes_and_new_column(
    runs_dir: Path,
) -> None:
    text = _merger_printed(_result("dataframe-rows", runs_dir), "workflow")
    assert "2024-05-12" in text  # the last row's index label, not a renumbered 11
    assert "height_m" in text
    assert "species" in text and "category" in text


def test_dataframe_trace_shows_a_summary_not_json(runs_dir: Path) -> None:
    traced = _result("dataframe-rows", runs_dir)["workflow_run"]["trace"]["heights-in-metres"]
    summary = traced["measured"]["naavre-preview"]
    assert summary["type"] == "pandas.DataFrame"
    assert summary["summary"].startswith("DataFrame, 12 rows x 4 columns")


def test_array_split_on_its_first_axis_merges_back_with_its_shape(runs_dir: Path) -> None:
    result = _result("array-rows", runs_dir)
    assert "(10, 3) float64" in _merger_printed(result, "workflow")
    traced = result["workflow_run"]["trace"]["per-row"]
    assert traced["norms"]["naavre-preview"]["summary"] == "float64 array, shape (10,)"
    assert traced["scaled"]["naavre-preview"]["summary"] == "float64 array, shape (10, 3)"


def test_tuples_and_dates_arrive_as_tuples_and_dates(runs_dir: Path) -> None:
    text = _merger_printed(_result("tuples-and-dates", runs_dir), "workflow")
    assert "(0, datetime.date(2024, 2, 26), 1)" in text
    assert "['int', 'date', 'int'] tuple" in text


def test_header_dataclass_instances_cross_every_step(runs_dir: Path) -> None:
    text = _merger_printed(_result("dataclass", runs_dir), "workflow")
    assert "Plot(name='p5', height=5.0)" in text
    assert text.rstrip().endswith("Plot")


def test_exact_values_keep_int_keys_decimal_sets_float_specials_and_big_ints(
    runs_dir: Path,
) -> None:
    text = _merger_printed(_result("exact-values", runs_dir), "workflow")
    assert "{1: 'one', 2: 'two', 3: 'three'}" in text
    assert "1.10 3.30 ['oak', 'pine'] [nan, inf, -0.0, 0.0] 1152921504606846977" in text
    assert "['dict', 'Decimal', 'set', 'int'] [1, 2, 3]" in text


def test_display_magics_are_no_ops_in_workflow_steps(runs_dir: Path) -> None:
    result = _result("display-magics", runs_dir)
    assert result["workflow_run"]["status"] == "ok"
    assert "[0.0, 0.16666666666666666" in _merger_printed(result, "workflow")


def test_merger_printing_its_process_id_is_not_the_same_and_names_the_printed_line(
    runs_dir: Path,
) -> None:
    result = _result("pid-in-merger", runs_dir)
    comparison = result["comparison"]
    assert result["status"] == "different"
    assert comparison["same"] is False
    # Every value is equal: only what the merger printed differs.
    assert [d["kind"] for d in comparison["differences"]] == ["printed"]
    [diff] = comparison["differences"]
    assert (diff["step"], diff["cell_index"]) == ("show", 3)
    assert diff["notebook"].startswith("total: 20\nmerger process: ")
    assert diff["workflow"].startswith("total: 20\nmerger process: ")
    assert comparison["verdict"].startswith(
        'not the same: cell 3 (step show) printed differently: line 2: notebook "merger process: '
    )
