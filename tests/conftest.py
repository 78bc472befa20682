"""Shared fixtures: the example notebooks and a server with the extension enabled."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).parent / "notebooks"
SEED = NOTEBOOKS / "splitting-batches.ipynb"


@pytest.fixture
def jp_server_config(jp_server_config):  # type: ignore[no-untyped-def]
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
