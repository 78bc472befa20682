"""The README's two commands and the Develop section work as written on a fresh Debian machine:
command 1 makes and uses a virtual environment (Debian's Python refuses ``pip install`` outside one,
PEP 668), the current ``jupyter-builder develop`` replaces the deprecated ``jupyter labextension
develop``, the silent TypeScript build's duration is said, and the Argo line says where to get the
``argo`` CLI and a cluster."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_INSTALL = (ROOT / ".ci" / "install").read_text(encoding="utf-8")
ARGO_DOC = (ROOT / "docs" / "argo.md").read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """The Markdown section under the ``## title`` heading, up to the next ``## ``."""
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 3)
    return text[start : end if end != -1 else len(text)]


def command_lines(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def setup_commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", section(README, "Set-up: two commands"), re.S)
    return [command_lines(block) for block in blocks]


def test_command_1_is_one_line_that_makes_and_uses_a_virtual_environment() -> None:
    [one], [two] = setup_commands()
    steps = [step.strip() for step in one.split("&&")]
    assert steps[:3] == ["python3 -m venv .venv", ". .venv/bin/activate", "pip install -e ."]
    assert steps[3].startswith("jupyter lab ")
    assert two.startswith(". .venv/bin/activate && ")  # the second terminal needs it too
    assert "externally-managed-environment" in section(README, "Set-up: two commands")


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs Debian's python3")
def test_the_virtual_environment_part_of_command_1_works_with_debians_python(
    tmp_path: Path,
) -> None:
    """Run the line up to ``pip install`` with ``/usr/bin/python3``: pip then runs in .venv."""
    [one], _ = setup_commands()
    prefix = one.split("&& pip install")[0]
    result = subprocess.run(
        ["bash", "-c", f"{prefix} && python -c 'import sys; print(sys.prefix)' && pip --version"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    prefix_line, pip_line = result.stdout.splitlines()[-2:]
    assert Path(prefix_line) == tmp_path / ".venv"
    assert str(tmp_path / ".venv") in pip_line


def test_the_deprecated_labextension_develop_is_gone_for_jupyter_builder() -> None:
    for text in (README, CI_INSTALL):
        assert "labextension develop" not in text
        assert "jupyter-builder develop --overwrite ." in text


def test_jupyter_builder_develop_exists_where_the_package_is_installed() -> None:
    builder = Path(sys.executable).with_name("jupyter-builder")
    command = str(builder) if builder.exists() else shutil.which("jupyter-builder")
    assert command, "jupyter-builder is not installed (pip install -e '.[test]' installs it)"
    result = subprocess.run(
        [command, "develop", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0 and "--overwrite" in result.stdout
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    test_extra = pyproject.split("\ntest = [", 1)[1].split("]", 1)[0]
    assert '"jupyter-builder>=1.0"' in test_extra


def test_the_readme_says_the_install_is_silent_for_about_two_and_a_half_minutes() -> None:
    setup = section(README, "Set-up: two commands")
    assert "2.5 minutes" in setup and "pip install -v -e ." in setup
    assert "2.5 minutes" in section(README, "Develop")
    assert "2.5 min" in CI_INSTALL


def test_the_argo_line_links_to_how_to_get_the_argo_cli_a_cluster_and_kubectl_create() -> None:
    cli = section(README, "The CLI")
    assert "argo submit" in cli
    assert "(docs/argo.md#getting-the-argo-cli-and-a-cluster)" in cli
    assert "\n### Getting the `argo` CLI and a cluster\n" in ARGO_DOC  # GitHub's anchor for it
    kubectl = section(ARGO_DOC, "The seed example, end to end")
    assert "kubectl create -n argo -f splitting-batches.argo.yaml" in kubectl
    assert "quick-start-minimal.yaml" in kubectl and "releases" in kubectl
