"""Answers of another shape than Argo's API (issue 22, items 9 and 12): a 502 naming the field,
never a 500 or a traceback; an answer too large to read is called too large, not unreachable.

These answers cannot come from the fake Argo server of tests/argo_fake.py, which follows Argo's
OpenAPI description: they model what a proxy, a login page or a broken server in front of the
Argo API sends. So the server here is a stand-in that answers every request of one kind with the
given JSON, and records the requests.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tornado.httpserver
import tornado.web
from helpers import NOTEBOOKS, api_call

from naavre_batch_ext.cli import main
from naavre_batch_ext.engines import cluster_client

TAGGED = NOTEBOOKS / "splitting-batches-tagged.ipynb"
NS = "naavre"
GOOD_RUN = {"metadata": {"name": "seed-x0001", "namespace": NS}, "status": {"phase": "Running"}}


class WrongArgo:
    """A server on 127.0.0.1 answering by request kind (``version``, ``list``, ``create``,
    ``get``, ``action``, ``log``) from ``answers``; ``raw`` sends those bytes as they are."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.raw: bytes | None = None
        self.requests: list[str] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        outer = self

        class Handler(tornado.web.RequestHandler):
            def check_xsrf_cookie(self) -> None:
                return None

            def _kind(self) -> str:
                path = self.request.path
                if path.endswith("/version"):
                    return "version"
                if path.endswith("/log"):
                    return "log"
                if self.request.method == "POST":
                    return "create"
                if self.request.method == "PUT":
                    return "action"
                return "list" if path.rstrip("/").count("/") == 4 else "get"

            def _answer(self) -> None:
                kind = self._kind()
                outer.requests.append(kind)
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps(outer.answers.get(kind, GOOD_RUN)))

            get = post = put = _answer

        async def serve() -> None:
            self.server = tornado.httpserver.HTTPServer(
                tornado.web.Application([(r"/.*", Handler)])
            )
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            self.port = sockets[0].getsockname()[1]
            self.server.add_sockets(sockets)

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(serve())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True, name="wrong-argo")
        self.thread.start()
        ready.wait(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def wrong(monkeypatch: pytest.MonkeyPatch) -> Iterator[WrongArgo]:
    import tornado.netutil  # noqa: F401 - used by the server thread

    server = WrongArgo()
    monkeypatch.setenv("ARGO_SERVER", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("ARGO_NAMESPACE", NS)
    monkeypatch.setenv("ARGO_TOKEN", "token-of-the-test")
    monkeypatch.delenv("ARGO_BASE_HREF", raising=False)
    yield server
    server.close()


# -- item 9: answers of another shape -------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "field"),
    [(["version", 1], "the answer"), ({"version": {"a": [1]}}, "version"), ({}, "version")],
    ids=["a-list", "version-an-object", "no-version"],
)
async def test_a_version_answer_of_another_shape_is_a_502_naming_the_field(
    jp_fetch: Any, wrong: WrongArgo, answer: Any, field: str
) -> None:
    """Before: 500 AttributeError for the list; ``{"version": {"a": [1]}}`` passed as ok."""
    wrong.answers["version"] = answer
    code, reply = await api_call(jp_fetch, "cluster", "connection")
    assert (code, reply["kind"], reply["answerField"]) == (502, "bad-answer", field)
    assert "read the server version" in reply["message"]


async def test_a_list_with_items_that_are_no_workflows_is_a_502_naming_the_item(
    jp_fetch: Any, wrong: WrongArgo
) -> None:
    wrong.answers["list"] = {"items": [1, "x", None]}
    code, reply = await api_call(jp_fetch, "cluster-runs", params={"path": "seed.ipynb"})
    assert (code, reply["answerField"]) == (502, "items[0]")
    assert "items[0] is 1, not an object" in reply["message"]


@pytest.mark.parametrize(
    ("method", "parts", "kind"),
    [
        ("GET", ("seed-x0001",), "get"),
        ("PUT", ("seed-x0001", "stop"), "action"),
        ("PUT", ("seed-x0001", "retry"), "action"),
        ("GET", ("seed-x0001", "log"), "get"),
    ],
    ids=["status", "stop", "retry", "log"],
)
async def test_a_workflow_whose_name_is_a_number_is_a_502_naming_metadata_name(
    jp_fetch: Any, wrong: WrongArgo, method: str, parts: tuple[str, ...], kind: str
) -> None:
    wrong.answers[kind] = {"metadata": {"name": 7}}
    extra = {"params": {"pod": "seed-x0001-1"}} if parts[-1] == "log" else {}
    code, reply = await api_call(jp_fetch, "cluster-runs", *parts, method=method, **extra)
    assert (code, reply["answerField"]) == (502, "metadata.name")
    assert "metadata.name is 7, not a string" in reply["message"]


async def test_a_created_workflow_whose_answer_has_another_shape_is_named_as_created(
    jp_fetch: Any, jp_root_dir: Path, wrong: WrongArgo
) -> None:
    """The workflow exists on the cluster: the answer says so, with its name, so nobody submits
    it twice thinking it failed."""
    shutil.copy(TAGGED, jp_root_dir / "seed.ipynb")
    wrong.answers["create"] = {"metadata": {"name": "seed-abc12"}, "status": {"nodes": [1]}}
    code, reply = await api_call(
        jp_fetch, "cluster-runs", method="POST", body=json.dumps({"path": "seed.ipynb"})
    )
    assert (code, reply["created"], reply["answerField"]) == (502, "seed-abc12", "status.nodes")
    assert reply["message"].startswith("workflow seed-abc12 was created, but")


def test_submit_with_a_created_answer_of_another_shape_says_so_without_a_traceback(
    wrong: WrongArgo, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong.answers["create"] = {"metadata": {"name": 7}}
    assert main(["submit", str(TAGGED)]) == 2
    err = capsys.readouterr().err
    assert "a workflow was created (argo list shows it), but" in err
    assert "metadata.name is 7, not a string" in err and "Traceback" not in err


# -- item 12: an answer too large to read ---------------------------------------------------------


@pytest.fixture
def huge_answer() -> Iterator[int]:
    """A raw server declaring a 200 MB answer (``Content-Length``) and sending its first bytes."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200000000\r\n\r\n" + b'{"version": "' + b"x" * 65536
        )
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield port[0]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


async def test_a_200_mb_answer_is_reported_as_too_large_not_as_unreachable(
    jp_fetch: Any, huge_answer: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: "cannot reach the Argo server" (tornado hangs up past its 100 MB limit)."""
    monkeypatch.setenv("ARGO_SERVER", f"http://127.0.0.1:{huge_answer}")
    code, reply = await api_call(jp_fetch, "cluster", "connection")
    assert (code, reply["kind"]) == (502, "too-large")
    assert (
        "answered with more than 64 MiB when asked to read the server version" in reply["message"]
    )


async def test_an_answer_over_the_limit_stops_being_read_as_it_arrives(
    jp_fetch: Any, wrong: WrongArgo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted as it arrives, whatever its length says (the limit lowered to 1 KiB here)."""
    monkeypatch.setattr(cluster_client, "MAX_ANSWER_BYTES", 1024, raising=False)
    wrong.answers["version"] = {"version": "v" + "9" * 5000}
    code, reply = await api_call(jp_fetch, "cluster", "connection")
    assert (code, reply["kind"]) == (502, "too-large")
