"""POST/GET/DELETE /naavre-batch-ext/runs: background runs with progress and the comparison,
cancellation that stops every process and kernel, the concurrency limit, and server-stop cleanup."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    NOTEBOOKS,
    api_error,
    tagged_seed_notebook,
    unknown_name_notebook,
    write_tmp,
)
from tornado.httpclient import HTTPClientError

RUNNER_NOTEBOOKS = NOTEBOOKS / "runner"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    """One run at a time, so the limit is reached with the first run."""
    return {**jp_server_config, "NaavreBatch": {"max_concurrent_runs": 1}}


@pytest.fixture
def sleeping(jp_root_dir: Path) -> str:
    """A notebook whose processor writes its pid into ``pids/`` and sleeps for two minutes."""
    shutil.copy(RUNNER_NOTEBOOKS / "sleeping.ipynb", jp_root_dir / "sleeping.ipynb")
    (jp_root_dir / "pids").mkdir()
    return "sleeping.ipynb"


async def start_run(jp_fetch: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = await jp_fetch("naavre-batch-ext", "runs", method="POST", body=json.dumps(body))
    assert response.code == 202
    assert response.headers["Location"].endswith(
        "/naavre-batch-ext/runs/" + json.loads(response.body)["id"]
    )
    run: dict[str, Any] = json.loads(response.body)
    return run


async def get_run(jp_fetch: Any, run_id: str) -> dict[str, Any]:
    response = await jp_fetch("naavre-batch-ext", "runs", run_id)
    run: dict[str, Any] = json.loads(response.body)
    return run


async def wait_until_over(jp_fetch: Any, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = await get_run(jp_fetch, run_id)
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return run
        await asyncio.sleep(0.2)


async def wait_for_pids(folder: Path, count: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(list(folder.iterdir())) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return [int(p.name) for p in folder.iterdir()]


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def run_error(jp_fetch: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return await api_error(jp_fetch, "runs", body)


async def test_a_run_of_the_seed_completes_with_the_same_result_in_both_contexts(
    jp_fetch: Any, jp_root_dir: Path, seed: str
) -> None:
    started = await start_run(jp_fetch, {"path": seed, "context": "both"})
    assert started["status"] in ("queued", "running")
    run = await wait_until_over(jp_fetch, started["id"])
    assert run["status"] == "succeeded" and run["outcome"] == "ok"
    assert run["comparison"]["same"] is True and run["comparison"]["compared"] >= 1
    workflow = run["progress"]["workflow"]
    processors = next(t for t in workflow["tasks"] if t["task"] == "process-batches")
    assert processors["instances"] == 5 and processors["done"] == 5
    assert [i["instance"] for i in processors["instance_status"]] == [0, 1, 2, 3, 4]
    assert all(i["status"] == "ok" for i in processors["instance_status"])
    assert run["progress"]["notebook"]["status"] == "ok"
    # Timings per step, and the run folder beside the notebook, given relative to the root.
    assert [s["task"] for s in run["result"]["workflow_run"]["steps"]] == [
        "gen-batches",
        "process-batches",
        "retrieve-batches",
    ]
    folder = run["result"]["workflow_run"]["folder"]
    assert folder == f".naavre-batch/runs/{run['id']}"  # one id for the API and the folder
    assert (jp_root_dir / folder / "result.json").is_file()
    assert run["seconds"] > 0 and run["finished"] is not None


async def test_parameters_override_the_batch_count(jp_fetch: Any, seed: str) -> None:
    started = await start_run(
        jp_fetch, {"path": seed, "context": "workflow", "parameters": {"param_max_batch_count": 3}}
    )
    run = await wait_until_over(jp_fetch, started["id"])
    assert run["status"] == "succeeded"
    tasks = {t["task"]: t for t in run["progress"]["workflow"]["tasks"]}
    assert tasks["process-batches"]["instances"] == 3
    assert "notebook" not in run["progress"]


async def test_a_failing_instance_is_reported_with_its_cell_and_line(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    shutil.copy(RUNNER_NOTEBOOKS / "failing-instance.ipynb", jp_root_dir / "failing.ipynb")
    started = await start_run(jp_fetch, {"path": "failing.ipynb", "context": "workflow"})
    run = await wait_until_over(jp_fetch, started["id"])
    assert run["status"] == "failed" and run["outcome"] == "failed"
    error = run["errors"][0]
    assert error["context"] == "workflow"
    assert error["cell_index"] == 3 and error["line"] == 5
    assert "cannot double item 7" in error["message"] + error.get("traceback", "")
    assert not error["folder"].startswith("/")


async def test_get_runs_lists_recent_runs_newest_first(jp_fetch: Any, seed: str) -> None:
    first = await start_run(jp_fetch, {"path": seed, "context": "workflow"})
    await wait_until_over(jp_fetch, first["id"])
    second = await start_run(jp_fetch, {"path": seed, "context": "workflow"})
    await wait_until_over(jp_fetch, second["id"])
    response = await jp_fetch("naavre-batch-ext", "runs")
    runs = json.loads(response.body)["runs"]
    assert [r["id"] for r in runs] == [second["id"], first["id"]]
    assert runs[0]["path"] == seed and runs[0]["status"] == "succeeded"


async def test_cancelling_a_workflow_run_kills_every_step_process(
    jp_fetch: Any, jp_root_dir: Path, sleeping: str
) -> None:
    started = await start_run(
        jp_fetch, {"path": sleeping, "context": "workflow", "parameters": {"param_pid_dir": "pids"}}
    )
    pids = await wait_for_pids(jp_root_dir / "pids", 2)
    assert len(pids) == 2 and all(alive(p) for p in pids)
    response = await jp_fetch("naavre-batch-ext", "runs", started["id"], method="DELETE")
    run = json.loads(response.body)
    assert run["status"] == "cancelled" and run["cancel_reason"] == "cancelled on request"
    assert not any(alive(p) for p in pids)
    tasks = {t["task"]: t for t in run["progress"]["workflow"]["tasks"]}
    assert tasks["sleep"]["status"] == "cancelled" and tasks["sleep"]["instances"] == 2


async def test_cancelling_a_notebook_run_stops_its_kernel(
    jp_fetch: Any, jp_root_dir: Path, sleeping: str
) -> None:
    started = await start_run(
        jp_fetch, {"path": sleeping, "context": "both", "parameters": {"param_pid_dir": "pids"}}
    )
    [kernel_pid] = await wait_for_pids(jp_root_dir / "pids", 1)
    assert alive(kernel_pid)
    response = await jp_fetch("naavre-batch-ext", "runs", started["id"], method="DELETE")
    run = json.loads(response.body)
    assert run["status"] == "cancelled"
    assert not alive(kernel_pid)
    assert run["progress"]["workflow"]["status"] == "cancelled"  # never started


async def test_cancelling_a_finished_run_changes_nothing(jp_fetch: Any, seed: str) -> None:
    started = await start_run(jp_fetch, {"path": seed, "context": "workflow"})
    done = await wait_until_over(jp_fetch, started["id"])
    response = await jp_fetch("naavre-batch-ext", "runs", started["id"], method="DELETE")
    assert json.loads(response.body)["status"] == done["status"] == "succeeded"


async def test_more_runs_than_the_limit_is_429(
    jp_fetch: Any, jp_root_dir: Path, sleeping: str, seed: str
) -> None:
    started = await start_run(
        jp_fetch, {"path": sleeping, "context": "workflow", "parameters": {"param_pid_dir": "pids"}}
    )
    code, reply = await run_error(jp_fetch, {"path": seed})
    assert code == 429 and reply["limit"] == 1
    await jp_fetch("naavre-batch-ext", "runs", started["id"], method="DELETE")
    again = await start_run(jp_fetch, {"path": seed, "context": "workflow"})  # room again
    assert (await wait_until_over(jp_fetch, again["id"]))["status"] == "succeeded"


async def test_the_429_says_when_to_retry_in_a_retry_after_header(
    jp_fetch: Any, sleeping: str, seed: str
) -> None:
    """docs/rest-api.md promises ``Retry-After: 10`` (RFC 9110 15.5.20 suggests it for 429)."""
    started = await start_run(
        jp_fetch, {"path": sleeping, "context": "workflow", "parameters": {"param_pid_dir": "pids"}}
    )
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("naavre-batch-ext", "runs", method="POST", body=json.dumps({"path": seed}))
    await jp_fetch("naavre-batch-ext", "runs", started["id"], method="DELETE")
    assert error.value.code == 429 and error.value.response is not None
    assert error.value.response.headers.get("Retry-After") == "10"


async def test_the_server_stopping_cancels_runs_still_going(
    jp_fetch: Any, jp_serverapp: Any, jp_root_dir: Path, sleeping: str, seed: str
) -> None:
    started = await start_run(
        jp_fetch, {"path": sleeping, "context": "workflow", "parameters": {"param_pid_dir": "pids"}}
    )
    pids = await wait_for_pids(jp_root_dir / "pids", 2)
    await jp_serverapp.cleanup_extensions()  # what ServerApp._cleanup awaits when the server stops
    assert not any(alive(p) for p in pids)
    run = await get_run(jp_fetch, started["id"])
    assert run["status"] == "cancelled" and run["cancel_reason"] == "the server stopped"
    code, _ = await run_error(jp_fetch, {"path": seed})
    assert code == 503


async def test_an_unknown_run_is_404(jp_fetch: Any) -> None:
    for method in ("GET", "DELETE"):
        with pytest.raises(HTTPClientError) as error:
            await jp_fetch("naavre-batch-ext", "runs", "20000101-000000-abcdef", method=method)
        assert error.value.code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"context": "cluster"}, "context"),
        ({"context": 2}, "context"),
        ({"parameters": [1]}, "parameters"),
        ({"parameters": {"param_nope": 1}}, "parameters"),
        ({"parameters": {"param_max_batch_count": 0}}, "parameters"),
        ({"parameters": {"param_max_batch_count": "many"}}, "parameters"),
        ({"path": "../seed.ipynb"}, "path"),
        ({"path": "/etc/passwd"}, "path"),
    ],
)
async def test_bad_run_requests_are_400_naming_the_field(
    jp_fetch: Any, seed: str, body: dict[str, Any], field: str
) -> None:
    code, reply = await run_error(jp_fetch, {"path": seed, **body})
    assert code == 400
    assert reply["field"] == field


async def test_a_run_of_a_missing_notebook_is_404(jp_fetch: Any) -> None:
    code, reply = await run_error(jp_fetch, {"path": "missing.ipynb"})
    assert code == 404 and reply["field"] == "path"


async def test_a_run_with_analysis_errors_is_400_and_starts_nothing(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    write_tmp(unknown_name_notebook(), jp_root_dir, "bad.ipynb")
    code, reply = await run_error(jp_fetch, {"path": "bad.ipynb"})
    assert code == 400
    assert reply["diagnostics"][0]["cell_index"] == 1
    assert not (jp_root_dir / ".naavre-batch").exists()
    assert json.loads((await jp_fetch("naavre-batch-ext", "runs")).body)["runs"] == []


async def test_a_run_through_a_symlink_leading_outside_is_refused(
    jp_fetch: Any, jp_root_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = write_tmp(tagged_seed_notebook(), tmp_path_factory.mktemp("outside"), "seed.ipynb")
    os.symlink(outside, jp_root_dir / "link.ipynb")
    code, _ = await run_error(jp_fetch, {"path": "link.ipynb"})
    assert code == 400
    assert not (outside.parent / ".naavre-batch").exists()
