"""The server extension loads, and its info endpoint is authenticated like every jupyter-server API."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from naavre_batch_ext import SPEC_API_VERSION, __version__


def test_server_extension_is_loaded(jp_serverapp) -> None:
    """jupyter-server finds and loads the extension through its entry points."""
    assert "naavre_batch_ext" in jp_serverapp.extension_manager.extensions
    assert jp_serverapp.extension_manager.extensions["naavre_batch_ext"].enabled


async def test_info_returns_versions_with_a_token(jp_fetch) -> None:
    """With the server's token the endpoint answers which package and spec version it speaks."""
    response = await jp_fetch("naavre-batch-ext", "info")
    assert response.code == 200
    payload = json.loads(response.body)
    assert payload == {"version": __version__, "specVersion": SPEC_API_VERSION}


async def test_info_is_refused_without_a_token(jp_fetch) -> None:
    """Without credentials jupyter-server refuses the request before the handler runs."""
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("naavre-batch-ext", "info", headers={"Authorization": ""})
    assert error.value.code == 403
