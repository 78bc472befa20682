"""What reaches the Argo server is checked first (issue 22, items 2, 3 and 14): a token with a line
break is refused without being echoed, run names that are not Kubernetes object names are a 400
before any request, and a notebook path is one spelling everywhere (``sub/./a.ipynb`` is
``sub/a.ipynb``). The Argo server is the fake of tests/argo_fake.py; ``fake.requests`` shows what
reached it."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argo_fake import FakeThread
from helpers import NOTEBOOKS, api_call

from naavre_batch_ext.cli import main
from naavre_batch_ext.handlers import SETTINGS_CONFIG

NS = "naavre"
TAGGED = NOTEBOOKS / "splitting-batches-tagged.ipynb"
TOKEN_WITH_NEWLINE = "SECRET-part\nsecond-line"


# -- item 2: a token with a line break -------------------------------------------------------------


async def test_a_token_with_a_line_break_is_refused_naming_argo_token_and_never_echoed(
    jp_fetch: Any,
    jp_root_dir: Path,
    argo_env: FakeThread,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: a 500 and ``Illegal characters (CR or LF) in header: b'Authorization: Bearer
    SECRET...`` in the server log."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ARGO_TOKEN", TOKEN_WITH_NEWLINE)
    shutil.copy(TAGGED, jp_root_dir / "seed.ipynb")
    answers = [
        await api_call(jp_fetch, "cluster", "connection"),
        await api_call(
            jp_fetch, "cluster-runs", method="POST", body=json.dumps({"path": "seed.ipynb"})
        ),
    ]
    for code, reply in answers:
        assert (code, reply["kind"]) == (503, "not-configured")
        assert reply["message"].startswith("ARGO_TOKEN holds a line break")
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for text in [logs, *(json.dumps(a) for a in answers)]:
        assert "SECRET" not in text and "second-line" not in text
    assert argo_env.fake.requests == []


@pytest.fixture
def carriage_return_traitlet(jp_serverapp: Any) -> Iterator[None]:
    config = jp_serverapp.web_app.settings[SETTINGS_CONFIG]
    config.argo_token = "SECRET\rx"
    yield
    config.argo_token = ""


async def test_a_configured_token_with_a_control_character_names_the_setting(
    jp_fetch: Any, argo_env: FakeThread, carriage_return_traitlet: None
) -> None:
    code, reply = await api_call(jp_fetch, "cluster", "connection")
    assert code == 503 and reply["message"].startswith("c.NaavreBatch.argo_token holds")
    assert "SECRET" not in json.dumps(reply)


def test_submit_with_a_line_break_in_the_token_says_so_without_a_traceback_or_the_token(
    argo_env: FakeThread, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARGO_TOKEN", TOKEN_WITH_NEWLINE)
    assert main(["submit", str(TAGGED)]) == 2
    out = capsys.readouterr()
    assert "ARGO_TOKEN holds a line break" in out.err
    assert "SECRET" not in out.err + out.out and "Traceback" not in out.err
    assert argo_env.fake.requests == []


# -- item 3: run names -------------------------------------------------------------------------------

NOT_NAMES = ["..", "X_Y", "a" * 300, "a%00b", "a.-b", "-a"]


@pytest.mark.parametrize(
    "name", NOT_NAMES, ids=["dots", "upper-underscore", "300", "nul", "dot-dash", "dash"]
)
async def test_a_cluster_run_name_that_is_no_kubernetes_name_is_a_400_before_any_request(
    jp_fetch: Any, argo_env: FakeThread, name: str
) -> None:
    """Before: sent to Argo as given (``GET cluster-runs/..`` read the namespace's list)."""
    quoted = name.replace("%", "%25") if name != "a%00b" else name
    for method, parts, query in [
        ("GET", ("cluster-runs", quoted), {}),
        ("PUT", ("cluster-runs", quoted, "retry"), {}),
        ("PUT", ("cluster-runs", quoted, "stop"), {}),
        ("GET", ("cluster-runs", quoted, "log"), {"params": {"pod": "p"}}),
    ]:
        code, reply = await api_call(jp_fetch, *parts, method=method, **query)
        assert code == 400, (method, parts, reply)
        assert reply["field"] == "name" and "is not a Kubernetes object name" in reply["message"]
    assert argo_env.fake.requests == []


async def test_a_pod_name_that_is_no_kubernetes_name_is_a_400_before_any_request(
    jp_fetch: Any, argo_env: FakeThread
) -> None:
    code, reply = await api_call(
        jp_fetch, "cluster-runs", "seed-x0001", "log", params={"pod": "../x"}
    )
    assert (code, reply["field"]) == (400, "pod")
    assert argo_env.fake.requests == []


# -- item 14: one spelling of a notebook path --------------------------------------------------------


async def test_a_path_with_a_dot_segment_is_the_same_notebook_for_its_cluster_runs(
    jp_fetch: Any, jp_root_dir: Path, argo_env: FakeThread
) -> None:
    """Before: ``sub/./seed.ipynb`` labelled the run with that spelling, so listing the runs of
    ``sub/seed.ipynb`` did not find it."""
    (jp_root_dir / "sub").mkdir()
    shutil.copy(TAGGED, jp_root_dir / "sub" / "seed.ipynb")
    code, created = await api_call(
        jp_fetch, "cluster-runs", method="POST", body=json.dumps({"path": "sub/./seed.ipynb"})
    )
    assert code == 201
    code, listed = await api_call(jp_fetch, "cluster-runs", params={"path": "sub/seed.ipynb"})
    assert [r["name"] for r in listed["runs"]] == [created["name"]]
    assert listed["runs"][0]["notebook"] == "sub/seed.ipynb"
    code, again = await api_call(jp_fetch, "cluster-runs", params={"path": "sub//./seed.ipynb"})
    assert [r["name"] for r in again["runs"]] == [created["name"]]
