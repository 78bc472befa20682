"""``naavre-batch export``: files beside the notebook, never clobbered, errors and warnings."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import pytest
import yaml
from helpers import NOTEBOOKS, code_notebook, section_tags, tagged_seed_notebook, write_tmp

from naavre_batch_ext.cli import main
from naavre_batch_ext.core.spec import build_spec, dumps_spec, spec_for_path
from naavre_batch_ext.exporters.argo import DEFAULT_IMAGE
from naavre_batch_ext.exporters.export import (
    ExportExistsError,
    default_output_path,
    render_export,
    write_export,
)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """The tagged seed notebook as a file in a fresh folder."""
    return write_tmp(tagged_seed_notebook(), tmp_path, "splitting-batches.ipynb")


def test_export_writes_argo_yaml_beside_the_notebook(
    seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(seed)]) == 0
    target = seed.with_name("splitting-batches.argo.yaml")
    doc = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert doc["kind"] == "Workflow" and doc["metadata"]["generateName"] == "splitting-batches-"
    out = capsys.readouterr().out
    assert str(target) in out and "argo submit" in out


def test_the_submit_hint_quotes_a_file_name_with_spaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The printed command is pasted into a shell: ``argo submit my file.argo.yaml`` would give
    argo two file names."""
    notebook = write_tmp(tagged_seed_notebook(), tmp_path, "my notebook.ipynb")
    assert main(["export", str(notebook)]) == 0
    command = capsys.readouterr().out.split("submit it with: ", 1)[1].strip()
    target = notebook.with_name("my notebook.argo.yaml")
    assert shlex.split(command) == ["argo", "submit", str(target), "--watch"]


def test_the_submit_hint_for_a_name_starting_with_a_dash_is_not_an_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``naavre-batch export -- -dash.ipynb`` in its folder: ``argo submit -dash.argo.yaml``
    would be read as options (issue 22, item 12), so the hint says ``./-dash.argo.yaml``."""
    write_tmp(tagged_seed_notebook(), tmp_path, "-dash.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--", "-dash.ipynb"]) == 0
    command = capsys.readouterr().out.split("submit it with: ", 1)[1].strip()
    assert shlex.split(command) == ["argo", "submit", "./-dash.argo.yaml", "--watch"]
    assert (tmp_path / "-dash.argo.yaml").is_file()


def test_export_json_writes_the_spec(seed: Path) -> None:
    assert main(["export", str(seed), "--format", "json"]) == 0
    written = seed.with_name("splitting-batches.workflow.json").read_text(encoding="utf-8")
    assert written == dumps_spec(spec_for_path(seed))


def test_export_to_a_chosen_file(seed: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "wf.yaml"
    target.parent.mkdir()
    assert main(["export", str(seed), "-o", str(target)]) == 0
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["kind"] == "Workflow"
    assert not seed.with_name("splitting-batches.argo.yaml").exists()


def test_export_to_stdout(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(seed), "-o", "-"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["kind"] == "Workflow"
    assert not seed.with_name("splitting-batches.argo.yaml").exists()


def test_export_never_overwrites_without_force(
    seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = seed.with_name("splitting-batches.argo.yaml")
    target.write_text("my own notes\n", encoding="utf-8")
    assert main(["export", str(seed)]) == 1
    assert target.read_text(encoding="utf-8") == "my own notes\n"
    err = capsys.readouterr().err
    assert f"{target} exists" in err and "--force" in err


def test_export_force_overwrites(seed: Path) -> None:
    target = seed.with_name("splitting-batches.argo.yaml")
    target.write_text("old\n", encoding="utf-8")
    assert main(["export", str(seed), "--force"]) == 0
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["kind"] == "Workflow"


@pytest.mark.parametrize("command", ["export", "spec"])
def test_force_never_writes_over_the_notebook_itself(
    seed: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    before = seed.read_bytes()
    assert main([command, str(seed), "-o", str(seed), "--force"]) == 2
    assert seed.read_bytes() == before
    err = capsys.readouterr().err
    assert "is the notebook being exported" in err and "Traceback" not in err


def test_export_into_a_folder_is_refused_even_with_force(
    seed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["export", str(seed), "-o", str(folder), "--force"]) == 2
    assert folder.is_dir() and not any(folder.iterdir())
    assert f"{folder} is a folder" in capsys.readouterr().err


def test_export_passes_options_through(seed: Path) -> None:
    args = [
        "export", str(seed), "--image", "base:1", "--image-processor", "gpu:2", "--parallelism", "3",
        "--retries", "2", "--namespace", "ns", "--service-account", "sa", "--cpu", "250m",
        "--memory", "512Mi",
    ]  # fmt: skip
    assert main(args) == 0
    doc = yaml.safe_load(seed.with_name("splitting-batches.argo.yaml").read_text(encoding="utf-8"))
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    assert templates["process-batches"]["script"]["image"] == "gpu:2"
    assert templates["gen-batches"]["script"]["image"] == "base:1"
    assert templates["process-batches"]["retryStrategy"]["limit"] == "2"
    assert templates["gen-batches"]["script"]["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"}
    }
    assert doc["spec"]["parallelism"] == 3 and doc["spec"]["serviceAccountName"] == "sa"
    assert doc["metadata"]["namespace"] == "ns"


def test_export_without_options_uses_the_documented_image(seed: Path) -> None:
    assert main(["export", str(seed)]) == 0
    doc = yaml.safe_load(seed.with_name("splitting-batches.argo.yaml").read_text(encoding="utf-8"))
    images = {t["script"]["image"] for t in doc["spec"]["templates"] if "script" in t}
    assert images == {DEFAULT_IMAGE}


def test_export_refuses_bad_options(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(seed), "--parallelism", "0"]) == 2
    assert "parallelism" in capsys.readouterr().err
    assert not seed.with_name("splitting-batches.argo.yaml").exists()


def test_export_with_analysis_errors_prints_them_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = code_notebook(
        "items = list(range(3))",
        "out = [missing_name for x in items]",
        "print(out)",
        tags=section_tags(),
    )
    path = write_tmp(nb, tmp_path, "broken.ipynb")
    for fmt in ("argo", "json"):
        assert main(["export", str(path), "--format", fmt]) == 1
        err = capsys.readouterr().err
        assert (
            f"{path}:cell 1:1:" in err and "missing_name" in err and "nothing was exported" in err
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.ipynb"]


def test_export_of_an_untagged_notebook_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain.ipynb"
    path.write_bytes((NOTEBOOKS / "splitting-batches.ipynb").read_bytes())
    assert main(["export", str(path)]) == 1
    assert "tag cells" in capsys.readouterr().err
    assert not path.with_name("plain.argo.yaml").exists()


def test_export_of_a_file_that_is_not_a_notebook_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.ipynb"
    path.write_text("not json", encoding="utf-8")
    assert main(["export", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("naavre-batch: error:") and "Traceback" not in err


def test_export_warns_about_third_party_imports_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = code_notebook(
        "import numpy",
        "items = list(range(4))",
        "out = [x + 1 for x in items]",
        "print(out)",
        tags=section_tags(1),
    )
    path = write_tmp(nb, tmp_path, "np.ipynb")
    assert main(["export", str(path)]) == 0
    captured = capsys.readouterr()
    assert "warning: the steps import numpy" in captured.err and "--image" in captured.err
    assert "numpy" not in captured.out


# -- export module ------------------------------------------------------------------------------


def test_default_output_paths() -> None:
    assert default_output_path("work/a.b.ipynb", "argo") == Path("work/a.b.argo.yaml")
    assert default_output_path("a.ipynb", "json") == Path("a.workflow.json")
    with pytest.raises(ValueError, match="format"):
        default_output_path("a.ipynb", "xml")


def test_render_export_dispatches_on_format() -> None:
    spec = build_spec(tagged_seed_notebook(), "s.ipynb")
    assert render_export(spec, "json") == dumps_spec(spec)
    assert yaml.safe_load(render_export(spec, "argo"))["kind"] == "Workflow"
    with pytest.raises(ValueError, match="format"):
        render_export(spec, "xml")


def test_write_export_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "x.yaml"
    target.write_text("keep", encoding="utf-8")
    with pytest.raises(ExportExistsError) as info:
        write_export(target, "new")
    assert "--force" in info.value.hint
    assert target.read_text(encoding="utf-8") == "keep"


def test_write_export_force_replaces_and_keeps_the_file_mode(tmp_path: Path) -> None:
    target = tmp_path / "x.yaml"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o640)
    write_export(target, "new ü", force=True)
    assert target.read_text(encoding="utf-8") == "new ü"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.yaml"]  # no temporary file left
