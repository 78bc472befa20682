"""Shared fixtures: the example notebooks and a server with the extension enabled."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argo_fake import FakeArgo, FakeThread
from helpers import (
    BROKEN_ITEM_VARIABLE,
    SEED,
    SHARED_RUNS_ENV,
    tagged_seed_notebook,
    write_tmp,
)


def pytest_configure(config: pytest.Config) -> None:
    """In the controller (before pytest-xdist starts its workers, which inherit the environment):
    the folder where helpers.reference_runs leaves each notebook's runs for every process."""
    if not hasattr(config, "workerinput") and SHARED_RUNS_ENV not in os.environ:
        folder = tempfile.mkdtemp(prefix="naavre-shared-runs-")
        os.environ[SHARED_RUNS_ENV] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        config.add_cleanup(lambda: os.environ.pop(SHARED_RUNS_ENV, None))


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    """Enable the server extension and refuse unauthenticated requests, as a real server does."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"naavre_batch_ext": True},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def seed_path() -> Path:
    """The seed notebook of the project, untagged, as the source document ships it."""
    return SEED


@pytest.fixture
def seed(jp_root_dir: Path) -> str:
    """For REST API tests: the tagged seed notebook saved at the server root; its API path.

    (test_export_cli.py has its own ``seed``: a file in ``tmp_path``, for the CLI.)
    """
    write_tmp(tagged_seed_notebook(), jp_root_dir, "seed.ipynb")
    return "seed.ipynb"


@pytest.fixture(autouse=True)
def _own_jupyter_config_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """No test reads the developer's own JupyterLab settings (``naavre-batch export`` does)."""
    config = tmp_path_factory.mktemp("jupyter-config")
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config))
    return config


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeThread]:
    """The fake Argo server of tests/argo_fake.py, on its own thread; its pods run in
    ``tmp_path/argo``, and the item ``13`` of helpers.seed_with_a_broken_item fails in them
    (``FakeArgo.pod_env``; other notebooks do not read it)."""
    server = FakeThread(FakeArgo(pod_env={BROKEN_ITEM_VARIABLE: "13"}, root=tmp_path / "argo"))
    yield server
    server.close()


@pytest.fixture
def argo_env(monkeypatch: pytest.MonkeyPatch, fake: FakeThread) -> FakeThread:
    """The argo CLI's variables pointing at the fake server (namespace ``naavre``)."""
    monkeypatch.setenv("ARGO_SERVER", fake.url)
    monkeypatch.setenv("ARGO_NAMESPACE", "naavre")
    monkeypatch.setenv("ARGO_TOKEN", fake.fake.token)
    monkeypatch.delenv("ARGO_INSECURE_SKIP_VERIFY", raising=False)
    monkeypatch.delenv("ARGO_BASE_HREF", raising=False)
    return fake
