"""The console script is installed and reports the package version."""

from __future__ import annotations

import subprocess
import sys

from naavre_batch_ext import __version__
from naavre_batch_ext.cli import main


def test_version_flag_prints_the_package_version(capsys) -> None:
    """``naavre-batch --version`` prints the installed package version and exits 0."""
    try:
        main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert __version__ in capsys.readouterr().out


def test_console_script_runs_as_a_module() -> None:
    """``python -m naavre_batch_ext --help`` lists the command, so the entry point is wired."""
    result = subprocess.run(
        [sys.executable, "-m", "naavre_batch_ext", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "naavre-batch" in result.stdout
