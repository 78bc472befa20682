"""Exports run by the real CWL engine: ``cwltool --no-container --parallel``, the reference
implementation, on this machine, through :func:`naavre_batch_ext.engines.cwl_runner.run_cwl` (the code
behind ``naavre-batch run --context cwl``).

Each run is compared with the notebook context by :func:`naavre_batch_ext.engines.compare.compare_traces`,
the comparison ``--context both`` makes, from the value files cwltool hands back as the workflow's
outputs. What cwltool does that these results rest on: a scatter gathers its outputs in the order
of the scattered input (cwltool/workflow_job.py, ``ReceiveScatterOutput.receive_scatter_output``
stores job ``i``'s output at index ``i``), and a glob's files are sorted
(cwltool/command_line_tool.py, ``CommandLineTool.collect_output``), which puts the splitter's
zero-padded batch files (``step_runtime.batch_file_name``) in batch order.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    NOTEBOOKS,
    TUTORIALS,
    code_notebook,
    reference_runs,
    tagged_notebook_files,
    tagged_seed_notebook,
    tagged_tutorial,
    write_tmp,
)

from naavre_batch_ext.cli import main
from naavre_batch_ext.core.notebook import load_notebook
from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.engines import cwl_runner
from naavre_batch_ext.engines.compare import compare_traces
from naavre_batch_ext.engines.runner import run_notebook
from naavre_batch_ext.exporters.argo import third_party_imports

pytest.importorskip("cwltool")


def _runs_here(spec: dict[str, Any]) -> bool:
    """True when every third-party module the steps import is installed here."""
    return all(importlib.util.find_spec(name) is not None for name in third_party_imports(spec))


FILE_CASES = [path for path, spec in tagged_notebook_files(runnable=True) if _runs_here(spec)]

VALUE_NOTEBOOKS_IN_CWLTOOL = {
    "dataframe-rows.ipynb",
    "set-of-strings.ipynb",
    "display-magics.ipynb",
}
"""The Python value notebooks (tests/notebooks/values/) that run in cwltool too: pandas, a printed
set of strings (the hash seed reaches the CWL steps) and display magics (what a step prints).
The other value notebooks differ from these only in their values, which cross steps in cwltool as
files written and read by the transport of Argo's artifacts mode, where the Argo player runs
every one of them (tests/test_argo_execution.py). Every runner and R notebook runs here."""

OWN_CWLTOOL_TESTS = {
    "runner/empty-list.ipynb",
    "runner/failing-instance.ipynb",
    "splitting-batches-tagged.ipynb",  # the tagged seed
}
"""Runner notebooks whose cwltool run has a test of its own below, which asserts what the case of
every notebook would (the same result; the same failed batch) and more: not run twice."""

CWL_CASES = [
    p
    for p in FILE_CASES
    if (p.parent.name != "values" or p.name in VALUE_NOTEBOOKS_IN_CWLTOOL)
    and p.relative_to(NOTEBOOKS).as_posix() not in OWN_CWLTOOL_TESTS
]


def run_both(
    nb: Any, tmp_path: Path, parameters: dict[str, Any] | None = None, name: str = "nb.ipynb"
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The notebook context and the cwltool run of ``nb``: ``(spec, notebook run, cwl run)``."""
    path = write_tmp(nb, tmp_path, name)
    spec = build_spec(nb, name)
    nb_run = run_notebook(spec, nb, path, parameters or {})
    cwl_run = cwl_runner.run_cwl(spec, path, parameters or {})
    return spec, nb_run, cwl_run


def assert_same(spec: dict[str, Any], nb_run: dict[str, Any], cwl_run: dict[str, Any]) -> None:
    assert cwl_run["status"] == "ok", (cwl_run["errors"], cwl_run["log"])
    comparison = compare_traces(spec, nb_run, cwl_run)
    assert comparison["same"], comparison
    assert comparison["compared"] >= len(spec["sections"])


def _where(comparison: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Where a comparison found differences: kind, step, variable or cell, in order."""
    return [
        (d.get("kind"), d.get("step"), d.get("variable"), d.get("cell_index"))
        for d in comparison["differences"]
    ]


def _instances(run: dict[str, Any], task: str) -> int:
    count: int = next(s["instances"] for s in run["steps"] if s["task"] == task)
    return count


# -- the seed and the tutorials -----------------------------------------------------------------


def test_seed_gives_the_notebook_result_in_cwltool(tmp_path: Path) -> None:
    spec, nb_run, cwl_run = run_file("splitting-batches-tagged.ipynb", tmp_path)
    assert nb_run is not None
    assert_same(spec, nb_run, cwl_run)
    local = reference_runs(NOTEBOOKS / "splitting-batches-tagged.ipynb").workflow
    assert cwl_run["printed"] == local["printed"]  # what each step cell printed
    assert _instances(cwl_run, "process-batches") == 5  # param_max_batch_count's default
    assert "Processed items: [0.0, 0.023809523809523808" in cwl_run["log"]  # the merger printed
    assert cwl_run["printed"]["8"] == nb_run["printed"]["8"]  # cell 8 is the merger
    assert cwl_run["folder"] is None  # the temporary folder is gone after a successful run


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_gives_the_notebook_result_in_cwltool(name: str, tmp_path: Path) -> None:
    spec, nb_run, cwl_run = run_both(tagged_tutorial(name), tmp_path)
    assert_same(spec, nb_run, cwl_run)


def test_parameter_override_reaches_every_cwl_step(tmp_path: Path) -> None:
    parameters = {"param_item_count": 12, "param_max_batch_count": 3}
    spec, nb_run, cwl_run = run_both(tagged_seed_notebook(), tmp_path, parameters)
    assert_same(spec, nb_run, cwl_run)
    assert _instances(cwl_run, "process-batches") == 3
    batches = cwl_run["trace"]["gen-batches"]["batches"]  # the seed splits a list of batches
    assert sum(len(b) for b in batches) == 12


def test_batch_count_above_the_item_count_gives_one_batch_per_item(tmp_path: Path) -> None:
    parameters = {"param_item_count": 4, "param_max_batch_count": 10}
    spec, nb_run, cwl_run = run_both(tagged_seed_notebook(), tmp_path, parameters)
    assert_same(spec, nb_run, cwl_run)
    assert _instances(cwl_run, "process-batches") == 4


def test_fifty_batches_run_in_cwltool_and_merge_in_order(tmp_path: Path) -> None:
    """Fifty scattered jobs: more than nine, so batch files 00010.. must sort after 00009."""
    parameters = {"param_item_count": 100, "param_max_batch_count": 50}
    spec, nb_run, cwl_run = run_both(tagged_seed_notebook(), tmp_path, parameters)
    assert_same(spec, nb_run, cwl_run)
    assert _instances(cwl_run, "process-batches") == 50


# -- every tagged notebook file of the test suite -------------------------------------------------


@pytest.mark.parametrize("path", CWL_CASES, ids=[p.name for p in CWL_CASES])
def test_every_tagged_test_notebook_runs_in_cwltool_like_the_local_workflow(
    path: Path, tmp_path: Path
) -> None:
    """Success: the comparison with the notebook gives what the local workflow's gives (the same
    result, or the same differences: a merger printing its process id differs in both). Failure:
    the same instances fail as in the local run."""
    spec, nb_run, cwl_run = run_file(path.relative_to(NOTEBOOKS).as_posix(), tmp_path)
    local = reference_runs(path).workflow
    if local["status"] == "ok":
        assert nb_run is not None
        expected = compare_traces(spec, nb_run, local)
        if expected["same"]:
            assert_same(spec, nb_run, cwl_run)
            assert cwl_run["printed"] == local["printed"]  # what each step cell printed
            return
        assert cwl_run["status"] == "ok", (cwl_run["errors"], cwl_run["log"])
        got = compare_traces(spec, nb_run, cwl_run)
        assert not got["same"]
        assert _where(got) == _where(expected)
        return
    assert cwl_run["status"] == "failed"
    expected = {(e["task"], e.get("batch", {}).get("index")) for e in local["errors"]}
    got = {(e["task"], e.get("batch", {}).get("index")) for e in cwl_run["errors"]}
    assert got == expected


def test_the_file_cases_cover_the_runners_notebooks() -> None:
    names = {p.relative_to(NOTEBOOKS).as_posix() for p in CWL_CASES}
    assert "runner/two-sections.ipynb" in names
    # every R shape of issue 19 and every runner notebook (structure, not values) runs in cwltool
    covered = set(CWL_CASES) | {NOTEBOOKS / name for name in OWN_CWLTOOL_TESTS}
    assert {p for p in FILE_CASES if p.parent.name in ("r", "runner")} <= covered
    assert any(p.parent.name == "r" for p in CWL_CASES)


def run_file(
    name: str, tmp_path: Path
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """:func:`run_both` of a notebook file, its notebook context from the shared reference runs
    (None when the local workflow failed: the notebook context is not run then)."""
    path = NOTEBOOKS / name
    spec, _, nb_run = reference_runs(path)
    cwl_run = cwl_runner.run_cwl(spec, write_tmp(load_notebook(path), tmp_path, path.name))
    return spec, nb_run, cwl_run


def test_empty_list_still_gives_one_batch_and_a_merger_run(tmp_path: Path) -> None:
    spec, nb_run, cwl_run = run_file("runner/empty-list.ipynb", tmp_path)
    assert nb_run is not None
    assert_same(spec, nb_run, cwl_run)
    assert _instances(cwl_run, "plus-one") == 1
    assert "0 []" in cwl_run["log"]  # the merger ran and printed count, plus


def test_a_failing_instance_fails_the_run_naming_its_step_and_batch(tmp_path: Path) -> None:
    _, _, cwl_run = run_file("runner/failing-instance.ipynb", tmp_path)
    assert cwl_run["status"] == "failed"
    (error,) = cwl_run["errors"]
    assert error["step"] == "double-items" and error["batch"]["index"] == 2
    assert error["where"] == "task double-items, batch 2 (items 7..9 of items)"
    assert "ValueError: cannot double item 7" in error["message"]
    assert Path(error["folder"]).is_dir()  # kept for a failed run, with the job's files
    summary = {s["task"]: s for s in cwl_run["steps"]}
    assert summary["double-items"]["failed"] == [2]
    assert summary["total"]["status"] == "not run"
    shutil.rmtree(cwl_run["folder"])


def test_code_with_cwl_expressions_and_non_ascii_names_runs_as_written(tmp_path: Path) -> None:
    nb = code_notebook(
        "param_préfixe = '>'",
        'données = ["$(inputs.x)", "${ return 1; }", "back\\\\slash \\\\$(y)", "é"]\n'
        "suffixé = param_préfixe + '$(runtime.outdir)'",
        "marquées = [d + suffixé for d in données]",
        "print(marquées)",
        tags={
            1: ["naavre:splitter", "naavre:batch-count:2", "naavre:split:données"],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
        },
    )
    parameters = {"param_préfixe": "$(inputs.p)"}
    spec, nb_run, cwl_run = run_both(nb, tmp_path, parameters)
    assert [p["name"] for p in spec["parameters"]] == ["param_préfixe"]
    assert_same(spec, nb_run, cwl_run)
    merged = next(v["marquées"] for v in cwl_run["trace"].values() if "marquées" in v)
    assert merged[0] == "$(inputs.x)$(inputs.p)$(runtime.outdir)"
    assert merged[2] == "back\\slash \\$(y)$(inputs.p)$(runtime.outdir)"


# -- naavre-batch run --context cwl -------------------------------------------------------------


def test_cli_run_context_cwl_compares_with_the_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path, "splitting-batches.ipynb")
    code = main(["run", str(path), "--context", "cwl", "-p", "param_max_batch_count=2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "cwl context (ok" in out and "same result" in out


def test_cli_run_context_cwl_without_cwltool_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cwltool beside the interpreter, on PATH or importable: exit 2 before anything runs."""
    path = write_tmp(tagged_seed_notebook(), tmp_path, "splitting-batches.ipynb")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python3"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "cwltool" else real_find_spec(name, *a),
    )
    assert main(["run", str(path), "--context", "cwl"]) == 2
    err = capsys.readouterr().err
    assert "cwltool is not installed" in err and "naavre-batch-ext[cwl]" in err
    assert not (tmp_path / ".naavre-batch").exists()
