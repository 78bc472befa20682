"""The batch-count advisor: measured times per section (engines/timings.py), the model of the
processor stage's wall time against the batch count (engines/advisor.py), checked against real
local workflow runs, and the same advice from the CLI and the REST API."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from helpers import api_error, api_post, code_notebook, write_tmp

from naavre_batch_ext.cli import main
from naavre_batch_ext.core import split
from naavre_batch_ext.core.spec import spec_for_path
from naavre_batch_ext.engines import advisor, runner, timings

SLEEP_PER_ITEM = 0.25
"""The known cost of one item of :func:`sleeping_items`."""


def sleeping_items(n: int = 8, batch_count: int = 2, sleep: float = SLEEP_PER_ITEM) -> Any:
    """n items, m batches from a parameter, and a processor that sleeps ``sleep`` s per item."""
    return code_notebook(
        f"# parameters\nparam_n = {n}\nparam_batches = {batch_count}\n",
        "# items\nitems = list(range(param_n))\n",
        f"# work\nimport time\nout = []\nfor x in items:\n    time.sleep({sleep})\n    out.append(x)\n",
        "# total\ntotal = sum(out)\nprint(total)\n",
        tags={
            1: ["naavre:splitter", "naavre:batch-count:param_batches"],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
        },
    )


# -- the model --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "n", "parallelism", "expected"),
    [
        (1, 10, 2, 1 * (0.5 + 10 * 1.0)),  # one batch of all items
        (2, 10, 2, 1 * (0.5 + 5 * 1.0)),  # one wave of two
        (4, 10, 2, 2 * (0.5 + 3 * 1.0)),  # two waves, largest batch ceil(10 / 4) = 3
        (5, 10, 2, 3 * (0.5 + 2 * 1.0)),  # ceil(5 / 2) = 3 waves
        (30, 10, 2, 5 * (0.5 + 1 * 1.0)),  # never more instances than items
        (4, 10, None, 1 * (0.5 + 3 * 1.0)),  # no parallelism limit: one wave
        (3, 0, 2, 0.5),  # no items: one empty instance still starts
    ],
)
def test_expected_time_is_waves_times_start_cost_plus_largest_batch(
    m: int, n: int, parallelism: int | None, expected: float
) -> None:
    assert advisor.expected_seconds(m, n, 1.0, parallelism, 0.5) == pytest.approx(expected)


def test_the_waves_follow_the_split_rule_batch_sizes() -> None:
    """The largest batch the model charges is the largest the split rule makes."""
    for n in range(0, 30):
        for m in range(1, 12):
            k = split.batch_instances(n, m)
            largest = max(stop - start for start, stop in split.batch_ranges(n, m))
            assert advisor.expected_seconds(m, n, 1.0, None, 0.0) == largest
            assert advisor.expected_seconds(m, n, 0.0, 3, 1.0) == math.ceil(k / 3)


def test_best_batch_count_is_the_smallest_of_the_fastest() -> None:
    """With P = 4 and no start cost, m = 4 (one wave of two items) and m = 8 (two waves of one)
    take as long; the tie goes to the fewer containers."""
    table = advisor.advise(items=8, item_seconds=1.0, parallelism=4, start_cost=0.0, current=8)
    by_m = {r["batches"]: r["seconds"] for r in table["rows"]}
    assert by_m[4] == 2.0 and by_m[8] == 2.0  # two waves of one item = one wave of two
    assert table["best"] == 4
    assert table["current"] == 8 and table["current_seconds"] == 2.0


def test_each_wave_beyond_the_first_pays_the_start_cost_again() -> None:
    table = advisor.advise(items=100, item_seconds=0.1, parallelism=10, start_cost=30.0)
    by_m = {r["batches"]: r["seconds"] for r in table["rows"]}
    assert by_m[10] == pytest.approx(30.0 + 10 * 0.1)  # one full wave
    assert by_m[20] == pytest.approx(2 * (30.0 + 5 * 0.1))
    assert table["best"] == 10


def test_without_a_limit_or_start_cost_the_most_batches_win() -> None:
    table = advisor.advise(items=12, item_seconds=1.0, parallelism=None, start_cost=0.0)
    assert table["best"] == 12 and table["best_seconds"] == 1.0


def test_the_table_stops_at_min_n_and_the_maximum_but_keeps_the_current_count() -> None:
    small = advisor.advise(items=5, item_seconds=1.0, parallelism=2, start_cost=1.0)
    assert [r["batches"] for r in small["rows"]] == [1, 2, 3, 4, 5]
    big = advisor.advise(1000, 1.0, 2, 1.0, current=500, max_batches=20)
    assert [r["batches"] for r in big["rows"]] == [*range(1, 21), 500]


@pytest.mark.parametrize(
    ("items", "item_seconds", "parallelism", "start_cost"),
    [(-1, 1.0, 2, 0.0), (3, -1.0, 2, 0.0), (3, 1.0, 0, 0.0), (3, 1.0, 2, -1.0)],
)
def test_impossible_inputs_are_refused(
    items: int, item_seconds: float, parallelism: int, start_cost: float
) -> None:
    with pytest.raises(ValueError):
        advisor.advise(items, item_seconds, parallelism, start_cost)


def test_a_cluster_runs_start_cost_is_the_median_pod_time_beyond_its_items() -> None:
    """The batches as ``GET cluster-runs/<name>`` lists them (engines/cluster.py, run_status)."""
    items = [
        {"index": i, "state": "succeeded", "seconds": s, "start": 2 * i, "stop": 2 * i + 2}
        for i, s in enumerate([7.0, 8.0, 30.0])  # 2 items of 1 s each: 5, 6 and 28 s beyond
    ]
    items.append({"index": 3, "state": "failed", "seconds": 1.0, "start": 6, "stop": 8})
    status = {
        "steps": [{"kind": "splitter"}, {"kind": "processors", "instances": {"items": items}}]
    }
    assert advisor.start_cost_from_cluster(status, item_seconds=1.0) == 6.0
    assert advisor.start_cost_from_cluster({"steps": []}, 1.0) is None


def test_a_pod_s_overhead_takes_off_its_own_step_s_time_per_item() -> None:
    pods = [
        {"steps": ["a"], "seconds": 9.0, "items": 4},  # 4 items of 2 s: 1 s beyond
        {"steps": ["b"], "seconds": 9.0, "items": 4},  # 4 items of 0.5 s: 7 s beyond
        {"steps": ["c"], "seconds": 9.0, "items": 4},  # not measured: left out
    ]
    assert advisor.start_cost_from_pods(pods, {"a": 2.0, "b": 0.5}) == 4.0
    assert advisor.start_cost_from_pods(pods[2:], {"a": 2.0}) is None


MEASURED = {
    "notebook": [{"section": 0, "processors": ["work"], "items": 4, "item_seconds": 1.0}],
    "workflow": None,
}
"""A measurement as :func:`timings.section_timings` records it: 1 s per item of step ``work``."""

CLUSTER_RUN = {"name": "nb-x7k2p", "pods": [{"steps": ["work"], "seconds": 5.5, "items": 2}]}
"""A kept cluster run: one pod of 2 items that took 5.5 s, so 3.5 s beyond its items."""


@pytest.mark.parametrize(
    ("given", "cluster_run", "settings", "expected"),
    [
        (2.0, CLUSTER_RUN, 7.0, (2.0, "--start-cost")),
        (None, CLUSTER_RUN, 7.0, (3.5, "last cluster run nb-x7k2p")),
        (None, None, 7.0, (7.0, "your settings")),
        (None, {**CLUSTER_RUN, "pods": []}, None, (advisor.DEFAULT_START_COST, "default")),
    ],
)
def test_the_start_cost_is_the_given_then_the_last_cluster_run_s_then_settings_then_default(
    given: float | None,
    cluster_run: dict[str, Any] | None,
    settings: float | None,
    expected: tuple[float, str],
) -> None:
    found = advisor.choose_start_cost(given, "--start-cost", cluster_run, MEASURED, settings)
    assert found == expected


def finished_status(name: str, finished_at: str, finished: bool = True) -> dict[str, Any]:
    """A ``GET cluster-runs/<name>`` answer (engines/cluster.py, run_status) with one pod."""
    pod = {"index": 0, "state": "succeeded", "seconds": 5.5, "start": 0, "stop": 2}
    return {
        "name": name,
        "finished": finished,
        "finishedAt": finished_at,
        "phase": "Succeeded",
        "steps": [{"kind": "processors", "steps": ["work"], "instances": {"items": [pod]}}],
    }


def test_the_runs_folder_keeps_the_last_finished_cluster_run_of_each_notebook(
    tmp_path: Path,
) -> None:
    nb, other = tmp_path / "nb.ipynb", tmp_path / "other.ipynb"
    runs = tmp_path / ".naavre-batch" / "runs"
    running = finished_status("nb-1", "", finished=False)
    assert not timings.record_cluster_run(nb, running)
    assert timings.last_cluster_run(runs, nb) is None
    assert timings.record_cluster_run(nb, finished_status("nb-2", "2026-12-04T10:00:00Z"))
    # an older run looked at again does not replace the newer one
    assert not timings.record_cluster_run(nb, finished_status("nb-1", "2026-12-04T09:00:00Z"))
    kept = timings.last_cluster_run(runs, nb)
    assert kept is not None and kept["name"] == "nb-2"
    assert kept["pods"] == [{"steps": ["work"], "seconds": 5.5, "items": 2}]
    assert timings.last_cluster_run(runs, other) is None  # another notebook of the folder


def test_a_cluster_run_outside_the_root_is_not_kept(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / ".naavre-batch").symlink_to(tmp_path)
    status = finished_status("nb-2", "2026-12-04T10:00:00Z")
    with pytest.raises(OSError):
        timings.record_cluster_run(tmp_path / "root" / "nb.ipynb", status, root=tmp_path / "root")
    assert not (tmp_path / "runs").exists()


# -- measured times ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of both contexts of :func:`sleeping_items` (8 items, 3 batches)."""
    folder = tmp_path_factory.mktemp("measured")
    path = write_tmp(sleeping_items(n=8, batch_count=3, sleep=0.1), folder)
    result = runner.run(path, "both", parallelism=2)
    assert result["status"] == "ok"
    return {"path": path, "result": result}


def test_the_notebook_context_times_the_processor_chain_per_item(measured: dict[str, Any]) -> None:
    [section] = measured["result"]["notebook_run"]["timings"]
    assert section["items"] == 8 and section["batch_count"] == 3
    assert section["batch_items"] == [8]  # one kernel: all items in one go
    assert 0.1 <= section["item_seconds"] < 0.1 * 1.5
    assert section["splitter_seconds"] is not None and section["merger_seconds"] is not None


def test_the_workflow_context_times_each_batch(measured: dict[str, Any]) -> None:
    run = measured["result"]["workflow_run"]
    [section] = run["timings"]
    assert section["batch_items"] == [3, 3, 2]  # split.batch_ranges(8, 3)
    for size, seconds in zip(section["batch_items"], section["batch_seconds"], strict=True):
        assert seconds >= size * 0.1
    chain = next(s for s in run["steps"] if s["kind"] == "processors")
    assert section["processor_seconds"] == chain["wall_seconds"]
    assert section["item_seconds"] == pytest.approx(sum(section["batch_seconds"]) / 8, rel=1e-3)


def test_the_run_folder_keeps_both_contexts_timings(measured: dict[str, Any]) -> None:
    folder = Path(measured["result"]["workflow_run"]["folder"])
    kept = json.loads((folder / timings.TIMINGS_FILE).read_text())
    assert kept["notebook"] == measured["result"]["notebook_run"]["timings"]
    assert json.loads((folder / "result.json").read_text())["timings"] == kept["workflow"]
    [found] = timings.load_measurements(folder.parent, measured["path"])
    assert found["parameters"] == {"param_n": 8, "param_batches": 3}
    assert list(timings.load_measurements(folder.parent, folder.parent / "other.ipynb")) == []


# -- checked against reality --------------------------------------------------------------------


def _prediction_errors(path: Path, parallelism: int, n: int) -> list[tuple[int, float, float]]:
    """One calibration run, then real workflow runs for m = 1..4: ``(m, T(m), measured)``."""
    calibration = runner.run(path, "both", parallelism=parallelism)
    assert calibration["status"] == "ok"
    [nb_section] = calibration["notebook_run"]["timings"]
    [wf_section] = calibration["workflow_run"]["timings"]
    t = nb_section["item_seconds"]
    s = statistics.median(
        sec - size * t
        for size, sec in zip(wf_section["batch_items"], wf_section["batch_seconds"], strict=True)
    )
    spec = spec_for_path(path)
    errors = []
    for m in (1, 2, 3, 4):
        run = runner.run_workflow(spec, path, {"param_batches": m}, parallelism=parallelism)
        measured_seconds = run["timings"][0]["processor_seconds"]
        errors.append((m, advisor.expected_seconds(m, n, t, parallelism, s), measured_seconds))
    return errors


def test_the_prediction_is_within_25_percent_of_real_local_runs(tmp_path: Path) -> None:
    """P = the local parallelism (2 processes at once), s = the per-instance overhead measured in
    a first run (each instance's time beyond its items' sleep), t = the notebook context's time
    per item; then real workflow runs for several m against T(m). Items take 0.3 s, so that, as in
    real use, the known per-item cost and not the start-up noise of a shared machine decides.

    The calibration and the runs are repeated (at most three times) when the machine's load
    changed between them: a test beside it in another pytest worker can make one run's start-up
    cost differ from the calibration's. A wrong model is wrong in every attempt."""
    parallelism, n = 2, 8
    path = write_tmp(sleeping_items(n=n, sleep=0.3), tmp_path)
    attempts = []
    for _ in range(3):
        errors = _prediction_errors(path, parallelism, n)
        attempts.append(errors)
        if all(abs(p - measured) <= 0.25 * measured for _m, p, measured in errors):
            return
    pytest.fail(f"T(m) off by more than 25% in every attempt (m, predicted, measured): {attempts}")


# -- the same advice everywhere -----------------------------------------------------------------


def test_advise_runs_the_notebook_context_once_then_reuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(sleeping_items(n=6, batch_count=6, sleep=0.05), tmp_path)
    args = [str(path), "--parallelism", "2", "--start-cost", "0.2"]
    assert main(["advise", *args]) == 0
    first = capsys.readouterr()
    assert "running the notebook context once" in first.err
    assert main(["advise", *args, "--json"]) == 0
    second = capsys.readouterr()
    assert "running the notebook context" not in second.err
    [section] = json.loads(second.out)["sections"]
    assert section["current"] == 6 and section["items"] == 6
    assert section["parallelism"] == 2 and section["start_cost"] == 0.2
    assert f"best: m = {section['best']} " in first.out
    assert "<- now" in first.out and "model: " in first.out


def test_advise_starts_from_the_last_cluster_run_s_pod_overheads(
    argo_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``submit --watch`` keeps the finished run's processor pod times (the fake Argo server's
    node times, tests/argo_fake.py, of the pods it really ran); ``advise`` takes s from them
    with its own time per item, and ``--start-cost`` still wins."""
    path = write_tmp(sleeping_items(n=4, batch_count=2, sleep=0.05), tmp_path)
    assert main(["submit", str(path), "--watch", "--interval", "0.01"]) == 0
    out = capsys.readouterr().out
    kept = timings.last_cluster_run(tmp_path / ".naavre-batch" / "runs", path)
    assert kept is not None and f"submitted {kept['name']}" in out
    assert [pod["items"] for pod in kept["pods"]] == [2, 2]
    assert main(["advise", str(path), "--json"]) == 0
    [section] = json.loads(capsys.readouterr().out)["sections"]
    assert section["start_cost_source"] == f"last cluster run {kept['name']}"
    overhead = advisor.start_cost_from_pods(kept["pods"], section["item_seconds"])
    assert overhead is not None and section["start_cost"] == overhead > 0
    assert main(["advise", str(path), "--json", "--start-cost", "1.5"]) == 0
    [given] = json.loads(capsys.readouterr().out)["sections"]
    assert (given["start_cost"], given["start_cost_source"]) == (1.5, "--start-cost")


def test_advise_refuses_a_notebook_without_a_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tmp(code_notebook("x = 1"), tmp_path)
    assert main(["advise", str(path)]) == 2
    assert "no split/merge section" in capsys.readouterr().err


async def test_rest_advise_gives_the_table_of_a_finished_run(
    jp_fetch: Any, jp_root_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_handlers_runs import start_run, wait_until_over

    write_tmp(sleeping_items(n=6, batch_count=5, sleep=0.05), jp_root_dir, "nb.ipynb")
    run = await start_run(jp_fetch, {"path": "nb.ipynb", "context": "both"})
    over = await wait_until_over(jp_fetch, run["id"])
    assert over["status"] == "succeeded"
    assert over["result"]["notebook_run"]["timings"][0]["items"] == 6
    body = {"path": "nb.ipynb", "run": run["id"], "parallelism": 2, "startCost": 0.5}
    advice = await api_post(jp_fetch, "advise", body)
    [section] = advice["sections"]
    assert section["measured_in"] == "notebook" and section["current"] == 5
    assert section["batch_count"] == {"parameter": "param_batches", "default": 5}
    assert advice["model"] == advisor.MODEL
    # Without the run id: the newest run folder with the same parameters; the CLI agrees.
    again = await api_post(jp_fetch, "advise", {k: v for k, v in body.items() if k != "run"})
    assert again["sections"] == advice["sections"]
    # Without a start cost given nor a cluster run kept: the user's setting the panel sends.
    settings = {**body, "startCost": None, "settingsStartCost": 3}
    from_settings = await api_post(jp_fetch, "advise", settings)
    assert (from_settings["startCost"], from_settings["startCostSource"]) == (3, "your settings")
    cli = ["advise", str(jp_root_dir / "nb.ipynb"), "--parallelism", "2", "--start-cost", "0.5"]
    assert main([*cli, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sections"][0]["best"] == section["best"]


async def test_rest_advise_without_a_measurement_says_what_to_run(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    write_tmp(sleeping_items(), jp_root_dir, "nb.ipynb")
    code, error = await api_error(jp_fetch, "advise", {"path": "nb.ipynb"})
    assert code == 409 and "Compare both" in error["hint"]
    code, error = await api_error(jp_fetch, "advise", {"path": "nb.ipynb", "parallelism": 0})
    assert code == 400 and error["field"] == "parallelism"


async def test_rest_a_finished_cluster_run_s_pod_times_become_the_start_cost(
    jp_fetch: Any, jp_root_dir: Path, argo_env: Any
) -> None:
    """Reading a finished run's status (``GET cluster-runs/<name>``, the fake Argo server running
    the exported pods) keeps its pod times in the notebook's runs folder inside the root; ``POST
    advise`` then takes s from them before the user's setting, and a given s before both."""
    from test_handlers_runs import start_run, wait_until_over

    write_tmp(sleeping_items(n=4, batch_count=2, sleep=0.05), jp_root_dir, "nb.ipynb")
    run = await api_post(jp_fetch, "cluster-runs", {"path": "nb.ipynb"}, code=201)
    while not run["finished"]:
        response = await jp_fetch("naavre-batch-ext", "cluster-runs", run["name"])
        run = json.loads(response.body)
    kept = timings.last_cluster_run(
        jp_root_dir / ".naavre-batch" / "runs", jp_root_dir / "nb.ipynb"
    )
    assert kept is not None and kept["name"] == run["name"]
    local = await start_run(jp_fetch, {"path": "nb.ipynb", "context": "notebook"})
    assert (await wait_until_over(jp_fetch, local["id"]))["status"] == "succeeded"
    body = {"path": "nb.ipynb", "run": local["id"], "settingsStartCost": 7}
    advice = await api_post(jp_fetch, "advise", body)
    [section] = advice["sections"]
    assert advice["startCostSource"] == f"last cluster run {run['name']}"
    assert section["start_cost"] == advisor.start_cost_from_pods(
        kept["pods"], section["item_seconds"]
    )
    given = await api_post(jp_fetch, "advise", {**body, "startCost": 0.5})
    assert (given["startCost"], given["startCostSource"]) == (0.5, "given")
