"""naavre-batch-ext: run the slow middle of a notebook as a split/merge batch workflow.

The package is both a JupyterLab prebuilt extension (front-end in ``labextension/``) and a
jupyter-server extension (REST API in :mod:`naavre_batch_ext.handlers`). The analysis core
(:mod:`~naavre_batch_ext.core.tags`, :mod:`~naavre_batch_ext.core.analysis`, :mod:`~naavre_batch_ext.core.spec`, ...)
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
    """Create the extension's objects once, register the REST handlers, and make the server's
    shutdown cancel the runs still going. Imported lazily so the core stays free of tornado."""
    from concurrent.futures import ThreadPoolExecutor

    from .config import NaavreBatch
    from .handlers import SETTINGS_CONFIG, SETTINGS_EXECUTOR, SETTINGS_RUNS, setup_handlers
    from .runs import RunManager

    config = NaavreBatch(parent=server_app)
    runs = RunManager(
        max_concurrent=config.max_concurrent_runs,
        max_kept=config.max_kept_runs,
        parallelism=config.run_parallelism or None,
        root=getattr(server_app.contents_manager, "root_dir", None),
        log=server_app.log,
    )
    # Analyses of large notebooks take a fraction of a second: off the event loop, two at a time.
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="naavre-batch-analysis")
    server_app.web_app.settings.update(
        {SETTINGS_CONFIG: config, SETTINGS_RUNS: runs, SETTINGS_EXECUTOR: executor}
    )
    setup_handlers(server_app)
    _on_server_stop(
        server_app, runs.shutdown, lambda: executor.shutdown(wait=False, cancel_futures=True)
    )
    server_app.log.info("naavre_batch_ext %s: server extension loaded", __version__)


def _on_server_stop(server_app: Any, *callbacks: Any) -> None:
    """Run blocking ``callbacks`` (in a worker thread) when the server cleans up its extensions.

    jupyter-server calls ``stop_extension`` only on ``ExtensionApp`` extensions; a function-style
    extension has no stop hook, so this chains onto the server app's own ``cleanup_extensions``
    (which ``ServerApp._cleanup`` awaits on Ctrl-C, SIGTERM, the shutdown API and in tests).
    """
    import asyncio

    original = server_app.cleanup_extensions

    async def cleanup_extensions() -> None:
        loop = asyncio.get_running_loop()
        for callback in callbacks:
            try:
                await loop.run_in_executor(None, callback)
            except Exception:  # never keep the server from stopping
                server_app.log.exception("naavre_batch_ext: cleanup failed")
        await original()

    server_app.cleanup_extensions = cleanup_extensions
