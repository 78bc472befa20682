"""Running R from the tests: snippets evaluated with the R step runtime loaded, as ``.naavre``.

Import with ``from r_helpers import ...``. Every R test needs ``Rscript`` (Debian's r-base-core,
which ``.ci/install`` installs); :data:`needs_r` skips a module cleanly where it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from naavre_batch_ext.steps import r_scripts

needs_r = pytest.mark.skipif(shutil.which("Rscript") is None, reason="R (Rscript) is not installed")
"""Skip a test (or a module, as ``pytestmark``) where R is not installed."""

R_NOTEBOOKS = Path(__file__).parent / "notebooks" / "r"


def run_r(code: str, tmp_path: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh ``Rscript`` with the step runtime loaded as ``.naavre`` (exactly as
    a step script loads it); the completed process, stdout and stderr as text."""
    script = tmp_path / "snippet.R"
    script.write_text(r_scripts.tool_script(code), encoding="utf-8")
    done = subprocess.run(
        [r_scripts.rscript(), str(script)], capture_output=True, text=True, timeout=120
    )
    if check and done.returncode != 0:
        raise AssertionError(f"R failed ({done.returncode}):\n{done.stderr}")
    return done
