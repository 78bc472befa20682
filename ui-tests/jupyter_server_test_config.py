"""Server configuration for the Galata tests (started by Playwright's webServer)."""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

# Tests run as root on CI machines; JupyterLab refuses that without this.
c.ServerApp.allow_root = True  # noqa: F821
c.FileContentsManager.delete_to_trash = False  # noqa: F821
