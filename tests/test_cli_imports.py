"""The CLI's everyday commands stay fast: they import neither jsonschema nor nbformat, tornado or
IPython, which together take over a second to import (``rfc3987_syntax``, pulled in by
jsonschema's format checkers through nbformat, compiles a grammar at import). The runner, the
server and ``tag`` still use them. Speed itself is measured by ``benchmarks/bench_cli.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "splitting-batches-tagged.ipynb"
HEAVY = ("jsonschema", "nbformat", "tornado", "IPython")


def modules_after(arguments: list[str], cwd: Path) -> set[str]:
    """The top-level modules loaded once ``naavre-batch ARGUMENTS`` ran, in a fresh interpreter."""
    code = (
        "import contextlib, io, json, sys\n"
        "from naavre_batch_ext.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        f"        code = main({arguments!r})\n"
        "    except SystemExit as exit_:\n"
        "        code = exit_.code\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    reply = json.loads(result.stdout.splitlines()[-1])
    assert reply["code"] == 0, result.stderr
    return {name.split(".")[0] for name in reply["modules"]}


@pytest.mark.parametrize(
    "arguments",
    [
        ["check", str(SEED)],
        ["spec", str(SEED)],
        ["export", str(SEED), "-o", "-"],
        ["--version"],
        ["--help"],
    ],
    ids=["check", "spec", "export", "version", "help"],
)
def test_everyday_commands_import_no_heavy_library(arguments: list[str], tmp_path: Path) -> None:
    assert not (modules_after(arguments, tmp_path) & set(HEAVY))


def test_the_seed_has_the_characters_that_could_look_like_magics() -> None:
    """The seed has ``!`` in a comment and ``%`` in code: valid Python that needs no IPython."""
    text = SEED.read_text(encoding="utf-8")
    assert "!" in text and "%" in text


def test_version_and_help_import_no_exporter(tmp_path: Path) -> None:
    """The Argo exporter (PyYAML, the step scripts) loads only for ``export``."""
    for arguments in (["--version"], ["--help"], ["check", str(SEED)]):
        assert "yaml" not in modules_after(arguments, tmp_path), arguments


def test_a_notebook_with_magics_still_loads_ipython_for_them(tmp_path: Path) -> None:
    """Where a cell needs IPython's transformers (``%time``, ``!ls``) the analysis uses them."""
    text = (NOTEBOOKS / "splitting-batches-tagged.ipynb").read_text(encoding="utf-8")
    nb = json.loads(text)
    nb["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "source": "%time x = 1",
            "outputs": [],
            "execution_count": None,
        }
    )
    path = tmp_path / "magic.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert "IPython" in modules_after(["check", str(path)], tmp_path)
