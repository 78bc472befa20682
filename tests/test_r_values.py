"""Values between R steps are exact: the rds codec of the one transport, compared by R itself.

R writes every value an R step hands on as ``naavre-value/1 rds`` (R's own serialization), Python
carries it as opaque bytes (:class:`~naavre_batch_ext.steps.transport.RValue`), and R's
``identical()`` with bitwise doubles decides whether the notebook and the workflow agree. The
notebooks of tests/notebooks/r/ (written by make_value_notebooks.py) hold each shape the issue
names, and each must give "same result".
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import reference_runs
from r_helpers import R_NOTEBOOKS, needs_r, run_r

from naavre_batch_ext.engines import compare, r_values, runner
from naavre_batch_ext.steps import transport
from naavre_batch_ext.steps.transport import RValue

pytestmark = needs_r

EXAMPLES = Path(__file__).parent.parent / "examples"

VALUES = """
values <- list(
  integer = 1L, double = 1, na_real = NA_real_, nan = NaN, minus_zero = -0, inf = -Inf,
  factor = factor(c("b", "a"), levels = c("b", "a", "z")),
  date = as.Date("2024-02-29"),
  posixct = as.POSIXct("2024-10-27 02:30:00", tz = "Europe/Amsterdam"),
  nested = list(a = list(b = list(c = 1:3)), d = NULL),
  frame = data.frame(f = factor("x"), d = as.Date("2024-01-01"), i = 2L, row.names = "r1"),
  text = "braces {{ }} and \\u00e9"
)
"""


def test_r_values_come_back_identical_from_both_forms_of_a_value_file(tmp_path: Path) -> None:
    done = run_r(
        VALUES
        + f"""
for (name in names(values)) for (text in c(FALSE, TRUE)) {{
  path <- file.path({str(tmp_path)!r}, paste0(name, if (text) ".txt" else ".bin"))
  .naavre$write_value(values[[name]], path, text = text)
  cat(name, text, identical(.naavre$read_value(path), values[[name]], num.eq = FALSE), "\\n")
}}
""".replace("{{", "{").replace("}}", "}"),
        tmp_path,
    )
    rows = [line.split() for line in done.stdout.splitlines()]
    assert len(rows) == 24
    assert all(row[2] == "TRUE" for row in rows), rows


def test_the_text_form_is_printable_ascii_without_argo_template_markers(tmp_path: Path) -> None:
    run_r(VALUES + f'.naavre$write_value(values, "{tmp_path / "all.txt"}", text = TRUE)', tmp_path)
    data = (tmp_path / "all.txt").read_bytes()
    assert data.startswith(b"naavre-value/1 rds;base64\n")
    assert all(32 <= b < 127 or b == 10 for b in data)
    assert b"{{" not in data and b"}}" not in data


def test_python_carries_an_r_value_as_opaque_bytes_and_writes_it_back_unchanged(
    tmp_path: Path,
) -> None:
    run_r(VALUES + f'.naavre$write_value(values, "{tmp_path / "r.bin"}")', tmp_path)
    value = transport.load(str(tmp_path / "r.bin"))
    assert isinstance(value, RValue)
    assert transport.codec_of(value) == "rds"
    transport.dump(value, str(tmp_path / "again.bin"))
    assert (tmp_path / "again.bin").read_bytes() == (tmp_path / "r.bin").read_bytes()
    text = transport.dumps(value, text=True)
    assert transport.loads(text) == value


def r_value(code: str, tmp_path: Path, name: str) -> RValue:
    path = tmp_path / name
    run_r(f'.naavre$write_value({code}, "{path}")', tmp_path)
    value = transport.load(str(path))
    assert isinstance(value, RValue)
    return value


@pytest.mark.parametrize(
    ("notebook_side", "workflow_side", "path", "shown"),
    [
        ("list(n = 1L)", "list(n = 1)", "$n", ("1L", "1")),
        (
            "factor(c('a', 'b'))",
            "c('a', 'b')",
            "",
            ('structure(1:2, levels = c("a", "b"), class = "factor")', 'c("a", "b")'),
        ),
        ("c(1, -0)", "c(1, 0)", "[2]", ("-0", "0")),
        ("c(x = NA_real_)", "c(x = NaN)", "[1]", ("c(x = NA_real_)", "c(x = NaN)")),
        ("data.frame(a = 1:2)", "data.frame(a = c(1L, 3L))", "$a[2]", ("2L", "3L")),
    ],
)
def test_r_tells_apart_what_identical_tells_apart_and_names_where(
    tmp_path: Path, notebook_side: str, workflow_side: str, path: str, shown: tuple[str, str]
) -> None:
    a = r_value(notebook_side, tmp_path, "a")
    b = r_value(workflow_side, tmp_path, "b")
    [difference] = r_values.compare_pairs([(a, b)])
    assert difference is not None
    assert (difference[0], difference[1], difference[2]) == (path, *shown)


def test_values_r_finds_identical_are_the_same(tmp_path: Path) -> None:
    compact = r_value("1:3", tmp_path, "a")  # stored as a compact sequence
    full = r_value("c(1L, 2L, 3L)", tmp_path, "b")
    assert compact.data != full.data
    assert r_values.compare_pairs([(compact, full)]) == [None]


def run_both(tmp_path: Path, source: Path, **parameters: Any) -> dict[str, Any]:
    path = tmp_path / source.name
    shutil.copy(source, path)
    return runner.run(path, "both", parameters, runs_dir=tmp_path / "runs")


def test_the_r_seed_gives_the_same_result_through_run_both(tmp_path: Path) -> None:
    """``run(..., "both")``, what ``naavre-batch run`` and the panel's Compare both call."""
    result = run_both(tmp_path, EXAMPLES / "splitting-batches-r-tagged.ipynb")
    assert result["comparison"]["verdict"].startswith("same result"), result["comparison"]
    assert result["comparison"]["printed_compared"] >= 1
    assert "Processed items" in result["workflow_run"]["printed"]["8"]  # the merger's cell


@pytest.mark.parametrize("shape", ["frame", "doubles", "nested", "posixct", "empty"])
def test_every_value_shape_gives_the_same_result_in_both_contexts(shape: str) -> None:
    """Both contexts of each R value shape, from the runs the engine tests share
    (helpers.reference_runs); the comparison is the one ``run(..., "both")`` makes."""
    spec, workflow, notebook = reference_runs(R_NOTEBOOKS / f"{shape}.ipynb")
    assert notebook is not None, workflow["errors"]
    comparison = compare.compare_traces(spec, notebook, workflow)
    assert comparison["verdict"].startswith("same result"), comparison
    assert comparison["printed_compared"] >= 1
    merger = max(int(i) for i in workflow["printed"])
    assert workflow["printed"][str(merger)].strip()


def test_parameters_arrive_with_their_r_type(tmp_path: Path) -> None:
    result = run_both(
        tmp_path,
        R_NOTEBOOKS / "parameters.ipynb",
        param_count=6,
        param_threshold=3,
        param_label="x",
        param_verbose=False,
    )
    assert result["status"] == "ok", result.get("comparison")
    printed = result["workflow_run"]["printed"]["3"]
    assert printed.startswith('[1] 4 5 6\n[1] "integer"   "numeric"   "character" "logical"  \n')
    assert result["notebook_run"]["printed"]["3"] == printed


def test_a_difference_names_the_variable_and_shows_both_sides(tmp_path: Path) -> None:
    """Random draws without a seed differ between the notebook's one process and the batches'."""
    from helpers import r_notebook, section_tags, write_tmp

    nb = r_notebook(
        "items <- 1:4",
        "draws <- runif(length(items))",
        "print(length(draws))",
        tags=section_tags(batch_count="2"),
    )
    path = write_tmp(nb, tmp_path)
    result = runner.run(path, "both", runs_dir=tmp_path / "runs")
    comparison = result["comparison"]
    assert result["status"] == "different"
    [difference] = [d for d in comparison["differences"] if d["kind"] == "value"]
    assert difference["variable"] == "draws"
    assert difference["path"] == "draws[1]"
    assert comparison["verdict"].startswith("not the same: draws[1] (after step ")
    assert "(R value), workflow 0." in comparison["verdict"]


def test_printed_output_counts_in_the_verdict_even_when_values_agree(tmp_path: Path) -> None:
    from helpers import r_notebook, section_tags, write_tmp

    nb = r_notebook(
        "items <- 1:4",
        "doubled <- items * 2L",
        "cat(Sys.getpid() == 0, doubled, '\\n')\nprint(Sys.getpid() %% 1)",
        tags=section_tags(batch_count="2"),
    )
    nb.cells[2].source = "cat(doubled, '\\n')\ncat(exists('.naavre_task'), '\\n')"
    path = write_tmp(nb, tmp_path)
    result = runner.run(path, "both", runs_dir=tmp_path / "runs")
    assert result["comparison"]["compared"] == 2
    # .naavre_task exists only in the step script's global environment: the printed text differs.
    assert result["status"] == "different"
    assert "printed differently" in result["comparison"]["verdict"]


def test_comparison_of_traces_asks_r_once_for_every_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = r_values._run_tool

    def counting(batch: Any) -> Any:
        calls.append(len(batch.lines))
        return real(batch)

    monkeypatch.setattr(r_values, "_run_tool", counting)
    a = r_value("1:2", tmp_path, "a")
    b = r_value("3:4", tmp_path, "b")
    spec = {"steps": [{"id": "s", "role": "splitter", "outputs": ["x", "y"], "cells": []}]}
    ok = {"status": "ok", "printed": {}}
    result = compare.compare_traces(
        spec, {**ok, "trace": {"s": {"x": a, "y": b}}}, {**ok, "trace": {"s": {"x": a, "y": a}}}
    )
    assert len(calls) == 1
    assert result["compared"] == 2
    assert [d["variable"] for d in result["differences"]] == ["y"]
