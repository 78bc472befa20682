"""POST runs with ``"reuse": true`` and ``"resume": RUN_ID``, and ``GET runs/<id>/debug``: the REST
side of reuse and debugging (docs/rest-api.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import api_error, code_notebook, section_tags, write_tmp
from test_handlers_runs import start_run, wait_until_over
from tornado.httpclient import HTTPClientError

SPLITTER = "items = [1, 2, 3, 4, 5, 6, 7, 8]"
PROCESSOR = (
    "import os\n"
    "doubled = [x * 2 for x in items]\n"
    "if os.path.exists('fail-on-7') and 7 in items:\n"
    "    raise ValueError('item 7 is broken')"
)
MERGER = "total = sum(doubled)\nprint(total)"


def _notebook(root: Path) -> str:
    nb = code_notebook("scale = 2", SPLITTER, PROCESSOR, MERGER, tags=section_tags(1, "4"))
    write_tmp(nb, root, "failing.ipynb")
    return "failing.ipynb"


async def test_post_runs_with_reuse_takes_unchanged_instances_from_the_store(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    path = _notebook(jp_root_dir)
    body = {"path": path, "context": "workflow", "reuse": True}
    first = await wait_until_over(jp_fetch, (await start_run(jp_fetch, body))["id"])
    second = await wait_until_over(jp_fetch, (await start_run(jp_fetch, body))["id"])
    assert first["status"] == second["status"] == "succeeded"
    assert second["result"]["workflow_run"]["reuse"]["ran"] == 0
    chain = second["progress"]["workflow"]["tasks"][1]
    assert chain["reused"] == 4
    assert all(i["reused"] for i in chain["instance_status"])


async def test_resume_reruns_the_failed_batch_and_debug_returns_its_loader(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    path = _notebook(jp_root_dir)
    (jp_root_dir / "fail-on-7").touch()
    failed = await wait_until_over(
        jp_fetch, (await start_run(jp_fetch, {"path": path, "context": "workflow"}))["id"]
    )
    assert failed["status"] == "failed"
    response = await jp_fetch(
        "naavre-batch-ext", "runs", failed["id"], "debug", params={"path": path}
    )
    loader = json.loads(response.body)
    assert (loader["batch"], loader["cell_index"]) == (3, 2)
    assert "item 7 is broken" in loader["error"]
    ns: dict[str, Any] = {}
    exec(loader["code"], ns)  # noqa: S102 - what the panel runs in the kernel
    assert (ns["items"], ns["scale"]) == ([7, 8], 2)

    (jp_root_dir / "fail-on-7").unlink()
    resumed = await wait_until_over(
        jp_fetch,
        (await start_run(jp_fetch, {"path": path, "context": "workflow", "resume": failed["id"]}))[
            "id"
        ],
    )
    assert resumed["status"] == "succeeded"
    reuse = resumed["result"]["workflow_run"]["reuse"]
    assert (reuse["reused"], reuse["ran"], reuse["failed"], reuse["resumed_from"]) == (
        4,
        2,
        0,
        failed["id"],
    )


async def test_resume_of_an_unknown_run_is_a_400_naming_the_field(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    path = _notebook(jp_root_dir)
    status, error = await api_error(
        jp_fetch, "runs", {"path": path, "context": "workflow", "resume": "20260101-000000-abcdef"}
    )
    assert status == 400
    assert error["field"] == "resume" and "no run 20260101-000000-abcdef" in error["message"]


async def test_debug_of_an_unknown_run_is_a_404(jp_fetch: Any, jp_root_dir: Path) -> None:
    path = _notebook(jp_root_dir)
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch(
            "naavre-batch-ext", "runs", "20260101-000000-abcdef", "debug", params={"path": path}
        )
    assert error.value.code == 404
    assert error.value.response is not None
    assert "no run" in json.loads(error.value.response.body)["message"]
