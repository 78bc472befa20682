"""``naavre-batch run`` starts its notebook-context kernel over IPC (Unix sockets in a private
temporary folder), so ipykernel's "Kernel is running over TCP without encryption" warning never
lands in the run's output; nothing is filtered, so whatever else the kernel writes still shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import code_notebook, section_tags, write_tmp

ROOT = Path(__file__).resolve().parents[1]


def test_run_shows_no_tcp_warning_and_keeps_the_kernels_own_stderr(tmp_path: Path) -> None:
    nb = code_notebook(
        "import os\nos.write(2, b'kernel-stderr-marker\\n')\nitems = [1, 2, 3]",
        "doubled = [i * 2 for i in items]",
        "total = sum(doubled)",
        tags=section_tags(0),
    )
    notebook = write_tmp(nb, tmp_path, "nb.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "naavre_batch_ext", "run", str(notebook), "--context", "notebook"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "without encryption" not in result.stderr
    assert "kernel-stderr-marker" in result.stderr  # the kernel's stderr is not hidden
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]  # no socket files left
