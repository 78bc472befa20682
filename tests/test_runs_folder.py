"""The runs folder (``.naavre-batch/runs`` beside the notebook, or ``--runs-dir``) is checked before
anything runs: a symbolic link out of the server root, a file in the way or a folder that cannot be
created is refused, naming the folder relative to the root, and nothing is written or run."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import api_error, tagged_seed_notebook, write_tmp

from naavre_batch_ext.cli import main
from naavre_batch_ext.engines import runner
from naavre_batch_ext.handlers import SETTINGS_CONFIG


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if either context starts: the refusal must come first."""

    def ran(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a context ran although the runs folder was refused")

    monkeypatch.setattr(runner, "run_notebook", ran)
    monkeypatch.setattr(runner, "run_workflow", ran)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*")]


# -- REST ----------------------------------------------------------------------------------------


async def test_a_runs_folder_linked_outside_the_root_is_refused_and_nothing_is_written(
    jp_fetch: Any, jp_root_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``ln -s /elsewhere sub/.naavre-batch``: spec.json, scripts and outputs would land there."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (jp_root_dir / "sub").mkdir()
    write_tmp(tagged_seed_notebook(), jp_root_dir / "sub", "seed.ipynb")
    os.symlink(elsewhere, jp_root_dir / "sub" / ".naavre-batch")
    for context in ("workflow", "both"):
        code, reply = await api_error(
            jp_fetch, "runs", {"path": "sub/seed.ipynb", "context": context}
        )
        assert code == 400 and reply["field"] == "path"
        assert "sub/.naavre-batch/runs leads outside the server root" in reply["message"]
        assert str(jp_root_dir) not in reply["message"]
    assert files_under(elsewhere) == []
    listed = await jp_fetch("naavre-batch-ext", "runs")
    assert json.loads(listed.body)["runs"] == []  # no run was started


async def test_a_file_named_naavre_batch_beside_the_notebook_is_a_400_with_a_relative_path(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    write_tmp(tagged_seed_notebook(), jp_root_dir, "seed.ipynb")
    (jp_root_dir / ".naavre-batch").write_text("not a folder", encoding="utf-8")
    code, reply = await api_error(jp_fetch, "runs", {"path": "seed.ipynb", "context": "both"})
    assert code == 400
    assert reply["message"].startswith(
        "path: cannot create the runs folder .naavre-batch/runs: .naavre-batch is a file"
    )
    assert str(jp_root_dir) not in json.dumps(reply)
    assert (jp_root_dir / ".naavre-batch").read_text(encoding="utf-8") == "not a folder"


async def test_a_configured_runs_dir_keeps_every_run_folder_there(
    jp_fetch: Any,
    jp_root_dir: Path,
    jp_serverapp: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``c.NaavreBatch.runs_dir``: the one place outside the root that runs may write to."""
    runs = tmp_path_factory.mktemp("server-runs")
    jp_serverapp.web_app.settings[SETTINGS_CONFIG].runs_dir = str(runs)
    write_tmp(tagged_seed_notebook(), jp_root_dir, "seed.ipynb")
    response = await jp_fetch(
        "naavre-batch-ext",
        "runs",
        method="POST",
        body=json.dumps({"path": "seed.ipynb", "context": "workflow"}),
    )
    run_id = json.loads(response.body)["id"]
    for _ in range(600):
        run = json.loads((await jp_fetch("naavre-batch-ext", "runs", run_id)).body)
        if run["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.1)
    assert run["status"] == "succeeded"
    assert (runs / run_id / "spec.json").is_file()
    assert not (jp_root_dir / ".naavre-batch").exists()


def test_the_runner_itself_refuses_a_folder_outside_the_root(tmp_path: Path) -> None:
    """The REST check is repeated in the run's thread (``root=``): a link made in between is
    refused too."""
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    notebook = write_tmp(tagged_seed_notebook(), root, "seed.ipynb")
    os.symlink(elsewhere, root / ".naavre-batch")
    with pytest.raises(runner.RunError, match="leads outside the server root"):
        runner.run(notebook, "workflow", root=root)
    assert files_under(elsewhere) == []


# -- CLI -----------------------------------------------------------------------------------------


def test_runs_dir_pointing_at_a_file_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_run: None
) -> None:
    notebook = write_tmp(tagged_seed_notebook(), tmp_path, "seed.ipynb")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    code = main(["run", str(notebook), "--runs-dir", str(tmp_path / "afile")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert f"cannot create the runs folder {tmp_path / 'afile'}: " in err
    assert "is a file" in err and "--runs-dir" in err


def test_runs_dir_that_cannot_be_created_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_run: None
) -> None:
    notebook = write_tmp(tagged_seed_notebook(), tmp_path, "seed.ipynb")
    code = main(["run", str(notebook), "--runs-dir", "/proc/x"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("naavre-batch: error: cannot create the runs folder /proc/x: ")


def test_a_file_named_naavre_batch_beside_the_notebook_is_refused_by_the_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_run: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_tmp(tagged_seed_notebook(), tmp_path, "seed.ipynb")
    Path(".naavre-batch").write_text("x", encoding="utf-8")
    assert main(["run", "seed.ipynb"]) == 2
    assert (
        "cannot create the runs folder .naavre-batch/runs: .naavre-batch is a file"
        in capsys.readouterr().err
    )


def test_notebook_context_alone_needs_no_runs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the workflow context keeps a run folder; a notebook-context run is not refused."""
    calls: list[str] = []
    monkeypatch.setattr(
        runner, "run_notebook", lambda *a, **k: calls.append("notebook") or {"status": "ok"}
    )
    notebook = write_tmp(tagged_seed_notebook(), tmp_path, "seed.ipynb")
    (tmp_path / ".naavre-batch").write_text("x", encoding="utf-8")
    assert runner.run(notebook, "notebook")["status"] == "ok" and calls == ["notebook"]


# -- a runs folder swapped for a link while the run goes on (issue 22, item 1) ----------------------


def waiting_notebook() -> Any:
    """A section whose processor records that it started, then waits for a ``go`` file in
    ``param_gate``: the test swaps the runs folder while the run is parked there."""
    from helpers import code_notebook, section_tags

    return code_notebook(
        "param_gate = ''",
        "items = [1, 2]",
        "import os, time\n"
        "open(os.path.join(param_gate, 'started-%d' % os.getpid()), 'w').close()\n"
        "while not os.path.exists(os.path.join(param_gate, 'go')):\n"
        "    time.sleep(0.05)\n"
        "out = [x * 2 for x in items]",
        "print(out)",
        tags=section_tags(first=1),
    )


async def _race(
    jp_fetch: Any, jp_root_dir: Path, outside: Path, gate: Path, context: str
) -> dict[str, Any]:
    """Start a run of ``sub/race.ipynb``; once a step waits at the gate, ``mv sub/.naavre-batch
    sub/.nb-old && ln -s <outside> sub/.naavre-batch`` (from a thread, as another process
    would), open the gate, and return the finished run."""
    (jp_root_dir / "sub").mkdir()
    write_tmp(waiting_notebook(), jp_root_dir / "sub", "race.ipynb")
    response = await jp_fetch(
        "naavre-batch-ext",
        "runs",
        method="POST",
        body=json.dumps(
            {"path": "sub/race.ipynb", "context": context, "parameters": {"param_gate": str(gate)}}
        ),
    )
    run_id = json.loads(response.body)["id"]

    def swap() -> None:
        for _ in range(1200):
            if any(gate.glob("started-*")):
                break
            import time

            time.sleep(0.05)
        os.rename(jp_root_dir / "sub" / ".naavre-batch", jp_root_dir / "sub" / ".nb-old")
        os.symlink(outside, jp_root_dir / "sub" / ".naavre-batch")
        (gate / "go").touch()

    await asyncio.get_running_loop().run_in_executor(None, swap)
    for _ in range(1200):
        run: dict[str, Any] = json.loads((await jp_fetch("naavre-batch-ext", "runs", run_id)).body)
        if run["status"] not in ("queued", "running"):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError("the run did not end")


async def test_a_runs_folder_swapped_for_a_link_during_the_notebook_context_gets_nothing(
    jp_fetch: Any, jp_root_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The runs folder is opened before the notebook context and kept open: the swap is seen,
    the workflow context refused, and nothing lands behind the link."""
    outside = tmp_path_factory.mktemp("outside")
    gate = tmp_path_factory.mktemp("gate")
    run = await _race(jp_fetch, jp_root_dir, outside, gate, "both")
    assert files_under(outside) == []
    assert run["status"] == "failed"
    assert "was moved or replaced" in run["errors"][0]["message"]
    assert str(jp_root_dir) not in run["errors"][0]["message"]


async def test_a_runs_folder_swapped_for_a_link_while_steps_run_keeps_every_file_inside(
    jp_fetch: Any, jp_root_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The runner and the step processes write through the open run folder (``/proc/self/fd``):
    outputs, logs, the merger and result.json all stay in the moved folder."""
    outside = tmp_path_factory.mktemp("outside")
    gate = tmp_path_factory.mktemp("gate")
    run = await _race(jp_fetch, jp_root_dir, outside, gate, "workflow")
    assert files_under(outside) == []
    assert run["status"] == "succeeded", run["errors"]
    kept = jp_root_dir / "sub" / ".nb-old" / "runs" / run["id"]
    assert json.loads((kept / "result.json").read_text(encoding="utf-8"))["status"] == "ok"


def test_an_open_folder_refuses_a_link_in_place_of_a_sub_folder(tmp_path: Path) -> None:
    """``SafeFolder.mkdir`` opens with ``O_NOFOLLOW``: a link named like the sub-folder (made by
    someone else first) is an error, never followed."""
    from naavre_batch_ext.engines.safe_folder import SafeFolder

    outside = tmp_path / "outside"
    outside.mkdir()
    with SafeFolder.open(tmp_path / "runs") as runs:
        os.symlink(outside, tmp_path / "runs" / "20260101-000000-abcdef")
        with pytest.raises(OSError):
            runs.mkdir("20260101-000000-abcdef", exist_ok=True)
        with runs.mkdir("20260101-000000-000000") as run:
            (run.path / "spec.json").write_text("{}", encoding="utf-8")
            assert run.shown(run.path / "spec.json") == str(run.real / "spec.json")
    assert (tmp_path / "runs" / "20260101-000000-000000" / "spec.json").is_file()
    assert files_under(outside) == []
