"""Trace comparison: JSON normalisation only, exact values, the first differing path."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import SEED, tagged_seed_notebook

from naavre_batch_ext.compare import compare_traces, first_difference, format_path, json_kind
from naavre_batch_ext.spec import build_spec


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_spec(tagged_seed_notebook(), str(SEED))


def _run(trace: dict[str, Any], status: str = "ok") -> dict[str, Any]:
    return {"status": status, "trace": trace}


def _traces(processed: Any) -> dict[str, Any]:
    return {
        "gen-batches": {"batches": [[0, 1], [2]]},
        "process-batches": {"processed_batches": processed},
    }


def test_equal_traces_are_the_same(spec: dict[str, Any]) -> None:
    result = compare_traces(
        spec, _run(_traces([[0.0, 0.5], [1.0]])), _run(_traces([[0.0, 0.5], [1.0]]))
    )
    assert result == {"same": True, "compared": 2, "differences": [], "not_compared": []}


def test_tuples_compare_equal_to_lists(spec: dict[str, Any]) -> None:
    result = compare_traces(
        spec, _run(_traces(((0.0, 0.5), (1.0,)))), _run(_traces([[0.0, 0.5], [1.0]]))
    )
    assert result["same"] is True


def test_difference_reports_variable_step_first_path_and_both_values(spec: dict[str, Any]) -> None:
    nb = _traces([[0.0, 0.5], [1.0, 2.0], [3.0]])
    wf = _traces([[0.0, 0.5], [1.0, 2.5], [3.5]])
    [diff] = compare_traces(spec, _run(nb), _run(wf))["differences"]
    assert diff == {
        "step": "process-batches",
        "variable": "processed_batches",
        "path": "processed_batches[1][1]",
        "notebook": 2.0,
        "workflow": 2.5,
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
    assert first_difference([1, 2], [1]) == ([1], 2, "<missing>")
    assert first_difference({"a": 1}, {"a": 1, "b": 2}) == (["b"], "<missing>", 2)


def test_path_formats_indices_and_keys() -> None:
    assert format_path("x", [2, "name", 0]) == 'x[2]["name"][0]'


def test_failed_workflow_is_not_the_same(spec: dict[str, Any]) -> None:
    nb = _traces([[0.0]])
    wf = {"gen-batches": nb["gen-batches"]}
    result = compare_traces(spec, _run(nb), _run(wf, "failed"))
    assert result["same"] is False
    assert result["not_compared"] == [
        {
            "step": "process-batches",
            "variable": "processed_batches",
            "reason": "the workflow run did not reach this step",
        }
    ]


@pytest.mark.parametrize(
    ("name", "phrase"),
    [("int", "an int"), ("dict", "a dict"), ("pandas.DataFrame", "a pandas.DataFrame")],
)
def test_type_names_in_messages_take_the_right_article(name: str, phrase: str) -> None:
    from naavre_batch_ext.step_runtime import with_article

    assert with_article(name) == phrase
