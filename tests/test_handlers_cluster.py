"""The cluster endpoints (``cluster/connection``, ``cluster-runs``...) against the fake Argo server
of tests/argo_fake.py, whose answers come from really running the exported workflow's pods: submit,
follow a run to its failed batch (the seed's processor raises for item 13,
helpers.seed_with_a_broken_item), read that batch's log at its cell, retry, the merger's output
after pod GC deleted its pod, stop, resubmit; connection problems as clear JSON errors; the token
in no answer and no log line."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from argo_fake import FakeArgo, FakeThread, self_signed
from helpers import BROKEN_ITEM_LINE, seed_with_a_broken_item, write_tmp
from tornado.httpclient import HTTPClientError

from naavre_batch_ext.core.split import batch_ranges

NS = "naavre"


@pytest.fixture
def broken_seed(jp_root_dir: Path) -> str:
    """The tagged seed whose processor raises for item 13 in the fake's pods, at the root."""
    write_tmp(seed_with_a_broken_item(), jp_root_dir, "broken-seed.ipynb")
    return "broken-seed.ipynb"


@pytest.fixture
def answers() -> list[str]:
    """Every REST answer body of the test, for the token check."""
    return []


async def call(
    jp_fetch: Any, answers: list[str], *path: str, method: str = "GET", body: Any = None, **q: str
) -> tuple[int, dict[str, Any]]:
    kwargs: dict[str, Any] = {"method": method}
    if body is not None or method in ("POST", "PUT"):
        kwargs["body"] = json.dumps(body or {})
    if q:
        kwargs["params"] = q
    try:
        response = await jp_fetch("naavre-batch-ext", *path, **kwargs)
    except HTTPClientError as exc:
        assert exc.response is not None
        text = exc.response.body.decode()
        answers.append(text)
        return exc.code, json.loads(text)
    text = response.body.decode()
    answers.append(text)
    return response.code, json.loads(text)


def no_token(token: str, answers: list[str], caplog: pytest.LogCaptureFixture) -> None:
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "/naavre-batch-ext/cluster" in logs  # the server's request log was captured
    assert answers and all(token not in a for a in answers)
    assert token not in logs


@pytest.mark.parametrize("values", ["parameters", "artifacts"])
async def test_a_cluster_run_from_submit_to_failed_batch_log_retry_and_success(
    values: str,
    jp_fetch: Any,
    broken_seed: str,
    argo_env: FakeThread,
    answers: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    code, run = await call(
        jp_fetch,
        answers,
        "cluster-runs",
        method="POST",
        body={
            "path": broken_seed,
            "parameters": {"param_max_batch_count": 3},
            "options": {"values": values},
        },
    )
    assert code == 201 and run["state"] == "pending"
    assert run["parameters"]["param_max_batch_count"] == "3"
    name = run["name"]
    states = []
    while not run.get("finished"):
        code, run = await call(jp_fetch, answers, "cluster-runs", name)
        states.append([s["state"] for s in run["steps"]])
    assert ["running", "pending", "pending"] in states
    assert run["phase"] == "Failed"
    # every batch has its items (elements of the seed's list of lists ``batches``)
    items = run["steps"][1]["instances"]["items"]
    assert [(i["start"], i["stop"]) for i in items] == batch_ranges(3, 3)
    batch = next(f for f in run["failures"] if f["index"] is not None)
    code, log = await call(jp_fetch, answers, "cluster-runs", name, "log", pod=batch["podName"])
    assert code == 200
    assert (log["cell_index"], log["line"], log["step"]) == (6, BROKEN_ITEM_LINE, "process-batches")
    assert (log["index"], log["start"], log["stop"]) == (1, 1, 2)
    assert "ValueError: cannot process item 13" in log["text"] and log["missing"] is None
    argo_env.fake.pod_env.clear()  # the cause goes away
    code, run = await call(jp_fetch, answers, "cluster-runs", name, "retry", method="PUT")
    assert code == 200 and run["phase"] == "Running"
    while not run.get("finished"):
        code, run = await call(jp_fetch, answers, "cluster-runs", name)
    assert run["phase"] == "Succeeded"
    assert run["steps"][1]["instances"]["done"] == 3
    merger = run["steps"][2]
    assert "\nProcessed items: [0.0, 0.023809523809523808," in merger["output"]["text"]
    assert merger["summary"][0]["name"] == "processed_batches"
    # pod GC (OnPodSuccess) deleted the merger's pod: the log says why it is empty
    code, log = await call(jp_fetch, answers, "cluster-runs", name, "log", pod=merger["podName"])
    assert code == 200 and log["text"] == ""
    assert "deleted by pod GC (podGC strategy OnPodSuccess)" in log["missing"]
    assert argo_env.fake.problems == []
    # the token went to the Argo server on every request, and nowhere else
    assert {r["authorization"] for r in argo_env.fake.requests} == {f"Bearer {argo_env.fake.token}"}
    no_token(argo_env.fake.token, answers, caplog)


async def test_the_notebook_s_runs_are_listed_from_the_cluster(
    jp_fetch: Any, seed: str, argo_env: FakeThread, answers: list[str]
) -> None:
    _, first = await call(jp_fetch, answers, "cluster-runs", method="POST", body={"path": seed})
    _, second = await call(jp_fetch, answers, "cluster-runs", method="POST", body={"path": seed})
    code, listed = await call(jp_fetch, answers, "cluster-runs", path=seed)
    assert code == 200
    assert {r["name"] for r in listed["runs"]} == {first["name"], second["name"]}
    assert all(r["notebook"] == seed for r in listed["runs"])
    _, other = await call(jp_fetch, answers, "cluster-runs", path="other.ipynb")
    assert other["runs"] == []
    assert "token" not in json.dumps(listed["connection"]).replace("tokenSet", "")


async def test_stop_fails_the_running_nodes_and_resubmit_starts_a_new_run(
    jp_fetch: Any, seed: str, argo_env: FakeThread, answers: list[str]
) -> None:
    _, run = await call(jp_fetch, answers, "cluster-runs", method="POST", body={"path": seed})
    name = run["name"]
    for _ in range(3):
        _, run = await call(jp_fetch, answers, "cluster-runs", name)
    assert run["steps"][1]["instances"]["running"] > 0
    code, stopped = await call(jp_fetch, answers, "cluster-runs", name, "stop", method="PUT")
    assert code == 200 and stopped["phase"] == "Failed"
    assert stopped["message"] == "Stopped with strategy 'Stop'"
    assert stopped["steps"][1]["instances"]["running"] == 0
    code, again = await call(jp_fetch, answers, "cluster-runs", name, "resubmit", method="PUT")
    assert code == 200 and again["name"] != name and again["state"] == "pending"
    assert argo_env.fake.problems == []


async def test_connection_test_reports_the_server_version(
    jp_fetch: Any, argo_env: FakeThread, answers: list[str]
) -> None:
    code, reply = await call(jp_fetch, answers, "cluster", "connection")
    assert code == 200 and reply["version"] == "v4.1.2"
    assert reply["connection"] == {
        "server": argo_env.url,
        "namespace": NS,
        "tokenSet": True,
        "insecureSkipVerify": False,
        "timeout": 20.0,
    }


async def test_connection_problems_are_clear_json_errors_without_the_token(
    jp_fetch: Any,
    argo_env: FakeThread,
    monkeypatch: pytest.MonkeyPatch,
    answers: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = argo_env.fake.token
    monkeypatch.setenv("ARGO_TOKEN", "wrong-" + token)
    code, err = await call(jp_fetch, answers, "cluster", "connection")
    assert (code, err["kind"]) == (502, "unauthorized") and "refused" in err["message"]
    monkeypatch.delenv("ARGO_TOKEN")
    code, err = await call(jp_fetch, answers, "cluster", "connection")
    assert "no token was sent" in err["message"]
    monkeypatch.setenv("ARGO_TOKEN", token)
    monkeypatch.setenv("ARGO_NAMESPACE", "elsewhere")
    code, err = await call(jp_fetch, answers, "cluster-runs", path="seed.ipynb")
    assert (code, err["kind"]) == (502, "forbidden") and "'elsewhere'" in err["message"]
    monkeypatch.setenv("ARGO_NAMESPACE", NS)
    argo_env.fake.mode = "5xx"
    code, err = await call(jp_fetch, answers, "cluster", "connection")
    assert (code, err["kind"]) == (502, "server") and "HTTP 503" in err["message"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ARGO_SERVER", f"http://127.0.0.1:{port}")
    code, err = await call(jp_fetch, answers, "cluster", "connection")
    assert (code, err["kind"]) == (502, "unreachable")
    monkeypatch.delenv("ARGO_SERVER")
    code, err = await call(jp_fetch, answers, "cluster", "connection")
    assert (code, err["kind"]) == (503, "not-configured") and "ARGO_SERVER" in err["hint"]
    for text in answers:
        assert "Traceback" not in text
    no_token(token, answers, caplog)


async def test_a_hanging_argo_server_is_a_504_after_the_timeout(
    jp_fetch: Any, argo_env: FakeThread, answers: list[str], jp_serverapp: Any
) -> None:
    argo_env.fake.mode = "hang"
    jp_serverapp.web_app.settings["naavre_batch_config"].argo_timeout = 0.5
    code, err = await call(jp_fetch, answers, "cluster", "connection")
    assert (code, err["kind"]) == (504, "timeout") and "0.5 s" in err["message"]


async def test_a_log_of_a_pod_outside_the_run_is_refused(
    jp_fetch: Any, seed: str, argo_env: FakeThread, answers: list[str]
) -> None:
    _, run = await call(jp_fetch, answers, "cluster-runs", method="POST", body={"path": seed})
    code, err = await call(
        jp_fetch, answers, "cluster-runs", run["name"], "log", pod="kube-apiserver"
    )
    assert code == 404 and err["field"] == "pod"


async def test_submit_refuses_bad_parameters_before_creating_anything(
    jp_fetch: Any, seed: str, argo_env: FakeThread, answers: list[str]
) -> None:
    code, err = await call(
        jp_fetch,
        answers,
        "cluster-runs",
        method="POST",
        body={"path": seed, "parameters": {"param_nope": 1}},
    )
    assert code == 400 and err["field"] == "parameters"
    assert argo_env.fake.requests == []


async def test_a_self_signed_certificate_is_a_tls_error_until_verification_is_skipped(
    jp_fetch: Any,
    monkeypatch: pytest.MonkeyPatch,
    answers: list[str],
    tmp_path: Any,
) -> None:
    fake = FakeArgo()
    server = FakeThread(fake, self_signed(tmp_path))
    try:
        monkeypatch.setenv("ARGO_SERVER", server.url)
        monkeypatch.setenv("ARGO_TOKEN", fake.token)
        monkeypatch.delenv("ARGO_INSECURE_SKIP_VERIFY", raising=False)
        code, err = await call(jp_fetch, answers, "cluster", "connection")
        assert (code, err["kind"]) == (502, "tls")
        assert "ARGO_INSECURE_SKIP_VERIFY" in err["hint"]
        monkeypatch.setenv("ARGO_INSECURE_SKIP_VERIFY", "true")
        code, reply = await call(jp_fetch, answers, "cluster", "connection")
        assert code == 200 and reply["connection"]["insecureSkipVerify"] is True
        assert all(fake.token not in a for a in answers)
    finally:
        server.close()
