"""Reuse of task instances (``--reuse``) and resuming a failed run (``--resume RUN_ID``) in the
local workflow context: what runs again after an edit, what is taken from the store, and that the
store never hands back damaged bytes (naavre_batch_ext/engines/reuse.py, docs/running.md).

The notebooks' processors append one line per instance to ``ran.log`` beside the notebook, so the
tests count the processes that really ran instead of trusting the runner's own summary.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import code_notebook, section_tags, tagged_seed_notebook, write_tmp

from naavre_batch_ext.engines import reuse, runner

SPLITTER = "items = [1, 2, 3, 4, 5, 6, 7, 8]\nopen('ran.log', 'a').write('splitter\\n')"
PROCESSOR = (
    "import os\n"
    "doubled = [x * 2 for x in items]\n"
    "open('ran.log', 'a').write(f'processor {items}\\n')\n"
    "if os.path.exists('fail-on-7') and 7 in items:\n"
    "    raise ValueError('item 7 is broken')"
)
MERGER = "total = sum(doubled)\nopen('ran.log', 'a').write('merger\\n')\nprint(total)"


def _notebook(
    tmp_path: Path,
    splitter: str = SPLITTER,
    processor: str = PROCESSOR,
    merger: str = MERGER,
    processor_tags: tuple[str, ...] = (),
) -> Path:
    tags = section_tags(0, "4")
    tags[1] = tags[1] + list(processor_tags)
    return write_tmp(code_notebook(splitter, processor, merger, tags=tags), tmp_path)


def _run(path: Path, **kwargs: Any) -> dict[str, Any]:
    return runner.run(path, "workflow", reuse_store=kwargs.pop("reuse", True), **kwargs)


def _ran(path: Path) -> list[str]:
    """The instances that really ran since the last call (and forget them)."""
    log = path.parent / "ran.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def _reused(result: dict[str, Any]) -> dict[str, list[int]]:
    return {t["task"]: t["reused"] for t in result["workflow_run"]["steps"]}


def test_second_run_of_an_unchanged_notebook_runs_no_instance_and_gives_the_same_verdict(
    tmp_path: Path,
) -> None:
    nb = tagged_seed_notebook()
    path = write_tmp(nb, tmp_path)
    first = runner.run(path, "both", nb=nb, reuse_store=True)
    second = runner.run(path, "both", nb=nb, reuse_store=True)
    assert first["status"] == second["status"] == "ok"
    assert second["comparison"]["verdict"] == first["comparison"]["verdict"]
    assert second["workflow_run"]["reuse"]["ran"] == 0
    assert second["workflow_run"]["reuse"]["reused"] == 7  # splitter, 5 batches, merger
    assert second["workflow_run"]["trace"] == first["workflow_run"]["trace"]


def test_no_instance_runs_again_and_the_stored_bytes_are_handed_on(tmp_path: Path) -> None:
    path = _notebook(tmp_path)
    first = _run(path)
    assert len(_ran(path)) == 6  # splitter, 4 processor instances, merger
    second = _run(path)
    assert _ran(path) == []
    assert second["workflow_run"]["printed"] == first["workflow_run"]["printed"]
    chain = second["workflow_run"]["tasks"][1]["id"]
    one = Path(first["workflow_run"]["folder"]) / chain / "00002" / "out" / "naavre-result"
    two = Path(second["workflow_run"]["folder"]) / chain / "00002" / "out" / "naavre-result"
    assert os.path.samefile(one, two)  # the stored bytes themselves, not a recomputation


def test_without_reuse_everything_runs(tmp_path: Path) -> None:
    path = _notebook(tmp_path)
    _run(path)
    _ran(path)
    result = _run(path, reuse=False)
    assert len(_ran(path)) == 6
    assert result["workflow_run"]["reuse"]["reused"] == 0


def test_editing_the_processor_cell_reruns_all_its_instances_and_nothing_upstream(
    tmp_path: Path,
) -> None:
    _run(_notebook(tmp_path))
    _ran(tmp_path / "nb.ipynb")
    path = _notebook(tmp_path, processor=PROCESSOR + "\n# edited")
    result = _run(path)
    ran = _ran(path)
    assert "splitter" not in ran
    assert sum(line.startswith("processor") for line in ran) == 4
    splitter = result["workflow_run"]["tasks"][0]["id"]
    assert _reused(result)[splitter] == [0]
    # The edit changed no value, so the merger's inputs are the same bytes: it is reused.
    assert "merger" not in ran


def test_changing_one_item_reruns_exactly_the_batches_whose_bytes_changed(tmp_path: Path) -> None:
    _run(_notebook(tmp_path))
    _ran(tmp_path / "nb.ipynb")
    path = _notebook(tmp_path, splitter=SPLITTER.replace("6,", "60,"))  # batch 2 is [5, 6]
    result = _run(path)
    assert _ran(path) == ["splitter", "processor [5, 60]", "merger"]
    processors = result["workflow_run"]["tasks"][1]["id"]
    assert _reused(result)[processors] == [0, 1, 3]


def test_a_failed_batch_fixed_and_resumed_reruns_one_instance_and_the_merger(
    tmp_path: Path,
) -> None:
    path = _notebook(tmp_path)
    (tmp_path / "fail-on-7").touch()
    failed = _run(path, reuse=False)
    assert failed["status"] == "failed"
    _ran(path)
    (tmp_path / "fail-on-7").unlink()  # the fix: the broken input is repaired
    resumed = _run(path, reuse=False, resume=failed["workflow_run"]["run_id"])
    assert resumed["status"] == "ok"
    assert _ran(path) == ["processor [7, 8]", "merger"]
    summary = resumed["workflow_run"]["reuse"]
    assert (summary["reused"], summary["ran"], summary["failed"]) == (4, 2, 0)
    assert summary["resumed_from"] == failed["workflow_run"]["run_id"]


def test_a_resumed_run_whose_batch_fails_again_says_so(tmp_path: Path) -> None:
    path = _notebook(tmp_path)
    (tmp_path / "fail-on-7").touch()
    failed = _run(path, reuse=False)
    again = _run(path, reuse=False, resume=failed["workflow_run"]["run_id"])
    assert again["status"] == "failed"
    summary = again["workflow_run"]["reuse"]
    assert (summary["reused"], summary["ran"], summary["failed"]) == (4, 1, 1)


def test_resume_takes_the_parameters_of_the_run_resumed(tmp_path: Path) -> None:
    nb = code_notebook(
        "param_n = 4",
        "items = list(range(param_n))",
        "out = [x + 1 for x in items]",
        "total = sum(out)",
        tags=section_tags(1, "2"),
    )
    path = write_tmp(nb, tmp_path)
    first = runner.run(path, "workflow", {"param_n": 6})
    resumed = runner.run(path, "workflow", resume=first["workflow_run"]["run_id"])
    assert resumed["workflow_run"]["parameters"] == {"param_n": 6}
    assert resumed["workflow_run"]["reuse"]["ran"] == 0


def test_resume_of_an_unknown_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(runner.RunError) as info:
        _run(_notebook(tmp_path), resume="20260101-000000-abcdef")
    assert "no run 20260101-000000-abcdef" in info.value.message
    with pytest.raises(runner.RunError):
        _run(_notebook(tmp_path), resume="../elsewhere")


def test_a_step_tagged_no_reuse_always_runs(tmp_path: Path) -> None:
    path = _notebook(tmp_path, processor_tags=("naavre:no-reuse",))
    _run(path)
    _ran(path)
    result = _run(path)
    ran = _ran(path)
    assert sum(line.startswith("processor") for line in ran) == 4
    assert "splitter" not in ran and "merger" not in ran  # same bytes out: the rest is reused
    processors = result["workflow_run"]["tasks"][1]["id"]
    assert _reused(result)[processors] == []


def _store_files(path: Path, name: str) -> list[Path]:
    store = path.parent / ".naavre-batch" / "runs" / reuse.STORE_DIR
    return sorted(store.glob(f"*/*/out/{name}"))


@pytest.mark.parametrize("damage", ["truncated", "edited"])
def test_a_damaged_stored_output_is_recomputed_never_used(tmp_path: Path, damage: str) -> None:
    path = _notebook(tmp_path)
    first = _run(path)
    _ran(path)
    stored = next(p for p in _store_files(path, "naavre-result") if b"[10,12]" in p.read_bytes())
    # Break the link to the run folder's copy, then damage the store's.
    data = stored.read_bytes()
    stored.unlink()
    stored.write_bytes(data[:-3] if damage == "truncated" else data.replace(b"[10,12]", b"[10,13]"))
    second = _run(path)
    assert _ran(path) == ["processor [5, 6]"]  # the merger's inputs are the same bytes again
    assert second["workflow_run"]["trace"] == first["workflow_run"]["trace"]
    assert data in [p.read_bytes() for p in _store_files(path, "naavre-result")]


def test_the_store_keeps_to_its_limit_evicting_the_least_recently_used(tmp_path: Path) -> None:
    path = _notebook(tmp_path)
    result = _run(path, reuse_limit=1)
    summary = result["workflow_run"]["reuse"]
    assert summary["store_bytes"] <= 1
    assert _run(path)["workflow_run"]["reuse"]["reused"] == 0


def test_the_store_refuses_a_symbolic_link_out_of_the_runs_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    path = _notebook(root)
    runs = root / ".naavre-batch" / "runs"
    runs.mkdir(parents=True)
    (runs / reuse.STORE_DIR).symlink_to(outside)
    with pytest.raises(runner.RunError) as info:
        runner.run(path, "workflow", reuse_store=True, root=root)
    assert "not a plain folder" in info.value.message
    assert list(outside.iterdir()) == []


def test_a_shard_linked_out_of_the_store_is_never_written(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = reuse.Store.open(tmp_path / "runs")
    key = "ab" + "0" * 62
    (store.path / "ab").symlink_to(outside)
    folder = tmp_path / "instance"
    (folder / "out").mkdir(parents=True)
    (folder / "out" / "x").write_text("1")
    reuse.write_manifest(folder, key, reuse.Hasher())
    with pytest.raises(reuse.ReuseError):
        store.put(key, folder)
    assert list(outside.iterdir()) == []


def test_concurrent_runs_of_the_same_notebook_share_the_store_safely(tmp_path: Path) -> None:
    path = _notebook(tmp_path)
    results: list[dict[str, Any]] = []

    def one() -> None:
        results.append(_run(path, parallelism=2))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["status"] for r in results] == ["ok"] * 3
    traces = [json.dumps(r["workflow_run"]["trace"], sort_keys=True) for r in results]
    assert len(set(traces)) == 1
    store = tmp_path / ".naavre-batch" / "runs" / reuse.STORE_DIR
    entries = list(store.glob("*/*/" + reuse.MANIFEST))
    assert len(entries) == 6  # one entry per key, whichever run stored it first
    assert all(reuse.verified(e.parent) is not None for e in entries)
    assert list((store / "tmp").iterdir()) == []  # no half-built entry left behind
    _ran(path)
    assert _run(path)["workflow_run"]["reuse"]["ran"] == 0
