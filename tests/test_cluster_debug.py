"""*Debug in notebook* for a failed batch of a cluster run (engines/cluster_debug.py, ``naavre-batch
debug --cluster``, ``GET cluster-runs/<name>/debug``), against the fake Argo server of
tests/argo_fake.py: the broken seed (item 13 raises, helpers.seed_with_a_broken_item) runs for real
in its pods once per value mode (module-scoped), batch 1 of 3 fails, and its inputs come back from
the run's status (``--values parameters``) or through the server's input-artifact endpoint
(``--values artifacts``, artifact_server.go ``GetInputArtifact``), or not, with a clear message,
when the server cannot read the artifact repository. An R notebook (r_helpers.failing_r_notebook,
batch 2 of 3 stops) runs the same way and is loaded into IRkernel; its payload is read without R."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from argo_fake import FakeArgo, FakeThread
from helpers import BROKEN_ITEM_VARIABLE, api_call, seed_with_a_broken_item, write_tmp
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from r_helpers import FAILING_R_ERROR, failing_r_notebook, needs_r
from test_argo_execution import Play, Pod, batches_of

from naavre_batch_ext.cli import main
from naavre_batch_ext.core.spec import spec_for_path
from naavre_batch_ext.engines import debug
from naavre_batch_ext.engines.cluster import ClusterError, ClusterSettings, workflow_for
from naavre_batch_ext.engines.cluster_client import ArgoClient
from naavre_batch_ext.engines.cluster_debug import (
    ClusterDebugError,
    artifact_error,
    load_cluster_target,
)
from naavre_batch_ext.exporters.argo import ArgoOptions
from naavre_batch_ext.steps import r_scripts, scripts

NS = "naavre"
FAILED = 1
"""Item 13 of the seed's 28 is in batch 1 of 3 (see test_cluster.BROKEN)."""


class Cluster:
    """The fake server with one failed run of a notebook per value mode: by default the broken
    seed, with its pods' environment failing item 13."""

    def __init__(
        self,
        root: Path,
        notebook: nbformat.NotebookNode | None = None,
        parameters: dict[str, Any] | None = None,
        pod_env: dict[str, str] | None = None,
        filename: str = "seed.ipynb",
    ) -> None:
        if notebook is None:
            notebook, pod_env = seed_with_a_broken_item(), {BROKEN_ITEM_VARIABLE: "13"}
            parameters = {"param_max_batch_count": 3}
        self.fake = FakeArgo(pod_env=pod_env or {}, root=root / "argo")
        self.server = FakeThread(self.fake)
        self.notebook = write_tmp(notebook, root, filename)
        spec = spec_for_path(str(self.notebook))
        self.names: dict[str, str] = {}
        self.plays: dict[str, Play] = {}
        for values in ("parameters", "artifacts"):
            options = ArgoOptions(values=values)
            workflow = workflow_for(spec, filename, options, parameters or {}, NS)
            name = self.fake.create(NS, workflow)["metadata"]["name"]
            run = self.fake.runs[name]
            self.fake.execute(run)
            run.stage = run.last
            self.fake.fill(run)
            self.names[values] = name
            assert run.play is not None
            self.plays[values] = run.play
        assert self.fake.problems == []

    @property
    def batches(self) -> dict[str, Any]:
        """The seed's batches as its splitter handed them on, per value mode."""
        return {v: batches_of(play.only("gen-batches")) for v, play in self.plays.items()}

    @property
    def settings(self) -> ClusterSettings:
        return ClusterSettings(self.server.url, NS, self.fake.token)

    def load(self, values: str, runs: Path, batch: int | None = None) -> debug.DebugTarget:
        send = ArgoClient(self.settings).send
        return asyncio.run(load_cluster_target(send, NS, self.names[values], runs, batch))

    def env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ARGO_SERVER", self.server.url)
        monkeypatch.setenv("ARGO_NAMESPACE", NS)
        monkeypatch.setenv("ARGO_TOKEN", self.fake.token)
        monkeypatch.delenv("ARGO_BASE_HREF", raising=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    found = Cluster(tmp_path_factory.mktemp("cluster-debug"))
    yield found
    found.server.close()


@pytest.fixture
def unreadable(cluster: Cluster) -> Iterator[Cluster]:
    """The server cannot read its artifact repository for the length of one test."""
    cluster.fake.repository_readable = False
    yield cluster
    cluster.fake.repository_readable = True


def loaded(target: debug.DebugTarget) -> dict[str, Any]:
    """What the kernel has after the loader ran."""
    ns: dict[str, Any] = {}
    exec(debug.loader_source(target), ns)  # noqa: S102 - what the kernel runs
    return ns


def test_parameters_mode_loads_exactly_the_failed_batch_from_the_run_s_status(
    cluster: Cluster, tmp_path: Path
) -> None:
    target = cluster.load("parameters", tmp_path)
    assert (target.task["id"], target.instance) == ("process-batches", FAILED)
    assert target.run_folder == tmp_path / ".cluster" / cluster.names["parameters"]
    ns = loaded(target)
    assert ns["batches"] == cluster.batches["parameters"][FAILED]["items"]
    assert any(13 in part for part in ns["batches"])
    assert ns["param_max_batch_count"] == 3  # the run's value, not the notebook's default
    assert target.failing_cell == 6 and "cannot process item 13" in (target.error or {})["message"]


def test_artifacts_mode_reads_the_batch_through_the_input_artifact_endpoint(
    cluster: Cluster, tmp_path: Path
) -> None:
    target = cluster.load("artifacts", tmp_path)
    ns = loaded(target)
    assert ns["batches"] == cluster.batches["artifacts"][FAILED]["items"]
    name = cluster.names["artifacts"]
    asked = [r["path"] for r in cluster.fake.requests if r["path"].startswith("/input-artifacts/")]
    assert any(p.startswith(f"/input-artifacts/{NS}/{name}/") for p in asked)
    assert all(p.endswith("/naavre-batch") for p in asked)  # the rest came with the node


def test_an_artifact_the_server_cannot_read_is_a_clear_error(
    unreadable: Cluster, tmp_path: Path
) -> None:
    with pytest.raises(ClusterDebugError) as err:
        unreadable.load("artifacts", tmp_path)
    assert err.value.status == 502 and err.value.kind == "artifact-unreadable"
    assert "could not read input 'naavre-batch' of batch 1 of process-batches" in err.value.message
    assert "artifact repository" in err.value.hint
    assert not (tmp_path / ".cluster" / unreadable.names["artifacts"]).exists()


def test_an_artifact_over_the_answer_limit_says_so_and_what_to_do_instead() -> None:
    """The client stops reading past MAX_ANSWER_BYTES (test_cluster_answers shows it); for an
    artifact that is said in the words of the batch, not of a run with many nodes."""
    too_large = ClusterError("too-large", "answered with more than 64 MiB", "use the argo CLI")
    err = artifact_error(too_large, "naavre-batch", "batch 1 of process-batches", "seed-x0001")
    assert (err.kind, err.status) == ("artifact-too-large", 502)
    assert (
        "input 'naavre-batch' of batch 1 of process-batches in run seed-x0001 is larger than "
        "64 MiB" in err.message
    )
    assert "local run" in err.hint


def test_nothing_is_written_through_a_symbolic_link_in_the_runs_folder(
    cluster: Cluster, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / ".cluster").symlink_to(outside)
    with pytest.raises(ClusterDebugError) as err:
        cluster.load("parameters", runs)
    assert err.value.kind == "symlink" and list(outside.iterdir()) == []


def test_a_server_whose_artifact_endpoint_is_off_is_named_not_read_as_a_value(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.fake.artifact_server = False
    try:
        with pytest.raises(ClusterDebugError) as err:
            cluster.load("artifacts", tmp_path)
    finally:
        cluster.fake.artifact_server = True
    assert err.value.kind == "artifact-server-off"
    assert "ARGO_ARTIFACT_SERVER=false" in err.value.hint


def test_a_batch_that_did_not_fail_is_refused_naming_the_failed_ones(
    cluster: Cluster, tmp_path: Path
) -> None:
    with pytest.raises(ClusterDebugError) as err:
        cluster.load("parameters", tmp_path, batch=0)
    assert "batch 0 of process-batches" in err.value.message and "did not fail" in err.value.message
    assert err.value.status == 409
    assert "failed batches: process-batches batch 1" in err.value.hint


# -- naavre-batch debug --cluster ------------------------------------------------------------------


def test_cli_writes_a_debug_notebook_that_fails_on_the_same_item(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.env(monkeypatch)
    name = cluster.names["parameters"]
    notebook = cluster.notebook
    assert main(["debug", "--cluster", name, "--notebook", str(notebook)]) == 0
    out = capsys.readouterr()
    written = Path(out.out.strip())
    assert written.parent == notebook.parent
    assert written.name == f"seed-debug-{name}-batch-{FAILED}.ipynb"
    assert "the failure was in cell 6" in out.err
    nb = nbformat.read(written, as_version=4)
    monkeypatch.setenv(BROKEN_ITEM_VARIABLE, "13")  # the cluster's pods had it
    client = NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    )
    with pytest.raises(CellExecutionError, match="cannot process item 13"):
        client.execute()
    assert f"loaded batch {FAILED} as batches (1 items)" in nb.cells[1].outputs[0]["text"]
    # a second debug, of the notebook the run was submitted with, never writes over the first
    monkeypatch.chdir(notebook.parent)
    assert main(["debug", "--cluster", name]) == 0
    assert Path(capsys.readouterr().out.strip()).name.endswith("-2.ipynb")
    assert written.is_file()


def test_cli_unreadable_artifact_exits_2_with_the_message(
    unreadable: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unreadable.env(monkeypatch)
    args = ["debug", "--cluster", unreadable.names["artifacts"]]
    assert main([*args, "--notebook", str(unreadable.notebook)]) == 2
    err = capsys.readouterr().err
    assert "could not read input 'naavre-batch'" in err and "artifact repository" in err
    assert unreadable.fake.token not in err


def test_cli_unknown_workflow_exits_2_naming_it(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.env(monkeypatch)
    assert main(["debug", "--cluster", "no-such-run", "--notebook", str(cluster.notebook)]) == 2
    assert "not found" in capsys.readouterr().err


# -- GET cluster-runs/<name>/debug -----------------------------------------------------------------


async def debug_call(jp_fetch: Any, name: str, **query: str) -> tuple[int, dict[str, Any]]:
    """``GET cluster-runs/<name>/debug`` of the seed (``path=...`` for another notebook)."""
    params = {"path": "seed.ipynb", **query}
    return await api_call(jp_fetch, "cluster-runs", name, "debug", params=params)


@pytest.fixture
def served(cluster: Cluster, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The Jupyter server pointed at the fake Argo server, the seed at its root."""
    cluster.env(monkeypatch)
    write_tmp(seed_with_a_broken_item(), jp_root_dir, "seed.ipynb")
    return cluster


async def test_rest_debug_answers_the_loader_and_the_failing_cell(
    served: Cluster, jp_fetch: Any, jp_root_dir: Path
) -> None:
    cluster = served
    code, answer = await debug_call(jp_fetch, cluster.names["parameters"])
    assert code == 200
    assert (answer["task"], answer["batch"], answer["cell_index"]) == ("process-batches", 1, 6)
    runs = jp_root_dir / ".naavre-batch" / "runs" / ".cluster" / cluster.names["parameters"]
    assert str(runs) in answer["code"]  # laid out inside the server root
    ns: dict[str, Any] = {}
    exec(answer["code"], ns)  # noqa: S102 - what the panel runs in the kernel
    assert ns["batches"] == cluster.batches["parameters"][FAILED]["items"]
    assert "cell 6 is selected" in answer["message"]
    assert cluster.fake.problems == []  # the nodes' inputs are valid for Argo's OpenAPI


async def test_rest_debug_errors_are_located_json(
    served: Cluster, unreadable: Cluster, jp_fetch: Any
) -> None:
    code, unread = await debug_call(jp_fetch, unreadable.names["artifacts"])
    assert (code, unread["kind"]) == (502, "artifact-unreadable")
    assert "could not read input 'naavre-batch'" in unread["message"]
    assert "artifact repository" in unread["hint"]
    code, succeeded = await debug_call(jp_fetch, unreadable.names["parameters"], batch="0")
    assert (code, succeeded["kind"], succeeded["field"]) == (409, "not-failed", "batch")
    code, unknown = await debug_call(jp_fetch, "no-such-run")
    assert (code, unknown["kind"]) == (404, "not-found")
    assert unreadable.fake.token not in json.dumps([unread, succeeded, unknown])


# -- an R payload, read without R (r_scripts.read_r_literal, the inverse of r_literal) -------------

R_EXAMPLE = Path(__file__).parent.parent / "examples" / "splitting-batches-r-tagged.ipynb"


def as_r_reads(value: Any) -> Any:
    """``value`` as :func:`r_scripts.read_r_literal` gives it back: ``list()`` is ``[]``, as R
    has no empty named list (r_literal writes ``{}`` and ``[]`` alike)."""
    if isinstance(value, dict):
        return {k: as_r_reads(v) for k, v in value.items()} if value else []
    if isinstance(value, list):
        return [as_r_reads(v) for v in value]
    return value


@needs_r
def test_the_r_example_s_payloads_read_back_exactly_as_r_literal_wrote_them() -> None:
    spec = spec_for_path(str(R_EXAMPLE))
    tasks = scripts.plan_tasks(spec)
    assert [t.kind for t in tasks] == ["splitter", "processors", "merger"]
    for task in tasks:
        payload = r_scripts.r_task_payload(spec, task)
        text = r_scripts.r_literal(payload)
        read = r_scripts.read_r_literal(text)
        assert read == as_r_reads(payload)
        assert r_scripts.r_literal(read) == text


def test_strings_with_quotes_backslashes_newlines_and_unicode_read_back_exactly() -> None:
    """Every escape the writer uses, a string long enough to be written as ``paste0()`` of
    pieces, and the numbers it writes (ints, doubles, the big int it writes as a double)."""
    tricky = 'say "hi" \\ C:\\tmp\n\ttab\r {braces} \x01 é ü 中 😀 \u2028'
    payload = {
        "source": tricky,
        "long": tricky * 20,
        "numbers": [0, -7, 2**31 - 1, 2**40, 1.5, -0.0, 1e-07, 3e300],
        "special": [None, True, False, math.inf, -math.inf],
        "nested": {"list": [[], ["x"]], "": "empty name"},
    }
    text = r_scripts.r_literal(payload)
    assert "paste0(" in text
    read = r_scripts.read_r_literal(text)
    assert read == {**payload, "numbers": [0, -7, 2**31 - 1, float(2**40), 1.5, -0.0, 1e-07, 3e300]}
    assert r_scripts.r_literal(read) == text
    assert math.isnan(r_scripts.read_r_literal("NaN"))


@pytest.mark.parametrize(
    "text",
    [
        'system("id")',
        "c(1L, 2L)",
        "list(x = 1L)",
        'list("a" = 1L,\n2L)',
        'list("a" = 1L,\n"a" = 2L)',
        "list(1L, 2L)",
        '"\\x41"',
        '"a" ; q()',
        "1.50",
        "007L",
        "TRUE + 1L",
        "list(" * 101 + ")" * 101,
    ],
)
def test_anything_r_literal_does_not_write_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="R literal|expected|nested deeper|mixes or repeats"):
        r_scripts.read_r_literal(text)


# -- an R notebook's failed batch ------------------------------------------------------------------
#
# The same layout and loader as a local R run (engines/debug.py ``_r_loader_source``): the pod's
# script with the runtime its loader decodes (r_export.inline_runtime) as scripts/<task>.R, its
# payload read without R (r_scripts.read_task_payload). Batch 2 of 3 (items 5 and 6) fails.

R_FAILED = 2
R_TASK = "processor-1"


@pytest.fixture(scope="module")
def r_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster-debug-r")
    found = Cluster(root, failing_r_notebook(), {"param_offset": 100}, filename="failing.ipynb")
    yield found
    found.server.close()


def failed_pod(cluster: Cluster, values: str) -> Pod:
    """The processor pod that failed, as the fake ran it."""
    [pod] = [p for p in cluster.plays[values].pods[R_TASK] if p.returncode != 0]
    return pod


@needs_r
def test_r_cli_writes_an_ir_debug_notebook_that_holds_the_pod_s_batch_and_fails_the_same(
    r_cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The kernel prints the processor's batch as the failed pod printed it, holds the run's
    parameter value (100, not the notebook's 10), and the processor cell stops as the pod did."""
    r_cluster.env(monkeypatch)
    name = r_cluster.names["parameters"]
    assert main(["debug", "--cluster", name, "--notebook", str(r_cluster.notebook)]) == 0
    out = capsys.readouterr()
    written = Path(out.out.strip())
    assert written.name == f"failing-debug-{name}-batch-{R_FAILED}.ipynb"
    assert "the failure was in cell 2" in out.err
    laid_out = r_cluster.notebook.parent / ".naavre-batch" / "runs" / ".cluster" / name
    assert [p.name for p in (laid_out / "scripts").iterdir()] == [f"{R_TASK}.R"]
    nb = nbformat.read(written, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "ir"
    assert nb.metadata["kernelspec"]["language"] == "R"
    nb.cells.insert(2, nbformat.v4.new_code_cell("cat(param_offset, scale)"))
    client = NotebookClient(
        nb, kernel_name="ir", resources={"metadata": {"path": str(written.parent)}}
    )
    with pytest.raises(CellExecutionError, match=FAILING_R_ERROR):
        client.execute()
    assert f"loaded batch {R_FAILED} as items (2 items)" in nb.cells[1].outputs[0]["text"]
    assert nb.cells[2].outputs[0]["text"] == "100 3"
    [printed, error] = nb.cells[3].outputs
    assert printed["text"] == failed_pod(r_cluster, "parameters").stdout == "batch items: 5 6 \n"
    assert FAILING_R_ERROR in error["evalue"]


@needs_r
def test_r_artifacts_mode_loads_the_batch_read_through_the_input_artifact_endpoint(
    r_cluster: Cluster, tmp_path: Path
) -> None:
    """The loader run by R (as the kernel runs it): the batch the pod read from the artifact
    repository, the run's parameter, and the failure located from the pod's log."""
    target = r_cluster.load("artifacts", tmp_path)
    assert (target.task["id"], target.instance, target.r) == (R_TASK, R_FAILED, True)
    assert target.error == {"message": f"Error: {FAILING_R_ERROR}", "cell_index": 2, "line": 3}
    name = r_cluster.names["artifacts"]
    asked = [r["path"] for r in r_cluster.fake.requests if name in r["path"]]
    assert any(p.startswith(f"/input-artifacts/{NS}/{name}/") for p in asked)
    loader = tmp_path / "loader.R"
    loader.write_text(
        debug.loader_source(target) + 'cat("batch items:", items, "\\n")\ncat(param_offset)\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [r_scripts.rscript(), str(loader)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.split("\n", 1)[1]  # after the loader's "loaded batch" line
    assert printed == failed_pod(r_cluster, "artifacts").stdout + "100"


@needs_r
async def test_rest_debug_of_an_r_batch_answers_r_code_and_the_failing_cell(
    r_cluster: Cluster, jp_fetch: Any, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r_cluster.env(monkeypatch)
    write_tmp(failing_r_notebook(), jp_root_dir, "failing.ipynb")
    name = r_cluster.names["parameters"]
    code, answer = await debug_call(jp_fetch, name, path="failing.ipynb")
    assert code == 200, answer
    assert (answer["task"], answer["batch"], answer["cell_index"]) == (R_TASK, R_FAILED, 2)
    runs = jp_root_dir / ".naavre-batch" / "runs" / ".cluster" / name
    assert f'parse(file = "{runs}/scripts/{R_TASK}.R"' in answer["code"]


PWNED = '.naavre_task <- list(system("touch pwned"), '


@needs_r
@pytest.mark.parametrize(
    ("field", "edit", "message"),
    [
        (
            "source",
            lambda source: source.replace(".naavre_task <- list(", PWNED),
            "its task payload is not naavre-batch's (not an R literal of naavre-batch at offset",
        ),
        (
            "source",
            lambda source: source.replace("globalenv()", "baseenv()", 1),
            "its R step script does not load the runtime as naavre-batch does",
        ),
        ("command", lambda _: ["bash"], "its step runs ['bash'], not naavre-batch's Python or R"),
    ],
    ids=["payload-with-a-call", "another-runtime-loader", "unknown-command"],
)
def test_an_r_step_naavre_batch_did_not_write_is_refused_and_nothing_runs(
    r_cluster: Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    edit: Any,
    message: str,
) -> None:
    """A payload with any other call than ``list()`` (here ``system()``), a runtime loader that
    is not naavre-batch's, or a step run by another program, is a 409 ``not-naavre``: nothing is
    laid out, nothing ran."""
    monkeypatch.chdir(tmp_path)
    workflow = r_cluster.fake.runs[r_cluster.names["parameters"]].workflow
    [template] = [t for t in workflow["spec"]["templates"] if t["name"] == R_TASK]
    kept = template["script"][field]
    template["script"][field] = edit(kept)
    try:
        with pytest.raises(ClusterDebugError) as err:
            r_cluster.load("parameters", tmp_path)
    finally:
        template["script"][field] = kept
    assert (err.value.status, err.value.kind) == (409, "not-naavre")
    assert f"batch {R_FAILED} of {R_TASK}: {message}" in err.value.message
    assert list(tmp_path.iterdir()) == []
