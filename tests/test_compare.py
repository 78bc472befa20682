"""Trace comparison: Python values by type, never normalised; the first differing path; the
printed output of the merger in both contexts; the verdict."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import SEED, tagged_seed_notebook

from naavre_batch_ext.core.analysis import json_kind
from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.engines.compare import (
    MISSING,
    PathStep,
    compare_traces,
    comparison_for_json,
    first_difference,
    format_path,
    printed_cells,
)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_spec(tagged_seed_notebook(), str(SEED))


ROOT = Path(__file__).resolve().parent.parent
MERGER_CELL = 8  # the seed's merger: "Processed items: [...]"


def _run(
    trace: dict[str, Any], status: str = "ok", printed: dict[Any, str] | None = None
) -> dict[str, Any]:
    if printed is None:
        printed = {MERGER_CELL: "Processed items: [0.0, 0.5, 1.0]\n"}
    return {"status": status, "trace": trace, "printed": printed}


def _traces(processed: Any) -> dict[str, Any]:
    return {
        "gen-batches": {"batches": [[0, 1], [2]]},
        "process-batches": {"processed_batches": processed},
    }


def test_equal_traces_are_the_same(spec: dict[str, Any]) -> None:
    result = compare_traces(
        spec, _run(_traces([[0.0, 0.5], [1.0]])), _run(_traces([[0.0, 0.5], [1.0]]))
    )
    assert result == {
        "same": True,
        "verdict": "same result (2 values and 1 printed output compared)",
        "compared": 2,
        "printed_compared": 1,
        "differences": [],
        "not_compared": [],
    }


def test_tuples_are_not_lists(spec: dict[str, Any]) -> None:
    # The case: a list of tuples arriving as a list of lists is a different value.
    result = compare_traces(
        spec, _run(_traces([(0.0, 0.5), (1.0,)])), _run(_traces([[0.0, 0.5], [1.0]]))
    )
    assert result["same"] is False
    assert result["differences"][0]["path"] == "processed_batches[0]"
    assert result["verdict"] == (
        "not the same: processed_batches[0] (after step process-batches): "
        "notebook (0.0, 0.5) (tuple), workflow [0.0, 0.5] (list)"
    )


def test_difference_reports_variable_step_first_path_and_both_values(spec: dict[str, Any]) -> None:
    nb = _traces([[0.0, 0.5], [1.0, 2.0], [3.0]])
    wf = _traces([[0.0, 0.5], [1.0, 2.5], [3.5]])
    [diff] = compare_traces(spec, _run(nb), _run(wf))["differences"]
    assert diff == {
        "kind": "value",
        "step": "process-batches",
        "variable": "processed_batches",
        "path": "processed_batches[1][1]",
        "notebook": 2.0,
        "workflow": 2.5,
        "notebook_summary": {"type": "float", "summary": "float 2.0", "preview": "2.0"},
        "workflow_summary": {"type": "float", "summary": "float 2.5", "preview": "2.5"},
    }


def test_int_and_float_differ() -> None:
    assert first_difference([1], [1.0]) == ([0], 1, 1.0)


def test_bool_and_int_differ() -> None:
    assert first_difference({"a": True}, {"a": 1}) == (["a"], True, 1)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "null"),
        (True, "bool"),
        (0, "int"),
        (0.0, "float"),
        ("", "str"),
        ([], "list"),
        ({}, "dict"),
        ((1,), None),
        ({1}, None),
        (b"x", None),
    ],
)
def test_json_kind_names_json_types_bool_apart_from_int_and_none_for_others(
    value: Any, kind: str | None
) -> None:
    assert json_kind(value) == kind


def test_missing_list_element_and_dict_key_are_differences() -> None:
    assert first_difference([1, 2], [1]) == ([1], 2, MISSING)
    assert first_difference({"a": 1}, {"a": 1, "b": 2}) == (["b"], MISSING, 2)


def test_path_formats_indices_and_keys() -> None:
    assert format_path("x", [2, "name", 0]) == 'x[2]["name"][0]'


def test_failed_workflow_is_not_the_same(spec: dict[str, Any]) -> None:
    nb = _traces([[0.0]])
    wf = {"gen-batches": nb["gen-batches"]}
    result = compare_traces(spec, _run(nb), _run(wf, "failed"))
    assert result["same"] is False
    assert result["not_compared"][0] == {
        "step": "process-batches",
        "variable": "processed_batches",
        "reason": "the workflow run did not reach this step",
    }
    assert result["verdict"] == "not the same: a run did not finish"


@pytest.mark.parametrize(
    ("name", "phrase"),
    [("int", "an int"), ("dict", "a dict"), ("pandas.DataFrame", "a pandas.DataFrame")],
)
def test_type_names_in_messages_take_the_right_article(name: str, phrase: str) -> None:
    from naavre_batch_ext.steps.step_runtime import with_article

    assert with_article(name) == phrase


# -- values by type -------------------------------------------------------------------------------


def _path(a: Any, b: Any) -> str | None:
    """Where two values first differ, written the way the verdict writes it (None: the same)."""
    found = first_difference(a, b)
    return None if found is None else format_path("x", found[0])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((1, 2), [1, 2]),
        (1, 1.0),
        (True, 1),
        ({1: "v"}, {"1": "v"}),
        (-0.0, 0.0),
        (frozenset({1}), {1}),
        (Decimal("1.0"), Decimal("1.00")),
        (date(2024, 1, 1), datetime(2024, 1, 1)),
        (b"a", "a"),
        (range(3), [0, 1, 2]),
    ],
    ids=[
        "tuple-list",
        "int-float",
        "bool-int",
        "int-key-str-key",
        "minus-zero",
        "frozenset-set",
        "decimal-exponent",
        "date-datetime",
        "bytes-str",
        "range-list",
    ],
)
def test_values_python_calls_equal_differ_by_type_or_exactly(a: Any, b: Any) -> None:
    assert first_difference(a, b) is not None


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        [float("nan"), float("inf"), -float("inf"), -0.0],
        2**60 + 1,
        {3: (1, "a"), "k": {frozenset({1, 2})}},
        Decimal("NaN"),
        datetime(2024, 3, 31, 2, 30, tzinfo=timezone(timedelta(hours=2))),
        range(0, 10, 3),
    ],
    ids=["nan", "specials", "big-int", "nested", "decimal-nan", "aware-datetime", "range"],
)
def test_a_value_and_its_copy_are_the_same(value: Any) -> None:
    assert first_difference(value, copy.deepcopy(value)) is None


def test_dict_keys_that_python_confuses_are_told_apart_by_type() -> None:
    # 1, 1.0 and True are one dict key to Python.
    assert first_difference({1: "a"}, {1.0: "a"}) == ([PathStep(".keys()[0]")], 1, 1.0)


def test_dict_key_order_counts() -> None:
    # Insertion order is what printing and iteration show (Argo >= 3.5.11 re-sorts JSON keys).
    assert _path({"b": 1, "a": 2}, {"a": 2, "b": 1}) == "x.keys()[0]"


def test_set_difference_shows_the_items_on_one_side_only() -> None:
    assert first_difference({1, 2, 3}, {1, 2, 4}) == (
        [PathStep(" (items on one side only)")],
        {3},
        {4},
    )


def test_set_items_python_confuses_are_told_apart_by_type() -> None:
    assert _path({1}, {1.0}) == "x (an item's type)"


def test_datetimes_at_the_same_instant_in_other_zones_differ() -> None:
    noon_utc = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    one_pm_plus_one = datetime(2024, 1, 1, 13, tzinfo=timezone(timedelta(hours=1)))
    assert noon_utc == one_pm_plus_one  # Python: the same instant
    assert _path(noon_utc, one_pm_plus_one) == "x.tzinfo"


def test_naive_and_aware_datetimes_differ_at_tzinfo() -> None:
    assert _path(datetime(2024, 1, 1), datetime(2024, 1, 1, tzinfo=timezone.utc)) == "x.tzinfo"


@dataclass
class Plot:
    name: str
    heights: list[float]


class Pair:
    __slots__ = ("left", "right")

    def __init__(self, left: Any, right: Any) -> None:
        self.left, self.right = left, right


def test_dataclass_instances_compare_by_their_fields_exactly() -> None:
    # A dataclass's own == says Plot("a", [1]) == Plot("a", [1.0]); the comparison does not.
    assert Plot("a", [1]) == Plot("a", [1.0])  # type: ignore[list-item]
    assert _path([Plot("a", [1.0])], [Plot("a", [1])]) == "x[0].heights[0]"  # type: ignore[list-item]
    assert first_difference(Plot("a", [0.5]), Plot("a", [0.5])) is None


def test_objects_with_slots_compare_by_their_slots() -> None:
    assert first_difference(Pair(1, (2,)), Pair(1, (2,))) is None
    assert _path(Pair(1, (2,)), Pair(1, [2])) == "x.right"


def test_a_stand_in_class_of_the_same_module_and_name_is_the_same_class() -> None:
    # The runner loads the notebook's values with stand-in classes: same module, same qualname.
    stand_in = type("Plot", (), {"__module__": Plot.__module__, "__qualname__": Plot.__qualname__})
    loaded = stand_in()
    loaded.__dict__.update({"name": "a", "heights": [0.5]})
    assert first_difference(Plot("a", [0.5]), loaded) is None
    other = type("Plot", (), {"__module__": "elsewhere", "__qualname__": "Plot"})()
    assert first_difference(Plot("a", [0.5]), other) is not None


def test_self_referencing_values_are_compared_without_endless_recursion() -> None:
    a: list[Any] = [1]
    a.append(a)
    b: list[Any] = [1]
    b.append(b)
    assert first_difference(a, b) is None


def test_functions_compare_by_name() -> None:
    assert first_difference(len, len) is None
    assert first_difference(len, abs) is not None


# -- numpy and pandas -----------------------------------------------------------------------------


def test_arrays_compare_dtype_first() -> None:
    np = pytest.importorskip("numpy")
    assert first_difference(np.zeros(3), np.zeros(3, dtype=np.float32)) == (
        [PathStep(".dtype")],
        np.dtype("float64"),
        np.dtype("float32"),
    )


def test_arrays_compare_shape_then_name_the_first_differing_element() -> None:
    np = pytest.importorskip("numpy")
    a = np.zeros((2, 3))
    b = a.copy()
    b[1, 2] = 0.25
    assert _path(a, a.reshape(3, 2)) == "x.shape"
    assert first_difference(a, b) == ([PathStep("[1, 2]")], 0.0, 0.25)


def test_arrays_are_equal_with_nan_where_both_have_nan_but_not_minus_zero_for_zero() -> None:
    np = pytest.importorskip("numpy")
    a = np.array([1.0, np.nan, -0.0, np.inf])
    assert first_difference(a, a.copy()) is None
    assert _path(a, np.array([1.0, np.nan, 0.0, np.inf])) == "x[2]"


def test_datetime64_arrays_with_nat_compare_equal_to_their_copy() -> None:
    np = pytest.importorskip("numpy")
    a = np.array(["2024-01-01", "NaT"], dtype="datetime64[D]")
    assert first_difference(a, a.copy()) is None
    assert _path(a, a.astype("datetime64[s]")) == "x.dtype"


def test_structured_arrays_name_the_record_and_field() -> None:
    np = pytest.importorskip("numpy")
    a = np.array([("s1", 1.5), ("s2", 2.5)], dtype=[("site", "U4"), ("height", "f8")])
    b = a.copy()
    b["height"][1] = 2.0
    assert first_difference(a, a.copy()) is None
    assert _path(a, b) == 'x[1]["height"]'


def test_object_arrays_compare_their_elements_by_type() -> None:
    np = pytest.importorskip("numpy")
    a = np.array([(1, 2), "s"], dtype=object)
    b = np.array([[1, 2], "s"], dtype=object)
    assert _path(a, b) == "x[0]"


def test_numpy_scalars_compare_by_dtype_and_bits() -> None:
    np = pytest.importorskip("numpy")
    assert first_difference(np.float64(0.5), np.float64(0.5)) is None
    assert first_difference(np.float64(0.5), np.float32(0.5)) is not None
    assert first_difference(np.float64(0.5), 0.5) is not None
    assert first_difference(np.float64(-0.0), np.float64(0.0)) is not None


def _table() -> Any:
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(
        {
            "height": [1.0, float("nan"), 3.0],
            "species": pd.Categorical(["oak", "pine", "oak"]),
            "note": ["a", "b", "c"],
        },
        index=pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-03"], name="day"),
    )


def test_dataframe_equal_to_its_copy_with_nan_in_place() -> None:
    table = _table()
    assert first_difference(table, table.copy()) is None


def test_dataframe_value_difference_names_column_and_row_position() -> None:
    table = _table()
    other = table.copy()
    other.iloc[2, 0] = 3.5
    assert first_difference(table, other) == (["height", PathStep(".iloc[2]")], 3.0, 3.5)


def test_dataframe_dtype_change_is_a_difference_even_when_values_print_alike() -> None:
    table = _table()
    other = table.assign(species=table["species"].astype(object))
    assert _path(table, other) == 'x["species"].dtype'


def test_dataframe_column_order_index_dtype_and_index_names_count() -> None:
    pd = pytest.importorskip("pandas")
    table = _table()
    assert _path(table, table[["note", "height", "species"]]) == "x.columns[0]"
    assert _path(table, table.reset_index(drop=True).set_index(table.index.tz_localize("UTC"))) == (
        "x.index.dtype"
    )
    renumbered = table.set_index(pd.DatetimeIndex(table.index, name="date"))
    assert _path(table, renumbered) == "x.index.names[0]"


def test_series_name_counts() -> None:
    pd = pytest.importorskip("pandas")
    assert _path(pd.Series([1, 2], name="a"), pd.Series([1, 2], name="b")) == "x.name"


def test_nullable_series_compare_missing_values_by_position() -> None:
    pd = pytest.importorskip("pandas")
    a = pd.Series([1, None, 3], dtype="Int64")
    assert first_difference(a, a.copy()) is None
    assert _path(a, pd.Series([1, 2, 3], dtype="Int64")) == "x.iloc[1]"


def test_comparing_plain_values_imports_neither_numpy_nor_pandas() -> None:
    code = (
        "import sys\n"
        "from naavre_batch_ext.engines.compare import first_difference\n"
        "first_difference([(1, 2.0), {'a': {1}}], [(1, 2.0), {'a': {1}}])\n"
        "print(sorted(m for m in ('numpy', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


# -- printed output -------------------------------------------------------------------------------


def test_printed_cells_are_the_merger_cells(spec: dict[str, Any]) -> None:
    assert printed_cells(spec) == [("retrieve-batches", MERGER_CELL)]


def test_printed_output_that_differs_makes_the_result_not_the_same(spec: dict[str, Any]) -> None:
    nb = _run(_traces([[0.0]]), printed={MERGER_CELL: "pid parity: 0\nProcessed items: [0.0]\n"})
    wf = _run(
        _traces([[0.0]]), printed={str(MERGER_CELL): "pid parity: 1\nProcessed items: [0.0]\n"}
    )
    result = compare_traces(spec, nb, wf)
    assert result["same"] is False
    assert result["differences"] == [
        {
            "kind": "printed",
            "step": "retrieve-batches",
            "cell_index": MERGER_CELL,
            "variable": f"printed output of cell {MERGER_CELL}",
            "path": f"printed output of cell {MERGER_CELL}",
            "notebook": "pid parity: 0\nProcessed items: [0.0]\n",
            "workflow": "pid parity: 1\nProcessed items: [0.0]\n",
        }
    ]
    assert result["verdict"] == (
        "not the same: cell 8 (step retrieve-batches) printed differently: line 1: "
        'notebook "pid parity: 0", workflow "pid parity: 1"'
    )


def test_printed_output_keys_may_be_ints_or_strings(spec: dict[str, Any]) -> None:
    text = {MERGER_CELL: "Processed items: [0.0]\n"}
    wf = _run(_traces([[0.0]]), printed={str(k): v for k, v in text.items()})
    assert compare_traces(spec, _run(_traces([[0.0]]), printed=text), wf)["same"] is True


def test_a_cell_printing_nothing_in_one_context_is_a_difference(spec: dict[str, Any]) -> None:
    nb = _run(_traces([[0.0]]), printed={MERGER_CELL: "done\n"})
    wf = _run(_traces([[0.0]]), printed={})
    result = compare_traces(spec, nb, wf)
    assert result["same"] is False
    assert result["verdict"].endswith('line 1: notebook "done", workflow nothing')


def test_processor_prints_are_not_compared(spec: dict[str, Any]) -> None:
    # Processors print once per batch in workflow context: their text is not the notebook's.
    nb = _run(_traces([[0.0]]), printed={6: "Processed batches: [[0.0]]\n", MERGER_CELL: "x\n"})
    wf = _run(_traces([[0.0]]), printed={6: "Processed batches: [0.0]\n", MERGER_CELL: "x\n"})
    assert compare_traces(spec, nb, wf)["same"] is True


def test_a_run_without_recorded_printed_output_cannot_be_called_the_same(
    spec: dict[str, Any],
) -> None:
    wf = _run(_traces([[0.0]]))
    del wf["printed"]
    result = compare_traces(spec, _run(_traces([[0.0]])), wf)
    assert result["same"] is False
    assert result["verdict"] == (
        "not the same: printed output of cell 8 (step retrieve-batches) was not compared: "
        "the workflow run did not record printed output"
    )


def test_comparison_for_json_writes_non_json_values_as_their_summary(spec: dict[str, Any]) -> None:
    result = compare_traces(spec, _run(_traces([(0.0, 0.5)])), _run(_traces([[0.0, 0.5]])))
    [diff] = comparison_for_json(result)["differences"]
    assert diff["notebook"]["naavre-preview"]["preview"] == "(0.0, 0.5)"
    assert diff["workflow"] == [0.0, 0.5]
    assert diff["notebook_summary"]["type"] == "tuple"
    json.dumps(comparison_for_json(result))  # does not raise


def test_masked_arrays_compare_their_masks() -> None:
    np = pytest.importorskip("numpy")
    a = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    assert first_difference(a, a.copy()) is None
    b = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, False, False])
    assert _path(a, b) == "x.mask[1]"


def test_values_nested_deeper_than_the_recursion_limit_are_compared() -> None:
    """Issue 22 item 7: a 600-deep list gave a RecursionError; now any depth is compared."""
    a: list[Any] = [0]
    b: list[Any] = [1]
    for _ in range(20_000):
        a, b = [a], [b]
    found = first_difference(a, b)
    assert found is not None
    path, x, y = found
    assert (len(path), x, y) == (20_001, 0, 1)
    c: list[Any] = [0]
    for _ in range(20_000):
        c = [c]
    assert first_difference(a, c) is None
