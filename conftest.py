"""Root conftest: pytest-jupyter's server fixtures must be registered here (not in tests/)."""

pytest_plugins = ("pytest_jupyter.jupyter_server",)
