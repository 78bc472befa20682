"""Settings of the server extension, read from jupyter-server's configuration.

A traitlets ``Configurable`` created with the server app as parent, so the usual config files and
command line work: ``c.NaavreBatch.max_body_size = 10 * 1024 * 1024`` in
``jupyter_server_config.py`` or ``--NaavreBatch.max_concurrent_runs=4``. No tornado import: the run
manager and tests use these values without a server.
"""

from __future__ import annotations

from traitlets import Bool, Float, Int, Unicode
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

    argo_server = Unicode(
        "",
        help="Argo server for 'Run on cluster' (host:port or https://host:port); empty: the "
        "ARGO_SERVER environment variable, as for the argo CLI. See docs/cluster.md.",
    ).tag(config=True)

    argo_namespace = Unicode(
        "", help="Namespace of the cluster runs; empty: ARGO_NAMESPACE, else 'argo'."
    ).tag(config=True)

    argo_token = Unicode(
        "",
        help="Token sent to the Argo server (stays on the server, never sent to the browser); "
        "empty: ARGO_TOKEN.",
    ).tag(config=True)

    argo_insecure_skip_verify = Bool(
        None,
        allow_none=True,
        help="Skip TLS certificate verification of the Argo server; None: "
        "ARGO_INSECURE_SKIP_VERIFY.",
    ).tag(config=True)

    argo_base_href = Unicode(
        "", help="Path of the Argo server behind a proxy (e.g. /argo/); empty: ARGO_BASE_HREF."
    ).tag(config=True)

    argo_timeout = Float(
        20.0, min=0.1, help="Seconds a request to the Argo server may take. Default 20."
    ).tag(config=True)

    def argo_overrides(self) -> dict[str, object]:
        """The ``argo_*`` settings as overrides of the environment (cluster.settings_from)."""
        return {
            "server": self.argo_server,
            "namespace": self.argo_namespace,
            "token": self.argo_token,
            "insecure_skip_verify": self.argo_insecure_skip_verify,
            "base_href": self.argo_base_href,
            "timeout": self.argo_timeout,
        }
