"""Settings of the server extension, read from jupyter-server's configuration.

A traitlets ``Configurable`` created with the server app as parent, so the usual config files and
command line work: ``c.NaavreBatch.max_body_size = 10 * 1024 * 1024`` in
``jupyter_server_config.py`` or ``--NaavreBatch.max_concurrent_runs=4``. No tornado import: the run
manager and tests use these values without a server.
"""

from __future__ import annotations

from traitlets import Int, Unicode
from traitlets.config import Configurable

__all__ = ["NaavreBatch"]


class NaavreBatch(Configurable):
    """Limits of the REST API (``/naavre-batch-ext/``); defaults suit a single-user server."""

    max_body_size = Int(
        50 * 1024 * 1024,
        min=1,
        help="Largest request body in bytes (a notebook with its outputs sent as unsaved content); "
        "larger requests get 413. Default 50 MB.",
    ).tag(config=True)

    max_concurrent_runs = Int(
        2,
        min=1,
        help="Runs (POST runs) that may go on at the same time; one more gets 429. Each run starts "
        "a kernel and/or one process per batch, so this protects the machine. Default 2.",
    ).tag(config=True)

    max_kept_runs = Int(
        50,
        min=1,
        help="Finished runs kept in memory for GET runs (oldest forgotten first); the run folders "
        "on disk are never deleted. Default 50.",
    ).tag(config=True)

    run_parallelism = Int(
        0,
        min=0,
        help="Processor instances a workflow-context run starts at a time; 0 means the CPU count "
        "(the runner's default).",
    ).tag(config=True)

    runs_dir = Unicode(
        "",
        help="Folder that keeps the workflow-context run folders (<runs_dir>/<run id>/) of every "
        "notebook, instead of .naavre-batch/runs beside each notebook inside the server root. "
        "Runs then write only there (it is created when missing). Empty (the default): beside "
        "the notebook, and every folder a run creates must resolve inside the server root.",
    ).tag(config=True)
