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
