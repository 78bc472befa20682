"""Exports of R notebooks: Argo (both value modes) and CWL run the R step scripts with Rscript.

Every Argo export passes ../shared/tools/argo-validate and is played by the tests' Argo player
(tests/test_argo_execution.py: its pods run ``Rscript`` as the template's command, with the script's
path appended, as workflowpod.go does); every CWL export passes ``cwltool --validate`` and runs
with cwltool (``run --context cwl``). Each must print in its merger what the notebook prints.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import cwltool_exit, reference_runs
from r_helpers import R_NOTEBOOKS, needs_r
from test_argo_execution import (
    AGGREGATIONS,
    TRANSPORTS,
    ArgoPlayer,
    assert_same_as_notebook,
)

from naavre_batch_ext.core.notebook import load_notebook
from naavre_batch_ext.core.spec import build_spec
from naavre_batch_ext.engines import cwl_runner
from naavre_batch_ext.exporters import r_export
from naavre_batch_ext.exporters.argo import ArgoOptions, build_workflow, export_argo
from naavre_batch_ext.exporters.cwl import export_cwl, export_job

pytestmark = needs_r

ROOT = Path(__file__).parent.parent
SEED = ROOT / "examples" / "splitting-batches-r-tagged.ipynb"
ARGO_VALIDATE = ROOT.parent.parent / "shared" / "tools" / "argo-validate" / "argo-validate"
if not ARGO_VALIDATE.exists():
    ARGO_VALIDATE = Path("/work/shared/tools/argo-validate/argo-validate")
NOTEBOOKS = [SEED] + [
    R_NOTEBOOKS / f"{n}.ipynb" for n in ("frame", "doubles", "nested", "posixct", "empty")
]


def r_spec(path: Path) -> dict[str, Any]:
    spec = build_spec(load_notebook(path), path.name)
    assert not spec["summary"]["errors"], spec["diagnostics"]
    return spec


@pytest.mark.parametrize("values", ["parameters", "artifacts"])
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_r_argo_export_passes_argo_validate(
    tmp_path: Path, notebook: Path, values: str
) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text(export_argo(r_spec(notebook), ArgoOptions(values=values)), encoding="utf-8")
    done = subprocess.run([str(ARGO_VALIDATE), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_r_templates_run_rscript_in_the_r_image_of_the_notebooks_r(tmp_path: Path) -> None:
    workflow = build_workflow(r_spec(SEED))
    scripts = [t["script"] for t in workflow["spec"]["templates"] if "script" in t]
    assert {tuple(s["command"]) for s in scripts} == {
        ("Rscript", "-e", "source(commandArgs(TRUE)[1])")
    }
    version = subprocess.run(
        ["Rscript", "-e", "cat(R.version$major, R.version$minor, sep = '.')"],
        capture_output=True,
        text=True,
    ).stdout
    major_minor = ".".join(version.split(".")[:2])
    assert {s["image"] for s in scripts} == {f"rocker/r-ver:{major_minor}"}


def test_the_image_option_overrides_the_r_image() -> None:
    workflow = build_workflow(r_spec(SEED), ArgoOptions(image="example.org/r-geo:1"))
    images = {t["script"]["image"] for t in workflow["spec"]["templates"] if "script" in t}
    assert images == {"example.org/r-geo:1"}


def test_the_r_image_follows_the_r_version_the_notebook_records() -> None:
    spec = r_spec(SEED)
    spec["notebook"]["language_version"] = "4.4.1"
    assert r_export.default_image(spec) == "rocker/r-ver:4.4"


def play(notebook: Path, tmp_path: Path, transport: str, **parameters: str) -> Any:
    values, _, encoding = transport.partition("/")
    spec = r_spec(notebook)
    text = export_argo(spec, ArgoOptions(values=values))
    (tmp_path / "pods").mkdir()
    shutil.copy(notebook, tmp_path / "notebook.ipynb")
    return spec, ArgoPlayer(text, tmp_path / "pods", encoding or AGGREGATIONS[1]).play(parameters)


PLAYS = [(n, t) for n in NOTEBOOKS for t in TRANSPORTS[1:]] + [(SEED, TRANSPORTS[0])]
"""Every notebook in both value modes (parameters under Argo's current fan-in), and the seed under
the fan-in before v3.5.11 too."""


@pytest.mark.parametrize(("notebook", "transport"), PLAYS, ids=[f"{n.stem}-{t}" for n, t in PLAYS])
def test_played_argo_run_of_an_r_notebook_gives_the_notebook_result(
    tmp_path: Path, notebook: Path, transport: str
) -> None:
    spec, played = play(notebook, tmp_path, transport)
    nb_run = reference_runs(notebook).notebook
    assert nb_run is not None and nb_run["status"] == "ok", nb_run
    assert_same_as_notebook(spec, played, nb_run)


def test_argo_parameters_reach_r_steps_with_their_r_type(tmp_path: Path) -> None:
    spec, played = play(
        R_NOTEBOOKS / "parameters.ipynb",
        tmp_path,
        "artifacts",
        param_count="6",
        param_threshold="3",
        param_label="x",
        param_verbose="false",
    )
    assert played.phase == "Succeeded", played.message
    assert played.only("types").stdout.startswith(
        '[1] 4 5 6\n[1] "integer"   "numeric"   "character" "logical"  \n'
    )


def test_a_failing_r_processor_pod_is_located_and_the_merger_names_its_batch(
    tmp_path: Path,
) -> None:
    from helpers import r_notebook, section_tags, write_tmp

    nb = r_notebook(
        "items <- 1:6",
        "out <- items * 2L\nif (5L %in% items) stop('item 5 is bad')\n",
        "print(out)",
        tags=section_tags(batch_count="3"),
    )
    path = write_tmp(nb, tmp_path, "notebook.ipynb")
    spec = build_spec(load_notebook(path), path.name)
    (tmp_path / "pods").mkdir()
    played = ArgoPlayer(export_argo(spec), tmp_path / "pods").play()
    failed = [p for p in played.pods["processor-1"] if p.returncode != 0]
    assert len(failed) == 1
    assert "step processor-1 failed in cell 1, line 2: Error: item 5 is bad" in failed[0].stderr
    assert "batch(es) 2 of 3 are missing" in played.only("merger-1").stderr


def test_r_cwl_export_passes_cwltool_validate(tmp_path: Path) -> None:
    spec = r_spec(SEED)
    (tmp_path / "wf.cwl").write_text(export_cwl(spec), encoding="utf-8")
    (tmp_path / "wf.job.yml").write_text(export_job(spec, "wf"), encoding="utf-8")
    tools = [
        t
        for t in yaml.safe_load((tmp_path / "wf.cwl").read_text())["$graph"]
        if t["class"] == "CommandLineTool"
    ]
    assert {tuple(t["baseCommand"]) for t in tools} == {
        ("Rscript", "-e", "source(commandArgs(TRUE)[1])", "naavre-step.R")
    }
    assert cwltool_exit(["--validate", str(tmp_path / "wf.cwl")]) == ""


def test_the_r_seed_run_with_cwltool_gives_the_notebook_result(tmp_path: Path) -> None:
    """``run --context cwl`` on the R seed; every R test notebook runs in cwltool too
    (tests/test_cwl_execution.py, every tagged test notebook)."""
    notebook = SEED
    path = tmp_path / notebook.name
    shutil.copy(notebook, path)
    nb = load_notebook(path)
    result = cwl_runner.run(path, spec=build_spec(nb, path.name), nb=nb)
    assert result["comparison"]["verdict"].startswith("same result"), result["comparison"]
    assert result["comparison"]["printed_compared"] == 1
