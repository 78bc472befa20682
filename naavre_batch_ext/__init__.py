"""naavre-batch-ext: run the slow middle of a notebook as a split/merge batch workflow.

The package is both a JupyterLab prebuilt extension (front-end in ``labextension/``) and a
jupyter-server extension (REST API in :mod:`naavre_batch_ext.handlers`). The analysis core
(:mod:`~naavre_batch_ext.tags`, :mod:`~naavre_batch_ext.analysis`, :mod:`~naavre_batch_ext.spec`, ...)
imports neither tornado nor JupyterLab, so the CLI and CI pipelines use it headless.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

SPEC_API_VERSION = "naavre-batch/v1"
"""The version of the workflow spec this package produces (``apiVersion`` in the spec)."""

__all__ = ["SPEC_API_VERSION", "__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Tell JupyterLab where the prebuilt front-end lives."""
    return [{"src": "labextension", "dest": "naavre-batch-ext"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Tell jupyter-server which module loads the server extension."""
    return [{"module": "naavre_batch_ext"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the REST handlers; imported lazily so the core stays free of tornado."""
    from .handlers import setup_handlers

    setup_handlers(server_app)
    server_app.log.info("naavre_batch_ext %s: server extension loaded", __version__)
