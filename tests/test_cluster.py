"""Running on an Argo server (naavre_batch_ext/engines/cluster.py, cluster_client.py, ``naavre-batch
submit``), against the fake Argo server of tests/argo_fake.py: every request checked against
Argo's OpenAPI description, every answer valid for it, ``status.nodes`` as the controller fills
them from a real run of the exported workflow's pods (see argo_fake.py for the source files and
functions it follows). A batch fails for real: the seed's processor raises for item 13 while the
pods' environment says so (helpers.seed_with_a_broken_item)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_fake import FakeArgo, FakeThread, Run, node_id, self_signed
from helpers import (
    BROKEN_ITEM_LINE,
    BROKEN_ITEM_VARIABLE,
    NOTEBOOKS,
    seed_with_a_broken_item,
    write_tmp,
)
from r_helpers import needs_r

from naavre_batch_ext.cli import main
from naavre_batch_ext.core.spec import spec_for_path
from naavre_batch_ext.core.split import batch_ranges
from naavre_batch_ext.engines import cluster
from naavre_batch_ext.engines.cluster import (
    ApiRequest,
    ClusterConfigError,
    ClusterError,
    ClusterSettings,
    create_request,
    failure_location,
    generate_pod_name,
    get_request,
    label_selector,
    list_request,
    log_request,
    log_text,
    missing_log_reason,
    retry_request,
    run_status,
    settings_from,
    version_request,
    workflow_for,
)
from naavre_batch_ext.engines.cluster_client import ArgoClient
from naavre_batch_ext.exporters.argo import ArgoOptions, export_argo

TAGGED = NOTEBOOKS / "splitting-batches-tagged.ipynb"
R_SEED = Path(__file__).parent.parent / "examples" / "splitting-batches-r-tagged.ipynb"
NS = "naavre"


BROKEN = "13"
"""The item the broken seed's processor fails on: the seed groups its 28 items into lists of
``ceil(28 / m)``, and the split cuts the list of lists into m batches of one list each, so item 13
is in batch 2 (item 2) for m = 5 and in batch 1 (item 1) for m = 3."""


@pytest.fixture
def broken_seed(tmp_path: Path) -> Path:
    """The tagged seed whose processor fails on item 13 in the fake's pods."""
    return write_tmp(seed_with_a_broken_item(), tmp_path, "splitting-batches-tagged.ipynb")


def seed_workflow(parameters: dict[str, Any] | None = None, path: Path = TAGGED) -> dict[str, Any]:
    spec = spec_for_path(str(path))
    return workflow_for(spec, "splitting-batches-tagged.ipynb", ArgoOptions(), parameters or {}, NS)


def send(settings: ClusterSettings, request: Any) -> Any:
    return asyncio.run(ArgoClient(settings).send(request))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- connection settings ----------------------------------------------------------------------


def test_argo_server_host_port_means_https_like_the_argo_cli() -> None:
    s = settings_from({"ARGO_SERVER": "argo.example.org:2746", "ARGO_TOKEN": "t"})
    assert s.base_url == "https://argo.example.org:2746"
    assert s.namespace == "argo"
    plain = settings_from({"ARGO_SERVER": "argo:2746", "ARGO_SECURE": "false"})
    assert plain.base_url == "http://argo:2746"


def test_base_href_namespace_and_tls_flag_come_from_the_environment() -> None:
    s = settings_from(
        {
            "ARGO_SERVER": "https://hub.example.org",
            "ARGO_BASE_HREF": "/argo/",
            "ARGO_NAMESPACE": "vre-user",
            "ARGO_INSECURE_SKIP_VERIFY": "true",
        }
    )
    assert s.base_url == "https://hub.example.org/argo"
    assert s.url(version_request()) == "https://hub.example.org/argo/api/v1/version"
    assert (s.namespace, s.insecure_skip_verify) == ("vre-user", True)


def test_traitlets_overrides_win_over_the_environment_and_empty_ones_do_not() -> None:
    env = {"ARGO_SERVER": "a:1", "ARGO_NAMESPACE": "env-ns", "ARGO_TOKEN": "env-token"}
    s = settings_from(env, {"server": "https://b:2", "namespace": "", "token": None})
    assert (s.base_url, s.namespace, s.token) == ("https://b:2", "env-ns", "env-token")


def test_no_server_configured_is_a_clear_error_with_the_variable_to_set() -> None:
    with pytest.raises(ClusterConfigError) as err:
        settings_from({})
    assert "ARGO_SERVER" in err.value.hint


def test_the_token_is_sent_as_a_bearer_header_and_never_described() -> None:
    s = settings_from({"ARGO_SERVER": "a:1", "ARGO_TOKEN": "abc123"})
    assert s.headers()["Authorization"] == "Bearer abc123"
    given = settings_from({"ARGO_SERVER": "a:1", "ARGO_TOKEN": "Bearer v2:xyz"})
    assert given.headers()["Authorization"] == "Bearer v2:xyz"  # as `argo auth token` prints it
    assert "abc123" not in json.dumps(s.describe()) and "abc123" not in repr(s)
    assert s.describe()["tokenSet"] is True


# -- the workflow that is submitted -------------------------------------------------------------


def test_submitted_workflow_is_the_export_with_labels_naming_the_notebook() -> None:
    spec = spec_for_path(str(TAGGED))
    exported = yaml.safe_load(export_argo(spec, ArgoOptions()))
    wf = seed_workflow({"param_max_batch_count": 4})
    assert wf["spec"]["templates"] == exported["spec"]["templates"]
    labels = wf["metadata"]["labels"]
    assert labels["naavre-batch/notebook"] == "splitting-batches-tagged"
    assert label_selector("splitting-batches-tagged.ipynb").endswith(
        labels["naavre-batch/notebook-key"]
    )
    values = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
    assert values == {"param_item_count": "28", "param_max_batch_count": "4"}
    tasks = json.loads(wf["metadata"]["annotations"]["naavre-batch/tasks"])
    assert [t["task"] for t in tasks] == ["gen-batches", "process-batches", "retrieve-batches"]


# -- mapping status.nodes onto the steps ------------------------------------------------------


def played(
    root: Path,
    options: ArgoOptions | None = None,
    stage: int | None = None,
    broken: str | None = BROKEN,
    **params: Any,
) -> tuple[FakeArgo, Run]:
    """The broken seed created on a fake server, its pods run for real, shown at ``stage``
    (default: the end)."""
    fake = FakeArgo(pod_env={BROKEN_ITEM_VARIABLE: broken} if broken else {}, root=root)
    spec = spec_for_path(str(write_tmp(seed_with_a_broken_item(), root, "seed.ipynb")))
    workflow = workflow_for(spec, "seed.ipynb", options or ArgoOptions(), params, NS)
    wf = fake.create(NS, workflow)
    run = fake.runs[wf["metadata"]["name"]]
    fake.execute(run)
    run.stage = run.last if stage is None else stage
    fake.fill(run)
    assert fake.problems == []
    return fake, run


VALUES = ("parameters", "artifacts")


def test_a_fresh_run_is_pending_in_every_step(tmp_path: Path) -> None:
    _, run = played(tmp_path, stage=0)
    status = run_status(run.workflow)
    assert status["phase"] == "Pending" and not status["finished"]
    assert [s["state"] for s in status["steps"]] == ["pending"] * 3


def test_running_batches_are_counted_done_running_of_m(tmp_path: Path) -> None:
    _, run = played(tmp_path, stage=3, broken=None)
    process = run_status(run.workflow)["steps"][1]
    assert process["steps"] == ["process-batches"] and process["state"] == "running"
    inst = process["instances"]
    assert (inst["total"], inst["done"], inst["running"], inst["failed"]) == (5, 3, 2, 0)


@pytest.mark.parametrize("values", VALUES)
def test_every_batch_has_the_item_range_the_splitter_wrote(values: str, tmp_path: Path) -> None:
    """Issue 18: the ranges come from the splitter's batch table (``naavre-batch-list``), in
    elements of the split variable (the seed's ``batches``: 3 lists for m = 3)."""
    _, run = played(tmp_path, ArgoOptions(values=values), broken=None, param_max_batch_count=3)
    status = run_status(run.workflow)
    items = status["steps"][1]["instances"]["items"]
    assert [(i["index"], i["start"], i["stop"]) for i in items] == [
        (i, a, b) for i, (a, b) in enumerate(batch_ranges(3, 3))
    ]


@pytest.mark.parametrize("values", VALUES)
def test_a_failed_batch_is_named_with_its_item_range(values: str, tmp_path: Path) -> None:
    _, run = played(tmp_path, ArgoOptions(values=values), param_max_batch_count=3)
    status = run_status(run.workflow)
    assert status["phase"] == "Failed" and status["finished"]
    batch = next(f for f in status["failures"] if f["task"] == "process-batches")
    assert (batch["index"], batch["start"], batch["stop"]) == (1, 1, 2)
    assert batch["cells"] == [6]
    inst = status["steps"][1]["instances"]
    assert (inst["done"], inst["failed"]) == (2, 1)


@pytest.mark.parametrize("values", VALUES)
def test_without_the_splitter_s_table_the_range_comes_from_the_instance(
    values: str, tmp_path: Path
) -> None:
    """The batch in the text form (``--values parameters``) or the withParam item in the node's
    name (``--values artifacts``, operator.go processItem) give the same range."""
    _, run = played(tmp_path, ArgoOptions(values=values), param_max_batch_count=3)
    for node in run.workflow["status"]["nodes"].values():
        if node["templateName"] == "gen-batches":
            node.pop("outputs")
    batch = next(f for f in run_status(run.workflow)["failures"] if f["index"] is not None)
    assert (batch["index"], batch["start"], batch["stop"]) == (1, 1, 2)


def test_pod_names_follow_argo_generate_pod_name(tmp_path: Path) -> None:
    """workflow/util/pod_name.go, GeneratePodName (v2): <workflow>-<template>-<fnv32a(node name)>;
    the node id (workflow_types.go, NodeID) ends with the same hash."""
    _, run = played(tmp_path)
    wf = run.workflow
    name = wf["metadata"]["name"]
    item = run_status(wf)["steps"][1]["instances"]["items"][2]
    node = next(
        n
        for n in wf["status"]["nodes"].values()
        if n["displayName"].startswith("process-batches(2:")
    )
    assert node["id"] == node_id(name, node["name"])
    assert item["podName"] == f"{name}-process-batches-{node['id'].rsplit('-', 1)[1]}"
    assert generate_pod_name(name, name, "main", name) == name


def test_a_retried_batch_reports_its_last_attempt_pod(tmp_path: Path) -> None:
    """With --retries the controller puts a Retry node per batch, its pods as children
    (operator.go, executeTemplate): the batch is counted once, its log is its last attempt's."""
    fake, run = played(tmp_path, ArgoOptions(retries=1))
    wf = run.workflow
    status = run_status(wf)
    inst = status["steps"][1]["instances"]
    assert (inst["total"], inst["done"], inst["failed"]) == (5, 4, 1)
    failed = next(i for i in inst["items"] if i["state"] == "failed")
    attempts = [
        n
        for n in wf["status"]["nodes"].values()
        if n["type"] == "Pod" and n["displayName"].startswith(f"process-batches({failed['index']}:")
    ]
    assert sorted(n["name"][-3:] for n in attempts) == ["(0)", "(1)"]  # both really ran
    last = next(n for n in attempts if n["name"].endswith("(1)"))
    name = wf["metadata"]["name"]
    assert failed["podName"] == generate_pod_name(name, last["name"], "process-batches", last["id"])
    assert "cannot process item 13" in "\n".join(fake.log(run, failed["podName"]))


def test_the_batch_count_parameter_of_the_run_gives_its_instance_count(tmp_path: Path) -> None:
    _, run = played(tmp_path, broken=None, param_max_batch_count=4)
    status = run_status(run.workflow)
    assert status["phase"] == "Succeeded"
    inst = status["steps"][1]["instances"]
    assert (inst["total"], inst["done"]) == (4, 4)
    assert [(i["start"], i["stop"]) for i in inst["items"]] == batch_ranges(4, 4)


@pytest.mark.parametrize("values", VALUES)
def test_the_merger_s_output_is_in_the_status_after_pod_gc_deleted_its_pod(
    values: str, tmp_path: Path
) -> None:
    """podGC OnPodSuccess (the default) deletes the merger's pod as soon as it succeeded
    (pod/cleanup.go), and its log with it; what it printed stays in the Workflow's status."""
    fake, run = played(tmp_path, ArgoOptions(values=values), broken=None)
    status = run_status(run.workflow)
    merger = status["steps"][2]
    assert merger["podName"] in run.deleted and fake.log(run, merger["podName"]) == []
    assert merger["output"]["cutBytes"] == 0
    assert "Processed items: [0.0, 0.023809523809523808," in merger["output"]["text"]
    (summary,) = merger["summary"]
    assert (summary["name"], summary["type"], summary["length"]) == ("processed_batches", "list", 5)
    assert summary["preview"].startswith("[[0.0, 0.023809523809523808")
    assert status["podGC"] == "OnPodSuccess"
    reason = missing_log_reason(status, merger["state"])
    assert "deleted by pod GC (podGC strategy OnPodSuccess)" in reason and "archiveLogs" in reason


def test_a_failed_step_log_names_its_cell_and_line() -> None:
    log = (
        'Traceback (most recent call last):\n  File "<nb cell 6>", line 4, in <module>\n'
        "ValueError: x\nnaavre-batch: step process-batches failed in cell 6, line 4: ValueError: x"
    )
    assert failure_location(log) == {"step": "process-batches", "cell_index": 6, "line": 4}
    assert failure_location('  File "<nb cell 8>", line 2\n')["cell_index"] == 8
    assert failure_location("killed", [6])["cell_index"] == 6
    stream = '{"result":{"content":"a","podName":"p"}}\n{"result":{"content":"b","podName":"p"}}\n'
    assert log_text(stream) == "a\nb"


# -- the API calls, against the fake server ---------------------------------------------------


def test_every_call_is_valid_for_argo_s_openapi_description(
    argo_env: FakeThread, broken_seed: Path
) -> None:
    s = settings_from(os.environ)
    created = send(s, create_request(NS, seed_workflow(path=broken_seed)))
    name = created["metadata"]["name"]
    while not run_status(send(s, get_request(NS, name)))["finished"]:
        pass
    listed = send(s, list_request(NS, label_selector("splitting-batches-tagged.ipynb")))
    assert [i["metadata"]["name"] for i in listed["items"]] == [name]
    status = run_status(send(s, get_request(NS, name)))
    failed = next(f for f in status["failures"] if f["index"] is not None)
    log = log_text(send(s, log_request(NS, name, failed["podName"])))
    assert failure_location(log)["cell_index"] == 6
    retried = send(s, retry_request(NS, name))
    assert retried["status"]["phase"] == "Running"
    assert send(s, version_request())["version"] == "v4.1.2"
    assert argo_env.fake.problems == []
    assert {(r["method"], r["path"].rsplit("/", 1)[-1]) for r in argo_env.fake.requests} >= {
        ("POST", NS),
        ("GET", name),
        ("GET", "log"),
        ("PUT", "retry"),
    }


def test_the_fake_server_does_catch_a_request_outside_the_openapi_description(
    argo_env: FakeThread,
) -> None:
    """The check that every other test relies on fails when it should."""
    s = settings_from(os.environ)
    bad = ApiRequest(
        "POST", f"/api/v1/workflows/{NS}", "create", body={"workflow": {"spec": {"templates": 1}}}
    )
    with pytest.raises(ClusterError):
        send(s, bad)
    assert any("body" in p and "templates" in p for p in argo_env.fake.problems)


# -- naavre-batch submit ----------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUES)
def test_submit_watch_prints_the_progress_table_until_the_failed_batch(
    values: str, argo_env: FakeThread, broken_seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["submit", str(broken_seed), "-p", "param_max_batch_count=3", "--values", values]
        + ["--watch", "--interval", "0.01"]
    )
    out = capsys.readouterr()
    assert code == 1
    assert "Pending" in out.out and "0/3 done, 2 running" in out.out
    assert "failed: process-batches batch 1 (item 1): Error (exit code 1)" in out.out
    # ... and where it failed, from the batch's own log, ending with the step's last line
    assert (
        f"--- process-batches batch 1 (item 1) failed in cell 6, line {BROKEN_ITEM_LINE}; the end "
        "of its log ---" in out.out
    )
    assert (
        f"naavre-batch: step process-batches failed in cell 6, line {BROKEN_ITEM_LINE}: "
        "ValueError: cannot process item 13" in out.out
    )
    assert argo_env.fake.token not in out.out + out.err
    assert argo_env.fake.problems == []


def test_submit_watch_says_why_a_failed_batch_has_no_log(
    argo_env: FakeThread, broken_seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --pod-gc OnPodCompletion the failed pod is deleted too (pod/cleanup.go): its log is
    gone, and the user is told so and how to keep logs, never shown an empty section."""
    code = main(
        ["submit", str(broken_seed), "-p", "param_max_batch_count=3", "--pod-gc", "OnPodCompletion"]
        + ["--watch", "--interval", "0.01"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "--- process-batches batch 1 (item 1) failed in cell 6; no log: the pod was deleted by "
        "pod GC (podGC strategy OnPodCompletion)" in out
    )
    assert "archiveLogs" in out and "--pod-gc" in out


@pytest.mark.parametrize("values", VALUES)
def test_submit_watch_follows_a_retried_run_to_success_and_prints_the_stored_output(
    values: str, argo_env: FakeThread, broken_seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The batch fails, the cause goes away and the user retries between two polls; the merger's
    pod is deleted by pod GC the moment it succeeds, before --watch asks, and its printed output
    is still shown (from the Workflow's status)."""
    fake = argo_env.fake
    original = fake.advance
    runs: list[Run] = []

    def advance(run: Run) -> None:
        original(run)
        if run.workflow["status"].get("phase") == "Failed" and not runs:
            runs.append(run)
            fake.pod_env.clear()
            fake.retry(run)

    fake.advance = advance  # type: ignore[method-assign]
    code = main(
        ["submit", str(broken_seed), "-p", "param_max_batch_count=3", "--values", values]
        + ["--watch", "--interval", "0.01"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3/3 done" in out
    (run,) = runs
    merger = run_status(run.workflow)["steps"][2]
    assert merger["podName"] in run.deleted
    assert not any(
        r["path"].endswith("/log") and ("podName", merger["podName"]) in r["query"]
        for r in fake.requests
    )
    assert "--- output of retrieve-batches ---\nProcessed batches: [[0.0, " in out
    assert "\nProcessed items: [0.0, 0.023809523809523808," in out
    # Argo keeps the batches that succeeded before the retry (workflow/util/util.go,
    # FormulateRetryWorkflow, createNewRetryWorkflow): only the broken batch 1 ran again.
    assert "3/3 done (2 kept from before the retry)" in out
    assert "retried: process-batches: batch(es) 0, 2 kept (succeeded before the retry), " in out
    assert "batch(es) 1 re-ran" in out


@needs_r
def test_submit_watch_runs_an_r_notebook_and_prints_its_merger_output(
    argo_env: FakeThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The R seed on the cluster: the fake's pods run the exported R scripts with Rscript (the
    tests' Argo player), and --watch ends with what the R merger printed (R's own deparse)."""
    # The fake plays every pod inside one poll, so that poll's answer waits for all the Rscript
    # starts (a real server answers at once): a busy machine must not turn it into a time-out.
    monkeypatch.setattr(cluster, "DEFAULT_TIMEOUT", 180.0)
    code = main(
        ["submit", str(R_SEED), "-p", "param_max_batch_count=2", "--watch", "--interval", "0.01"]
    )
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "2/2 done" in out
    assert "--- output of retrieve-batches ---\nProcessed batches: list(c(0, 0.0238" in out
    assert "\nProcessed items: c(0, 0.0238095238095238, " in out
    assert argo_env.fake.problems == []


def test_a_run_never_retried_reports_nothing_kept(tmp_path: Path) -> None:
    _, run = played(tmp_path, broken=None)
    status = run_status(run.workflow)
    chain = next(step for step in status["steps"] if step["instances"])
    assert chain["instances"]["reused"] == 0
    assert not any(step["reused"] for step in status["steps"])


def test_submit_without_watch_names_the_run(
    argo_env: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(TAGGED)]) == 0
    out = capsys.readouterr().out
    assert "submitted splitting-batches-tagged-" in out and f"namespace {NS}" in out
    created = argo_env.fake.requests[0]["body"]["workflow"]
    assert created["metadata"]["namespace"] == NS


def test_submit_with_an_unknown_parameter_sends_nothing(
    argo_env: FakeThread, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", str(TAGGED), "-p", "param_nope=1"]) == 2
    assert "param_nope" in capsys.readouterr().err
    assert argo_env.fake.requests == []


# -- connection problems: each a clear message, never the token -------------------------------


def submit_error(capsys: pytest.CaptureFixture[str], token: str) -> str:
    code = main(["submit", str(TAGGED)])
    out = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out.err
    assert token not in out.out + out.err
    return out.err


def test_missing_token_says_no_token_was_sent(
    argo_env: FakeThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARGO_TOKEN")
    err = submit_error(capsys, argo_env.fake.token)
    assert "no token was sent" in err and "ARGO_TOKEN" in err


def test_wrong_token_says_it_was_refused(
    argo_env: FakeThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARGO_TOKEN", "wrong-token-123")
    err = submit_error(capsys, "wrong-token-123")
    assert "the token was refused" in err and "token not valid" in err


def test_forbidden_namespace_is_named(
    argo_env: FakeThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARGO_NAMESPACE", "someone-else")
    err = submit_error(capsys, argo_env.fake.token)
    assert "namespace 'someone-else'" in err and "pods/log" in err


def test_unreachable_server(
    argo_env: FakeThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARGO_SERVER", f"http://127.0.0.1:{free_port()}")
    err = submit_error(capsys, argo_env.fake.token)
    assert "cannot reach the Argo server" in err and "ARGO_SERVER" in err


def test_server_error_5xx(argo_env: FakeThread, capsys: pytest.CaptureFixture[str]) -> None:
    argo_env.fake.mode = "5xx"
    err = submit_error(capsys, argo_env.fake.token)
    assert "failed to create the workflow (HTTP 503)" in err


def test_hanging_server_times_out() -> None:
    fake = FakeArgo(mode="hang")
    server = FakeThread(fake)
    try:
        s = ClusterSettings(server=server.url, namespace=NS, token=fake.token, timeout=0.5)
        with pytest.raises(ClusterError) as err:
            send(s, version_request())
        assert err.value.kind == "timeout" and "0.5 s" in err.value.message
    finally:
        server.close()


def test_tls_failure_and_insecure_skip_verify(tmp_path: Path) -> None:
    fake = FakeArgo()
    server = FakeThread(fake, self_signed(tmp_path))
    try:
        s = ClusterSettings(server=server.url, namespace=NS, token=fake.token)
        with pytest.raises(ClusterError) as err:
            send(s, version_request())
        assert err.value.kind == "tls" and "ARGO_INSECURE_SKIP_VERIFY" in err.value.hint
        assert fake.token not in err.value.message + err.value.hint
        skip = ClusterSettings(
            server=server.url, namespace=NS, token=fake.token, insecure_skip_verify=True
        )
        assert send(skip, version_request())["gitTag"] == "v4.1.2"
    finally:
        server.close()


def test_the_log_of_a_real_failed_batch_pod_points_at_its_cell_and_line(tmp_path: Path) -> None:
    """The exported step script really fails (tests/test_argo_execution.py plays the pods as Argo
    would); what the pod printed is what ``GET .../log`` returns, and it locates the cell."""
    import nbformat
    from test_argo_execution import ENCODINGS, export_and_play

    nb = nbformat.read(NOTEBOOKS / "runner" / "failing-instance.ipynb", as_version=4)
    spec, play = export_and_play(nb, tmp_path, ENCODINGS[0])
    task = next(t for t in play.pods if len(play.pods[t]) > 1)
    failed = [p for p in play.pods[task] if p.returncode != 0]
    assert len(failed) == 1  # the batch with item 7 (param_fail_at)
    log = failed[0].stdout + failed[0].stderr
    processor = next(s for s in spec["steps"] if s["role"] == "processor")
    assert failure_location(log) == {"step": processor["id"], "cell_index": 3, "line": 5}


def test_submit_without_a_configured_server_says_which_variable_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARGO_SERVER", raising=False)
    assert main(["submit", str(TAGGED)]) == 2
    err = capsys.readouterr().err
    assert "no Argo server configured" in err and "ARGO_SERVER" in err


def _tagged_test_notebooks() -> list[Path]:
    found = []
    for path in sorted(NOTEBOOKS.rglob("*.ipynb")):
        spec = spec_for_path(str(path))
        if spec["steps"] and not spec["summary"]["errors"]:
            found.append(path)
    return found


@pytest.mark.parametrize("path", _tagged_test_notebooks(), ids=lambda p: p.name)
def test_every_planned_task_is_a_dag_task_of_the_export(path: Path) -> None:
    """run_status finds each task of the naavre-batch/tasks annotation by its DAG task name, so
    the export must name its DAG tasks (and their templates) after the planned tasks."""
    spec = spec_for_path(str(path))
    wf = workflow_for(spec, path.name, ArgoOptions(retries=1), {}, NS)
    tasks = json.loads(wf["metadata"]["annotations"]["naavre-batch/tasks"])
    entry = next(t for t in wf["spec"]["templates"] if t["name"] == wf["spec"]["entrypoint"])
    dag = {t["name"]: t["template"] for t in entry["dag"]["tasks"]}
    assert [t["task"] for t in tasks] == list(dag)
    fanned = {t["name"] for t in entry["dag"]["tasks"] if "withParam" in t}
    assert fanned == {t["task"] for t in tasks if t["kind"] == "processors"}
    assert sorted(s for t in tasks for s in t["steps"]) == sorted(s["id"] for s in spec["steps"])


def test_the_ui_tests_broken_seed_is_the_helpers_one() -> None:
    """ui-tests/notebooks/splitting-batches-broken.ipynb (what ui-tests/tests/cluster.spec.ts
    submits) is helpers.seed_with_a_broken_item, so the UI tests' failing batch is this one."""
    import nbformat

    path = Path(__file__).parents[1] / "ui-tests" / "notebooks" / "splitting-batches-broken.ipynb"
    saved = nbformat.read(path, as_version=4)
    made = seed_with_a_broken_item()
    assert [(c.source, c.metadata.get("tags")) for c in saved.cells] == [
        (c.source, c.metadata.get("tags")) for c in made.cells
    ]
