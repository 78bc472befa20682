"""Values scientists pass between cells, run in both contexts: the workflow computes and prints
what the notebook computes and prints (tests/notebooks/values/, see make_notebooks.py there).

Each notebook runs once per module (``--context both``); the tests read the shared result.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import NOTEBOOKS, reference_runs

pytest.importorskip(
    "naavre_batch_ext.steps.transport",
    reason="needs the value transport (naavre_batch_ext/steps/transport.py, RUNTIME-V2)",
)

from naavre_batch_ext.core.notebook import load_notebook  # noqa: E402
from naavre_batch_ext.engines import runner  # noqa: E402

VALUES = NOTEBOOKS / "values"

SAME = (
    "dataframe-rows",
    "array-rows",
    "tuples-and-dates",
    "dataclass",
    "exact-values",
    "display-magics",
    "builtin-subclasses-same",
    "class-names-itself",
    "deep-list",
    "set-of-strings",
)
LIBRARIES = {"dataframe-rows": "pandas", "array-rows": "numpy"}


_RESULTS: dict[str, dict[str, Any]] = {}


def _result(name: str) -> dict[str, Any]:
    """The ``both`` run of a values notebook, once per module: both contexts from the runs the
    engine tests share (helpers.reference_runs; they skip the notebook context when the workflow
    context failed, so it is run here then), ended as ``run(..., "both")`` ends them
    (``runner.conclude``)."""
    if name in LIBRARIES:
        pytest.importorskip(LIBRARIES[name])
    if name not in _RESULTS:
        path = VALUES / f"{name}.ipynb"
        spec, workflow, notebook = reference_runs(path)
        if notebook is None:
            notebook = runner.run_notebook(spec, load_notebook(path), path)
        both = {"notebook": str(path), "context": "both"}
        both |= {"notebook_run": notebook, "workflow_run": workflow}
        _RESULTS[name] = runner.conclude(spec, both, runner.CancelHandle(), compare_runs=True)
    return _RESULTS[name]


def _merger_printed(result: dict[str, Any], context: str) -> str:
    """What the merger cell (the notebook's last cell) printed in one context."""
    printed = result[f"{context}_run"]["printed"]
    return printed[max(printed, key=int)]


@pytest.mark.parametrize("name", SAME)
def test_values_notebook_gives_the_same_result(name: str) -> None:
    result = _result(name)
    assert result["status"] == "ok", result.get("comparison") or result.get("errors")
    comparison = result["comparison"]
    assert comparison["same"] is True
    assert comparison["printed_compared"] == 1
    assert comparison["verdict"].startswith("same result (")


@pytest.mark.parametrize("name", SAME)
def test_merger_prints_the_same_text_in_both_contexts(name: str) -> None:
    result = _result(name)
    assert _merger_printed(result, "workflow") == _merger_printed(result, "notebook")
    assert _merger_printed(result, "workflow").strip()


def test_dataframe_split_by_rows_comes_back_with_index_dtypes_and_new_column() -> None:
    text = _merger_printed(_result("dataframe-rows"), "workflow")
    assert "2024-05-12" in text  # the last row's index label, not a renumbered 11
    assert "height_m" in text
    assert "species" in text and "category" in text


def test_dataframe_trace_shows_a_summary_not_json() -> None:
    traced = _result("dataframe-rows")["workflow_run"]["trace"]["heights-in-metres"]
    summary = traced["measured"]["naavre-preview"]
    assert summary["type"] == "pandas.DataFrame"
    assert summary["summary"].startswith("DataFrame, 12 rows x 4 columns")


def test_array_split_on_its_first_axis_merges_back_with_its_shape() -> None:
    result = _result("array-rows")
    assert "(10, 3) float64" in _merger_printed(result, "workflow")
    traced = result["workflow_run"]["trace"]["per-row"]
    assert traced["norms"]["naavre-preview"]["summary"] == "float64 array, shape (10,)"
    assert traced["scaled"]["naavre-preview"]["summary"] == "float64 array, shape (10, 3)"


def test_tuples_and_dates_arrive_as_tuples_and_dates() -> None:
    text = _merger_printed(_result("tuples-and-dates"), "workflow")
    assert "(0, datetime.date(2024, 2, 26), 1)" in text
    assert "['int', 'date', 'int'] tuple" in text


def test_header_dataclass_instances_cross_every_step() -> None:
    text = _merger_printed(_result("dataclass"), "workflow")
    assert "Plot(name='p5', height=5.0)" in text
    assert text.rstrip().endswith("Plot")


def test_exact_values_keep_int_keys_decimal_sets_float_specials_and_big_ints() -> None:
    text = _merger_printed(_result("exact-values"), "workflow")
    assert "{1: 'one', 2: 'two', 3: 'three'}" in text
    assert "1.10 3.30 ['oak', 'pine'] [nan, inf, -0.0, 0.0] 1152921504606846977" in text
    assert "['dict', 'Decimal', 'set', 'int'] [1, 2, 3]" in text


def test_display_magics_are_no_ops_in_workflow_steps() -> None:
    result = _result("display-magics")
    assert result["workflow_run"]["status"] == "ok"
    assert "[0.0, 0.16666666666666666" in _merger_printed(result, "workflow")


def test_merger_printing_its_process_id_is_not_the_same_and_names_the_printed_line() -> None:
    result = _result("pid-in-merger")
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


# -- issue 22 ---------------------------------------------------------------------------------


def _messages(result: dict[str, Any]) -> str:
    """Every message a run shows (warnings and errors of both contexts, the verdict)."""
    texts: list[str] = [result.get("comparison", {}).get("verdict", "")]
    for context in ("notebook_run", "workflow_run"):
        run = result.get(context, {})
        texts += run.get("warnings", [])
        texts += [e.get("message", "") + "\n" + e.get("hint", "") for e in run.get("errors", [])]
    return "\n".join(texts)


def test_header_subclasses_of_builtins_with_different_values_are_not_the_same() -> None:
    """Item 4: Num(int), Real(float), Name(str), Pair(tuple) and a namedtuple, whose values
    differ between the contexts (each batch has fewer than 4 items), are told apart."""
    result = _result("builtin-subclasses-differ")
    comparison = result["comparison"]
    assert result["status"] == "different"
    assert comparison["same"] is False
    paths = {d["variable"]: d["path"] for d in comparison["differences"]}
    assert paths == {
        "nums": "nums[0]",
        "reals": "reals[0]",
        "names": "names[0]",
        "pairs": "pairs[0][1]",
        "points": "points[0][1]",
    }
    shown = {d["variable"]: d["workflow_summary"] for d in comparison["differences"]}
    assert "Num(99)" in str(shown["nums"])
    assert "Real(49.5)" in str(shown["reals"])


def test_list_and_dict_subclasses_from_the_header_cross_steps_without_a_crash() -> None:
    """Item 5: MyDict(dict) and MyList(list) (pickle fills them item by item) load for the
    comparison, which says the same result; so do enum, frozen dataclass and date subclasses."""
    result = _result("builtin-subclasses-same")
    assert result["status"] == "ok", result.get("errors")
    assert result["comparison"]["compared"] == 3


def test_a_class_whose_method_names_its_own_class_runs_in_both_contexts() -> None:
    """Item 6: ``Vec.double`` returns ``Vec(...)``: accepted in the header and in a step."""
    result = _result("class-names-itself")
    assert result["status"] == "ok", result.get("errors")
    assert "[0, 6, 12, 18]" in _merger_printed(result, "workflow")


def test_a_600_deep_list_is_compared_without_a_recursion_error() -> None:
    """Item 7: the comparison walks the value without Python's recursion limit."""
    result = _result("deep-list")
    assert result["comparison"]["same"] is True
    assert _merger_printed(result, "workflow") == "12 601\n"


def test_a_list_deeper_than_the_recursion_limit_is_refused_naming_the_variable() -> None:
    """Item 7: a list 5,000 deep cannot be written by json or pickle: both contexts say so in
    one sentence naming the variable; no traceback, no internal call, no temporary path."""
    result = _result("too-deep-list")
    assert result["status"] == "failed"
    [warning] = result["notebook_run"]["warnings"]
    assert warning.startswith("step items: variable deep is passed to a later step but holds")
    assert "nested too deeply" in warning
    [error] = result["workflow_run"]["errors"]
    assert error["variable"] == "deep" and "nested too deeply" in error["message"]
    text = _messages(result)
    for leaked in ("Traceback", "__naavre_trace__", "naavre-trace-", "\x1b["):
        assert leaked not in text


def test_a_value_that_cannot_cross_a_boundary_is_one_sentence_with_its_path() -> None:
    """Item 12: ``box = {'k': [1, lambda y: y]}``: one warning naming ``box['k'][1]``, the same
    sentence the workflow's splitter fails with (not a doubled, path-less one)."""
    result = _result("function-in-dict")
    [warning] = result["notebook_run"]["warnings"]
    assert warning.startswith(
        "step items: variable box is passed to a later step but holds a function "
        "(at box['k'][1]), which cannot be passed between steps ("
    )
    assert warning.count("cannot be passed between steps") == 1
    [error] = result["workflow_run"]["errors"]
    assert error["message"].split(" (Can't")[0] == warning.split(" (Can't")[0]


def test_a_class_defined_in_the_splitter_fails_in_the_processor_with_a_hint() -> None:
    """Item 12: the processors cannot unpickle the splitter's class ``P``: the failure says to
    define classes in the header."""
    result = _result("class-in-splitter")
    errors = result["workflow_run"]["errors"]
    assert errors and all("define classes in the header" in e["hint"] for e in errors)


def test_both_contexts_name_the_same_line_for_the_same_recursion_error() -> None:
    """Item 12: the innermost line of the failing cell, in both contexts."""
    result = _result("recursion-in-merger")
    [nb_error] = result["notebook_run"]["errors"]
    [wf_error] = result["workflow_run"]["errors"]
    assert "RecursionError" in nb_error["message"] and "RecursionError" in wf_error["message"]
    assert nb_error["line"] == wf_error["line"] == 3


def test_sys_exit_in_the_notebook_context_names_its_line() -> None:
    """Item 12: IPython shows no frame for SystemExit; the run still names line 5."""
    result = _result("exit-in-merger")
    [nb_error] = result["notebook_run"]["errors"]
    [wf_error] = result["workflow_run"]["errors"]
    assert nb_error["line"] == wf_error["line"] == 5
    assert nb_error["message"].endswith("failed in cell 3, line 5: SystemExit: 1")


def test_a_printed_set_of_strings_is_the_same_in_both_contexts() -> None:
    """Item 12: every process of a run has the kernel's PYTHONHASHSEED, so a set of strings
    iterates (and prints) in the same order in the notebook and in the workflow's merger."""
    result = _result("set-of-strings")
    assert result["comparison"]["same"] is True, result["comparison"]["verdict"]
    assert "'larch'" in _merger_printed(result, "workflow")
