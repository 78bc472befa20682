"""``naavre-batch check|spec|tag``: output format, exit codes, no tracebacks, files kept intact."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from helpers import (
    NOTEBOOKS,
    SEED,
    SEED_TAGS,
    code_notebook,
    section_tags,
    tagged_seed_notebook,
    write_tmp,
)

from naavre_batch_ext.cli import main
from naavre_batch_ext.core.notebook import MAX_CELLS
from naavre_batch_ext.core.spec import validate_spec


def copy_seed(tmp_path: Path) -> Path:
    path = tmp_path / "seed.ipynb"
    shutil.copyfile(SEED, path)
    path.chmod(0o644)
    return path


def test_check_clean_seed_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path)
    assert main(["check", str(path)]) == 0
    assert "0 errors" in capsys.readouterr().out


def test_check_prints_located_error_with_hint_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = code_notebook(
        "xs = [1]",
        "ys = [x for x in xs]\nzs = ys + missing",
        "print(zs)",
        tags=section_tags(),
    )
    path = write_tmp(nb, tmp_path)
    assert main(["check", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == f"{path}:cell 1:2:11: error: name 'missing' is used but no earlier step or header provides it"
    )
    assert lines[1].startswith("    hint: ")


def test_check_warning_only_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = code_notebook(
        "xs = [1]\n!ls",
        "ys = list(xs)",
        "print(ys)",
        tags=section_tags(),
    )
    path = write_tmp(nb, tmp_path)
    assert main(["check", str(path)]) == 0
    assert ":cell 0:2:1: warning: shell escape" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1}', "not a notebook"),
        ('{"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}', "upgrade it"),
        ("[1, 2]", "not a notebook"),
    ],
)
def test_check_bad_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"naavre-batch: error: {path}: ")  # which file, named once
    assert err.count(str(path)) == 1


def test_check_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.ipynb")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_check_kernel_neither_python_nor_r_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = code_notebook("x = 1")
    nb.metadata["kernelspec"] = {"name": "julia-1.10", "display_name": "Julia", "language": "julia"}
    assert main(["check", str(write_tmp(nb, tmp_path))]) == 2
    assert "kernel is julia, not Python or R" in capsys.readouterr().err


def test_check_huge_notebook_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = code_notebook(*["x = 1"] * (MAX_CELLS + 1))
    assert main(["check", str(write_tmp(nb, tmp_path))]) == 2
    assert "limit" in capsys.readouterr().err


NOT_REGULAR_COMMANDS = [
    ["check"],
    ["spec"],
    ["run", "--context", "workflow"],
    ["export"],
    ["tag", "--cell", "0", "--role", "splitter"],
]


def _limited_memory() -> None:
    """2 GiB of address space for the child: reading /dev/zero into memory, as before, ends in a
    MemoryError instead of taking the shared machine's memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


@pytest.mark.parametrize("command", NOT_REGULAR_COMMANDS, ids=lambda c: c[0])
def test_a_device_file_is_refused_at_once_not_read_forever(command: list[str]) -> None:
    """``naavre-batch check /dev/zero`` never ended (issue 22, item 11). A child process, so that
    a hang fails the test by its timeout instead of hanging the suite."""
    import subprocess
    import sys

    import naavre_batch_ext

    args = [sys.executable, "-m", "naavre_batch_ext", command[0], "/dev/zero", *command[1:]]
    root = str(Path(naavre_batch_ext.__file__).parent.parent)
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": root},
        preexec_fn=_limited_memory,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "/dev/zero is not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_notebook_over_the_configured_size_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit (100 MiB) is changed with NAAVRE_BATCH_MAX_NOTEBOOK_BYTES (docs/running.md)."""
    path = write_tmp(tagged_seed_notebook(), tmp_path)
    assert main(["check", str(path)]) == 0
    monkeypatch.setenv("NAAVRE_BATCH_MAX_NOTEBOOK_BYTES", "1000")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "over the limit of 1000 bytes" in err and "NAAVRE_BATCH_MAX_NOTEBOOK_BYTES" in err


def test_spec_prints_a_valid_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path)
    assert main(["spec", str(path)]) == 0
    spec = json.loads(capsys.readouterr().out)
    validate_spec(spec)
    assert [s["id"] for s in spec["steps"]] == [
        "gen-batches",
        "process-batches",
        "retrieve-batches",
    ]


def test_spec_writes_output_file(tmp_path: Path) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path)
    out = tmp_path / "spec.json"
    assert main(["spec", str(path), "-o", str(out)]) == 0
    validate_spec(json.loads(out.read_text()))


def test_spec_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path)
    out = tmp_path / "spec.json"
    out.write_text("mine")
    assert main(["spec", str(path), "-o", str(out)]) == 2
    assert out.read_text() == "mine" and "--force" in capsys.readouterr().err


def test_spec_overwrites_with_force(tmp_path: Path) -> None:
    path = write_tmp(tagged_seed_notebook(), tmp_path)
    out = tmp_path / "spec.json"
    out.write_text("mine")
    assert main(["spec", str(path), "-o", str(out), "--force"]) == 0
    assert json.loads(out.read_text())["apiVersion"] == "naavre-batch/v1"


def test_tag_round_trip_changes_nothing_but_the_tags(tmp_path: Path) -> None:
    path = copy_seed(tmp_path)
    before = json.loads(path.read_text())
    for index, tags in SEED_TAGS.items():
        args = ["tag", str(path), "--cell", str(index), "--role", tags[0].split(":")[1]]
        args += ["--batch-count", tags[1].split(":")[2]] if len(tags) > 1 else []
        assert main(args) == 0
    after = json.loads(path.read_text())
    for index, tags in SEED_TAGS.items():
        assert after["cells"][index]["metadata"].pop("tags") == tags
    assert after == before


def test_tag_then_untag_leaves_an_empty_tags_list(tmp_path: Path) -> None:
    path = copy_seed(tmp_path)
    original = path.read_bytes()
    assert main(["tag", str(path), "--cell", "6", "--role", "processor"]) == 0
    assert path.read_bytes() != original
    assert main(["tag", str(path), "--cell", "6", "--role", "none"]) == 0
    # The cell had no tags key before; removing the role leaves an empty list, which Jupyter keeps.
    data = json.loads(path.read_text())
    assert data["cells"][6]["metadata"] == {"tags": []}


def test_tag_keeps_other_tags_and_metadata(tmp_path: Path) -> None:
    nb = code_notebook("x = [1]")
    nb.cells[0].metadata.update(
        {"tags": ["keep", "naavre:merger"], "collapsed": True, "custom": {"a": 1}}
    )
    path = write_tmp(nb, tmp_path)
    assert (
        main(
            [
                "tag",
                str(path),
                "--cell",
                "0",
                "--role",
                "splitter",
                "--batch-count",
                "3",
                "--split",
                "x",
            ]
        )
        == 0
    )
    meta = nbformat.read(str(path), as_version=4).cells[0].metadata
    assert meta == {
        "tags": ["keep", "naavre:splitter", "naavre:batch-count:3", "naavre:split:x"],
        "collapsed": True,
        "custom": {"a": 1},
    }


def test_tagged_seed_via_cli_matches_the_committed_tagged_copy(tmp_path: Path) -> None:
    path = copy_seed(tmp_path)
    for index, tags in SEED_TAGS.items():
        args = ["tag", str(path), "--cell", str(index), "--role", tags[0].split(":")[1]]
        args += ["--batch-count", tags[1].split(":")[2]] if len(tags) > 1 else []
        main(args)
    assert path.read_bytes() == (NOTEBOOKS / "splitting-batches-tagged.ipynb").read_bytes()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--cell", "99", "--role", "processor"], "no cell 99"),
        (["--cell", "0", "--role", "processor"], "markdown cell"),
        (["--cell", "6", "--role", "processor", "--batch-count", "3"], "only apply to a splitter"),
        (["--cell", "4", "--role", "splitter", "--batch-count", "0"], "integer >= 1"),
    ],
)
def test_tag_rejects_bad_requests_and_leaves_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    path = copy_seed(tmp_path)
    original = path.read_bytes()
    assert main(["tag", str(path), *args]) == 2
    assert expected in capsys.readouterr().err and path.read_bytes() == original


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("source", 5, "cell 0: 'source' is not text"),
        ("source", ["x = 1\n", 3], "cell 0: 'source' is not text"),
        ("metadata", [], "cell 0: 'metadata' is not an object"),
        ("tags", "naavre:splitter", "cell 0: 'metadata.tags' is not a list of strings"),
        ("tags", ["naavre:splitter", 5], "cell 0: 'metadata.tags' is not a list of strings"),
    ],
)
def test_malformed_cell_field_is_a_located_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object, expected: str
) -> None:
    data = json.loads(nbformat.writes(code_notebook("x = 1")))
    if field == "tags":
        data["cells"][0]["metadata"]["tags"] = value
    else:
        data["cells"][0][field] = value
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps(data))
    for command in (["check", str(path)], ["tag", str(path), "--cell", "0", "--role", "none"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err


def test_tag_splitter_without_batch_count_saves_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_seed(tmp_path)
    assert main(["tag", str(path), "--cell", "4", "--role", "splitter"]) == 0
    assert nbformat.read(path, 4).cells[4].metadata["tags"] == ["naavre:splitter"]
    err = capsys.readouterr().err
    assert f"{path}:cell 4: error: splitter has no batch count" in err
    assert "naavre:batch-count:" in err


def test_tag_on_a_notebook_without_cells_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(code_notebook(), tmp_path)
    assert main(["tag", str(path), "--cell", "0", "--role", "merger"]) == 2
    err = capsys.readouterr().err
    assert "no cell 0: the notebook has no cells" in err and "-1" not in err


def test_tag_on_a_markdown_cell_lists_the_code_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_seed(tmp_path)
    assert main(["tag", str(path), "--cell", "0", "--role", "merger"]) == 2
    assert "its code cells are 2, 4, 6, 8" in capsys.readouterr().err
