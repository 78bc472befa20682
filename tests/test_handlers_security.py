"""Every endpoint refuses requests without credentials; bodies over the configured limit get 413;
an unexpected exception is a short 500 whose traceback stays in the server log."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from helpers import api_error, tagged_seed_notebook
from tornado.httpclient import HTTPClientError

from naavre_batch_ext import handlers

BODY_LIMIT = 64 * 1024


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    """A small body limit (set the way a user would, c.NaavreBatch.max_body_size)."""
    return {**jp_server_config, "NaavreBatch": {"max_body_size": BODY_LIMIT}}


ENDPOINTS = [
    ("GET", ("info",), None),
    ("POST", ("spec",), {"path": "seed.ipynb"}),
    ("POST", ("export",), {"path": "seed.ipynb", "save": True}),
    ("POST", ("runs",), {"path": "seed.ipynb"}),
    ("GET", ("runs",), None),
    ("GET", ("runs", "20000101-000000-abcdef"), None),
    ("DELETE", ("runs", "20000101-000000-abcdef"), None),
    ("GET", ("cluster", "connection"), None),
    ("POST", ("cluster-runs",), {"path": "seed.ipynb"}),
    ("GET", ("cluster-runs",), None),
    ("GET", ("cluster-runs", "seed-abcde"), None),
    ("GET", ("cluster-runs", "seed-abcde", "log"), None),
    ("PUT", ("cluster-runs", "seed-abcde", "stop"), {}),
    ("PUT", ("cluster-runs", "seed-abcde", "retry"), {}),
    ("PUT", ("cluster-runs", "seed-abcde", "resubmit"), {}),
]


@pytest.mark.parametrize(
    ("method", "parts", "body"), ENDPOINTS, ids=[f"{m} {'/'.join(p)}" for m, p, _ in ENDPOINTS]
)
async def test_requests_without_a_token_are_403(
    jp_fetch: Any,
    jp_root_dir: Path,
    seed: str,
    method: str,
    parts: tuple[str, ...],
    body: dict[str, Any] | None,
) -> None:
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch(
            "naavre-batch-ext",
            *parts,
            method=method,
            body=json.dumps(body) if body is not None else None,
            headers={"Authorization": ""},
        )
    assert error.value.code == 403
    assert not (jp_root_dir / "seed.argo.yaml").exists()
    assert not (jp_root_dir / ".naavre-batch").exists()


async def test_a_body_over_the_limit_is_413(jp_fetch: Any, seed: str) -> None:
    nb = tagged_seed_notebook()
    nb.cells[0].source = "x" * BODY_LIMIT  # unsaved content larger than the limit
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch(
            "naavre-batch-ext",
            "spec",
            method="POST",
            body=json.dumps({"path": seed, "notebook": nb}),
        )
    assert error.value.code == 413
    assert error.value.response is not None
    assert str(BODY_LIMIT) in json.loads(error.value.response.body)["message"]


async def test_a_body_under_the_limit_is_accepted(jp_fetch: Any, seed: str) -> None:
    nb = tagged_seed_notebook()
    nb.cells[0].source = "x" * (BODY_LIMIT // 2)
    response = await jp_fetch(
        "naavre-batch-ext", "spec", method="POST", body=json.dumps({"path": seed, "notebook": nb})
    )
    assert response.code == 200


async def test_an_unexpected_exception_is_a_short_500_with_the_traceback_only_in_the_log(
    jp_fetch: Any, seed: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(handlers, "build_spec", explode)
    caplog.set_level(logging.ERROR)
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("naavre-batch-ext", "spec", method="POST", body=json.dumps({"path": seed}))
    assert error.value.code == 500
    assert error.value.response is not None
    body = error.value.response.body.decode()
    assert "Traceback" not in body and "secret internal detail" not in body
    assert json.loads(body)["message"].startswith(
        "internal error in naavre-batch-ext (RuntimeError)"
    )
    assert "secret internal detail" in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        (
            "runs",
            '{"path": "seed.ipynb", "parameters": {"param_item_count": 1%s}}',
            "parameters.param_item_count",
        ),
        (
            "export",
            '{"path": "seed.ipynb", "options": {"parallelism": 1%s}}',
            "options.parallelism",
        ),
        ("spec", "[1%s]", "body[0]"),
    ],
    ids=["runs-parameter", "export-option", "spec-body"],
)
async def test_an_integer_of_5000_digits_is_a_400_naming_its_field(
    jp_fetch: Any, seed: str, endpoint: str, body: str, field: str
) -> None:
    """Python refuses int("1" * 5000) (its 4300-digit limit) inside JSON decoding: before, a 500
    (issue 22, item 10)."""
    code, reply = await api_error(jp_fetch, endpoint, body % ("0" * 5000), raw=True)
    assert (code, reply["field"]) == (400, field)
    assert "more than 4300 digits" in reply["message"]
