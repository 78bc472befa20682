"""REST handlers: parse the request, call the core, serialise the answer; nothing else lives here."""

from __future__ import annotations

from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from . import SPEC_API_VERSION, __version__

NAMESPACE = "naavre-batch-ext"


class InfoHandler(APIHandler):
    """``GET /naavre-batch-ext/info``: which package and spec version this server speaks."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.finish({"version": __version__, "specVersion": SPEC_API_VERSION})


def setup_handlers(server_app: Any) -> None:
    """Mount every handler under ``<base_url>/naavre-batch-ext/``."""
    web_app = server_app.web_app
    base_url = web_app.settings["base_url"]
    route = lambda name: url_path_join(base_url, NAMESPACE, name)  # noqa: E731
    web_app.add_handlers(".*$", [(route("info"), InfoHandler)])
