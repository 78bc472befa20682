"""Server configuration for the Galata tests (started by Playwright's webServer)."""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

# The free port playwright.config.js picked (Galata's default, 8888, is where a user's own
# JupyterLab runs); port_retries stays 0, so a taken port fails instead of moving elsewhere.
c.ServerApp.port = int(os.environ.get("NAAVRE_UI_TESTS_PORT", "8888"))  # noqa: F821

# Tests run as root on CI machines; JupyterLab refuses that without this.
c.ServerApp.allow_root = True  # noqa: F821
c.FileContentsManager.delete_to_trash = False  # noqa: F821

# A fake Argo server (tests/argo_fake.py) for ui-tests/tests/cluster.spec.ts: the panel's "Run on
# cluster" talks to it through the server extension, as it would to a real one (docs/cluster.md).
# NAAVRE_UI_TESTS_FAKE_ARGO=0 leaves it out (tests/test_ui_tests_config.py reads this file).
import atexit  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

if os.environ.get("NAAVRE_UI_TESTS_FAKE_ARGO", "1") != "0":
    _repo = Path(__file__).resolve().parent.parent
    with socket.socket() as _s:
        _s.bind(("127.0.0.1", 0))
        _port = _s.getsockname()[1]
    _token = "galata-fake-argo-token"
    _fake = subprocess.Popen(
        [sys.executable, str(_repo / "tests" / "argo_fake.py"), str(_port), _token],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(_repo), str(_repo / "tests")]),
            # item 13 of ui-tests/notebooks/splitting-batches-broken.ipynb fails until a retry
            "ARGO_FAKE_POD_ENV": '{"SEED_BROKEN_ITEM": "13"}',
        },
    )
    atexit.register(_fake.terminate)
    os.environ.update(
        ARGO_SERVER=f"http://127.0.0.1:{_port}", ARGO_NAMESPACE="naavre", ARGO_TOKEN=_token
    )
# the server extension, also when the package is on PYTHONPATH rather than pip-installed
c.ServerApp.jpserver_extensions = {"naavre_batch_ext": True}  # noqa: F821
