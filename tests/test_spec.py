"""The spec: schema-valid for every example, deterministic, and resolve_batch_count."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from helpers import (
    SEED,
    TUTORIALS,
    code_notebook,
    section_tags,
    tagged_seed_notebook,
    tagged_tutorial,
)

from naavre_batch_ext import SPEC_API_VERSION
from naavre_batch_ext.core.notebook import load_notebook
from naavre_batch_ext.core.spec import (
    SpecError,
    build_spec,
    dumps_spec,
    load_schema,
    resolve_batch_count,
    validate_spec,
)


def seed_spec() -> dict:  # type: ignore[type-arg]
    return build_spec(tagged_seed_notebook(), "splitting-batches.ipynb")


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_seed_spec_is_valid() -> None:
    validate_spec(seed_spec())


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_specs_are_valid(name: str) -> None:
    validate_spec(build_spec(tagged_tutorial(name), f"{name}.ipynb"))


def test_untagged_seed_spec_is_valid_with_a_warning() -> None:
    spec = build_spec(load_notebook(SEED), "splitting-batches.ipynb")
    validate_spec(spec)
    assert spec["summary"]["errors"] == 0 and spec["steps"] == []
    assert "no-steps" in [d["code"] for d in spec["diagnostics"]]


def test_spec_with_errors_is_still_schema_valid() -> None:
    nb = code_notebook(
        "xs = [",
        "ys = list(xs)",
        "print(zz)",
        tags={0: ["naavre:splitter"], 1: ["naavre:processor"]},
    )
    spec = build_spec(nb, "bad.ipynb")
    validate_spec(spec)
    assert spec["summary"]["errors"] >= 2


def test_seed_spec_records_version_notebook_and_batch_count() -> None:
    spec = seed_spec()
    assert spec["apiVersion"] == SPEC_API_VERSION
    assert spec["notebook"] == {
        "name": "splitting-batches",
        "path": "splitting-batches.ipynb",
        "kernel": "python3",
        "language": "python",
    }
    assert spec["steps"][0]["batch_count"] == {"parameter": "param_max_batch_count", "default": 5}


def test_step_cells_carry_the_transformed_source_and_nbformat_ids() -> None:
    nb = code_notebook(
        "xs = [1]\n%time ys = 1",
        "zs = list(xs)",
        "print(zs)",
        tags=section_tags(),
    )
    cell = build_spec(nb, "m.ipynb")["steps"][0]["cells"][0]
    assert cell["id"] == "c0" and "get_ipython().run_line_magic('time', 'ys = 1')" in cell["source"]


def test_same_notebook_gives_the_same_spec_text() -> None:
    assert dumps_spec(seed_spec()) == dumps_spec(seed_spec())


def test_spec_text_round_trips_through_json() -> None:
    spec = seed_spec()
    assert json.loads(dumps_spec(spec)) == spec


def test_validate_spec_reports_the_path_of_the_problem() -> None:
    spec = copy.deepcopy(seed_spec())
    spec["steps"][1]["id"] = "Not A Label"
    with pytest.raises(SpecError) as info:
        validate_spec(spec)
    assert info.value.path == "$.steps[1].id"


def test_validate_spec_rejects_another_api_version() -> None:
    spec = copy.deepcopy(seed_spec())
    spec["apiVersion"] = "naavre-batch/v0"
    with pytest.raises(SpecError):
        validate_spec(spec)


def test_resolve_literal_batch_count() -> None:
    assert resolve_batch_count({"value": 4}, {"param_x": 9}) == 4


def test_resolve_parameter_batch_count_uses_the_default() -> None:
    assert resolve_batch_count({"parameter": "param_m", "default": 5}, {}) == 5


def test_resolve_parameter_batch_count_uses_the_override() -> None:
    assert resolve_batch_count({"parameter": "param_m", "default": 5}, {"param_m": 3}) == 3


def test_resolve_batch_count_accepts_an_integer_given_as_text() -> None:
    assert resolve_batch_count({"parameter": "param_m", "default": 5}, {"param_m": " 12"}) == 12


@pytest.mark.parametrize("bad", [0, -2, "x", 2.5, True, None])
def test_resolve_batch_count_rejects_a_bad_override(bad: object) -> None:
    with pytest.raises(ValueError, match="batch count"):
        resolve_batch_count({"parameter": "param_m", "default": 5}, {"param_m": bad})


def test_resolve_batch_count_rejects_a_missing_batch_count() -> None:
    with pytest.raises(ValueError, match="naavre:batch-count"):
        resolve_batch_count(None, {})
