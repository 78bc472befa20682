"""Running R from the tests: snippets evaluated with the R step runtime loaded, as ``.naavre``.

Import with ``from r_helpers import ...``. Every R test needs ``Rscript`` (Debian's r-base-core,
which ``.ci/install`` installs); :data:`needs_r` skips a module cleanly where it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import r_notebook, section_tags
from nbformat import NotebookNode

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


FAILING_R_ERROR = "item 5 is bad"
"""What the processor of :func:`failing_r_notebook` stops with."""


def failing_r_notebook() -> NotebookNode:
    """An R notebook whose processor (cell 2) fails on its batch 2 of 3 (items 5 and 6 of
    ``items <- 1:6``), after printing the batch's items; a parameter ``param_offset`` (default
    10) and a header value ``scale``. The notebook of the R debug tests, local and cluster."""
    return r_notebook(
        "param_offset <- 10L\nscale <- 3L",
        "items <- 1:6",
        'cat("batch items:", items, "\\n")\nout <- items * scale + param_offset\n'
        f"if (5L %in% items) stop('{FAILING_R_ERROR}')\n",
        "print(out)",
        tags=section_tags(1, batch_count="3"),
    )
