"""*Debug in notebook* for a failed batch of a cluster run (engines/cluster_debug.py, ``naavre-batch
debug --cluster``, ``GET cluster-runs/<name>/debug``), against the fake Argo server of
tests/argo_fake.py: the broken seed (item 13 raises, helpers.seed_with_a_broken_item) runs for real
in its pods once per value mode (module-scoped), batch 1 of 3 fails, and its inputs come back from
the run's status (``--values parameters``) or through the server's input-artifact endpoint
(``--values artifacts``, artifact_server.go ``GetInputArtifact``), or not, with a clear message,
when the server cannot read the artifact repository."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from argo_fake import FakeArgo, FakeThread
from helpers import BROKEN_ITEM_VARIABLE, seed_with_a_broken_item, write_tmp
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tornado.httpclient import HTTPClientError

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

NS = "naavre"
FAILED = 1
"""Item 13 of the seed's 28 is in batch 1 of 3 (see test_cluster.BROKEN)."""


class Cluster:
    """The fake server with one failed run of the broken seed per value mode."""

    def __init__(self, root: Path) -> None:
        self.fake = FakeArgo(pod_env={BROKEN_ITEM_VARIABLE: "13"}, root=root / "argo")
        self.server = FakeThread(self.fake)
        self.notebook = write_tmp(seed_with_a_broken_item(), root, "seed.ipynb")
        spec = spec_for_path(str(self.notebook))
        self.names: dict[str, str] = {}
        self.batches: dict[str, Any] = {}
        for values in ("parameters", "artifacts"):
            options = ArgoOptions(values=values)
            workflow = workflow_for(spec, "seed.ipynb", options, {"param_max_batch_count": 3}, NS)
            name = self.fake.create(NS, workflow)["metadata"]["name"]
            run = self.fake.runs[name]
            self.fake.execute(run)
            run.stage = run.last
            self.fake.fill(run)
            self.names[values] = name
            assert run.play is not None
            from test_argo_execution import batches_of

            self.batches[values] = batches_of(run.play.only("gen-batches"))
        assert self.fake.problems == []

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
    try:
        response = await jp_fetch(
            "naavre-batch-ext",
            "cluster-runs",
            name,
            "debug",
            params={"path": "seed.ipynb", **query},
        )
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body)
    return response.code, json.loads(response.body)


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
