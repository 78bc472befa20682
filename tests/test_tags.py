"""The naavre: tag grammar: parsing (driven by tests/fixtures/tags.json, shared with the front-end)
and writing roles without disturbing other tags or metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from naavre_batch_ext.core.tags import parse_tags, set_cell_role, set_role

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "tags.json").read_text(encoding="utf-8")
)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_parse_tags_matches_shared_fixture(case: dict[str, Any]) -> None:
    assert parse_tags(case["tags"]).to_json() == case["expected"]


def test_every_problem_has_a_message_and_a_hint() -> None:
    for case in CASES:
        for problem in parse_tags(case["tags"]).problems:
            assert problem.message and problem.hint and problem.severity == "error"


def test_parse_tags_accepts_none() -> None:
    assert parse_tags(None).role is None


def test_set_role_keeps_other_tags_in_order() -> None:
    assert set_role(["a", "naavre:merger", "b"], "processor") == ["a", "b", "naavre:processor"]


def test_set_role_none_removes_every_naavre_tag() -> None:
    tags = ["x", "naavre:splitter", "naavre:batch-count:3", "naavre:split:items", "NAAVRE:bogus"]
    assert set_role(tags, "none") == ["x"]


def test_set_role_keeps_no_reuse_when_the_role_changes() -> None:
    assert set_role(["naavre:merger", "naavre:no-reuse"], "processor") == [
        "naavre:processor",
        "naavre:no-reuse",
    ]
    assert set_role(["naavre:merger", "naavre:no-reuse"], "none") == []


def test_set_role_splitter_writes_batch_count_and_split() -> None:
    tags = set_role([], "splitter", batch_count="param_n", split="items")
    assert parse_tags(tags).to_json() == {
        "role": "splitter",
        "batch_count": {"parameter": "param_n"},
        "split": "items",
        "no_reuse": False,
        "codes": [],
    }


def test_set_role_splitter_normalises_an_integer_batch_count_given_as_text() -> None:
    assert set_role([], "splitter", batch_count="07") == ["naavre:splitter", "naavre:batch-count:7"]


def test_set_role_splitter_keeps_existing_options_when_not_given() -> None:
    tags = ["naavre:splitter", "naavre:batch-count:4", "naavre:split:xs"]
    assert set_role(tags, "splitter", split="ys") == [
        "naavre:splitter",
        "naavre:batch-count:4",
        "naavre:split:ys",
    ]


def test_set_role_to_processor_drops_splitter_options() -> None:
    assert set_role(["naavre:splitter", "naavre:batch-count:4"], "processor") == [
        "naavre:processor"
    ]


@pytest.mark.parametrize(
    ("role", "kwargs"),
    [
        ("worker", {}),
        ("processor", {"batch_count": 3}),
        ("merger", {"split": "x"}),
        ("splitter", {"batch_count": 0}),
        ("splitter", {"batch_count": "two words"}),
        ("splitter", {"batch_count": True}),
        ("splitter", {"split": "1abc"}),
    ],
)
def test_set_role_rejects_what_the_grammar_rejects(role: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        set_role([], role, **kwargs)


def test_set_cell_role_touches_only_tags() -> None:
    cell = {"cell_type": "code", "metadata": {"collapsed": True, "tags": ["keep"]}, "source": "x"}
    set_cell_role(cell, "merger")
    assert cell == {
        "cell_type": "code",
        "metadata": {"collapsed": True, "tags": ["keep", "naavre:merger"]},
        "source": "x",
    }


def test_set_cell_role_none_on_untagged_cell_adds_no_tags_key() -> None:
    cell: dict[str, Any] = {"cell_type": "code", "metadata": {}, "source": ""}
    set_cell_role(cell, None)
    assert cell["metadata"] == {}


def test_set_cell_role_none_keeps_an_existing_empty_tags_key() -> None:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "metadata": {"tags": ["naavre:merger"]},
        "source": "",
    }
    set_cell_role(cell, "none")
    assert cell["metadata"] == {"tags": []}
