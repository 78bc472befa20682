"""Run exported workflows the way Argo would, without a cluster, and compare with the notebook.

:class:`ArgoPlayer` reads the exported YAML and plays Argo's part: DAG tasks in dependency order;
Argo's ``{{...}}`` substitution (one pass, whitespace inside the braces trimmed, an unresolved
reference is an error) over each task's ``withParam`` and arguments and then over the *whole*
template (script source included, as Argo does), with ``workflow.parameters.*``, ``workflow.name``,
``item``, ``inputs.parameters.*`` and ``tasks.*.outputs.parameters.*``; one fresh folder per pod
standing in for its file system, with ``raw`` input artifacts written into it;
``script.source`` written to a file and run with ``python`` (environment strings over 128 KiB
fail to start, as in a container);
output parameters read back from their ``valueFrom.path`` files; a ``withParam`` task's outputs
aggregated as a JSON list in item order, of succeeded pods only, in either encoding Argo uses
(a list of JSON values since v3.6, a list of strings of JSON before); ``continueOn.failed`` lets
dependants run after failed pods.

What this cannot show without a cluster is listed in docs/argo.md.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import (
    TUTORIALS,
    code_notebook,
    section_tags,
    tagged_seed_notebook,
    tagged_tutorial,
    write_tmp,
)

from naavre_batch_ext import split
from naavre_batch_ext.argo import export_argo
from naavre_batch_ext.runner import run_notebook
from naavre_batch_ext.spec import build_spec

ENCODINGS = ("json-values", "json-strings")
WORKFLOW_NAME = "played-wf-x7k2p"
_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class Unresolved(Exception):
    """A ``{{...}}`` reference Argo could not resolve (Argo fails the node)."""


def substitute(text: str, scope: dict[str, str]) -> str:
    """Argo's simple templating: each ``{{ tag }}`` replaced once, unknown tags are errors."""

    def replace(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag not in scope:
            raise Unresolved(tag)
        return scope[tag]

    return _TAG.sub(replace, text)


def substitute_all(value: Any, scope: dict[str, str]) -> Any:
    """Substitute in every string of a template (Argo templates the whole template object)."""
    if isinstance(value, str):
        return substitute(value, scope)
    if isinstance(value, list):
        return [substitute_all(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: substitute_all(v, scope) for k, v in value.items()}
    return value


@dataclass
class Pod:
    """One pod's run: exit code, logs, output parameters (as Argo stores them: text)."""

    task: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)
    item: Any = None


@dataclass
class Play:
    """A whole workflow run: pods per DAG task, and the phase Argo would give the workflow."""

    pods: dict[str, list[Pod]]
    phase: str
    message: str = ""

    def only(self, task: str) -> Pod:
        pods = self.pods[task]
        assert len(pods) == 1, f"{task} ran {len(pods)} pods"
        return pods[0]


class ArgoPlayer:
    """Plays an exported Workflow locally; see the module docstring for what it imitates."""

    def __init__(self, text: str, root: Path, encoding: str = "json-values") -> None:
        self.doc = yaml.safe_load(text)
        self.root = root
        self.encoding = encoding
        self.templates = {t["name"]: t for t in self.doc["spec"]["templates"]}
        self.pod_count = 0

    def play(self, parameters: dict[str, str] | None = None) -> Play:
        spec = self.doc["spec"]
        values = {p["name"]: p["value"] for p in spec.get("arguments", {}).get("parameters", [])}
        for name, value in (parameters or {}).items():
            assert name in values, f"argo submit -p {name}: no such workflow parameter"
            values[name] = value
        scope = {f"workflow.parameters.{k}": v for k, v in values.items()}
        scope["workflow.name"] = WORKFLOW_NAME
        dag = self.templates[spec["entrypoint"]]["dag"]["tasks"]
        pods: dict[str, list[Pod]] = {}
        done: dict[str, bool] = {}  # task -> whether dependants may run
        for task in dag:
            for dep in task.get("dependencies", []):
                assert dep in done, f"{task['name']} listed before its dependency {dep}"
                if not done[dep]:
                    return Play(pods, "Failed", f"{dep} failed, so {task['name']} did not run")
            try:
                if "withParam" in task:
                    items = json.loads(substitute(task["withParam"], scope))
                    assert isinstance(items, list)
                    if not items:  # Argo skips the task; dependants that need its outputs fail
                        return Play(pods, "Failed", f"{task['name']}: withParam is empty")
                    runs = [self._run_task(task, scope, item) for item in items]
                else:
                    runs = [self._run_task(task, scope, None)]
            except Unresolved as exc:
                return Play(pods, "Error", f"{task['name']}: unable to resolve {{{{{exc}}}}}")
            pods[task["name"]] = runs
            ok = [p for p in runs if p.returncode == 0]
            continue_on_failed = task.get("continueOn", {}).get("failed", False)
            done[task["name"]] = len(ok) == len(runs) or continue_on_failed
            self._publish(task, runs, scope)
            if not done[task["name"]]:
                return Play(pods, "Failed", f"{task['name']} failed")
        failed = [p for runs in pods.values() for p in runs if p.returncode != 0]
        return Play(pods, "Failed" if failed else "Succeeded")

    def _publish(self, task: dict[str, Any], runs: list[Pod], scope: dict[str, str]) -> None:
        """Make ``tasks.<name>.outputs.parameters.<p>`` available, aggregated for a fan-out."""
        template = self.templates[task["template"]]
        names = [p["name"] for p in template.get("outputs", {}).get("parameters", [])]
        ok = [p for p in runs if p.returncode == 0]
        for name in names:
            key = f"tasks.{task['name']}.outputs.parameters.{name}"
            if "withParam" not in task:
                if ok:
                    scope[key] = ok[0].outputs[name]
                continue
            if not ok:
                continue  # nothing to aggregate: a reference to it is unresolvable
            texts = [p.outputs[name] for p in ok]
            if self.encoding == "json-values":
                scope[key] = json.dumps([json.loads(t) for t in texts])
            else:
                scope[key] = json.dumps(texts)

    def _run_task(self, task: dict[str, Any], scope: dict[str, str], item: Any) -> Pod:
        local = dict(scope)
        if item is not None:
            local["item"] = (
                item
                if isinstance(item, str)
                else json.dumps(item, separators=(",", ":"), sort_keys=True)
            )
        args = {
            a["name"]: substitute(a["value"], local)
            for a in task.get("arguments", {}).get("parameters", [])
        }
        template = self.templates[task["template"]]
        declared = [p["name"] for p in template.get("inputs", {}).get("parameters", [])]
        assert sorted(declared) == sorted(args), (
            f"{task['name']}: arguments {sorted(args)} != inputs {declared}"
        )
        template_scope = {k: v for k, v in scope.items() if k.startswith("workflow.")}
        template_scope.update({f"inputs.parameters.{k}": v for k, v in args.items()})
        resolved = substitute_all(copy.deepcopy(template), template_scope)
        return self._run_pod(task["name"], resolved, item)

    def _run_pod(self, name: str, template: dict[str, Any], item: Any) -> Pod:
        self.pod_count += 1
        pod_root = self.root / f"pod-{self.pod_count}-{name}"
        (pod_root / "argo" / "staging").mkdir(parents=True)

        def in_pod(path: str) -> Path:
            assert path.startswith("/"), path
            return pod_root / path.lstrip("/")

        script = template["script"]
        assert script["command"] == ["python"]
        source_file = pod_root / "argo" / "staging" / "script"
        source_file.write_text(script["source"], encoding="utf-8")
        for artifact in template.get("inputs", {}).get("artifacts", []):
            assert set(artifact) == {"name", "path", "raw"}, "only raw input artifacts are played"
            target = in_pod(artifact["path"])  # Argo's init container writes it before main
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(artifact["raw"]["data"], encoding="utf-8")
        env = {e["name"]: e["value"] for e in script.get("env", [])}
        for name in ("NAAVRE_OUTPUTS_DIR", "NAAVRE_INPUTS_FILE"):  # paths inside the pod
            if name in env:
                env[name] = str(in_pod(env[name]))
        env["PATH"] = os.environ.get("PATH", "")
        proc = subprocess.run(
            [sys.executable, str(source_file)],
            check=False,
            env=env,
            cwd=pod_root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        pod = Pod(name, proc.returncode, proc.stdout, proc.stderr, item=item)
        if proc.returncode == 0:
            for param in template.get("outputs", {}).get("parameters", []):
                path = in_pod(param["valueFrom"]["path"])
                if not path.exists():  # Argo fails the node when an output file is missing
                    pod.returncode = 1
                    pod.stderr += f"\noutput parameter file {param['valueFrom']['path']} missing"
                    break
                pod.outputs[param["name"]] = path.read_text(encoding="utf-8")
        return pod


# -- helpers ------------------------------------------------------------------------------------


def export_and_play(
    nb: Any, tmp_path: Path, encoding: str, parameters: dict[str, str] | None = None
) -> tuple[dict[str, Any], Play]:
    path = write_tmp(nb, tmp_path, "notebook.ipynb")
    spec = build_spec(nb, path.name)
    assert not spec["summary"]["errors"], spec["diagnostics"]
    text = export_argo(spec)
    (tmp_path / "pods").mkdir()
    return spec, ArgoPlayer(text, tmp_path / "pods", encoding).play(parameters)


def notebook_context(
    spec: dict[str, Any], nb: Any, tmp_path: Path, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    result = run_notebook(spec, nb, tmp_path / "notebook.ipynb", parameters or {})
    assert result["status"] == "ok", result["errors"]
    return result


def cell_stdout(result: dict[str, Any], indices: list[int]) -> str:
    """What the notebook printed in these cells (stream outputs on stdout)."""
    return "".join(
        o.get("text", "")
        for cell in result["cells"]
        if cell["index"] in indices
        for o in cell["outputs"]
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def _step_cells(spec: dict[str, Any], step_ids: list[str]) -> list[int]:
    return [c["index"] for s in spec["steps"] if s["id"] in step_ids for c in s["cells"]]


def assert_same_as_notebook(spec: dict[str, Any], play: Play, nb_run: dict[str, Any]) -> None:
    """Every split, merged and whole value, and what the merger printed, equal the notebook's."""
    assert play.phase == "Succeeded", play.message
    trace = nb_run["trace"]
    for section in spec["sections"]:
        splitter, merger = section["splitter"], section["merger"]
        batches = json.loads(play.only(splitter).outputs["naavre-batches"])
        items = split.merge_batches(b["items"] for b in batches)
        assert items == trace[splitter][section["split_variable"]]
        chain = play.pods[section["processors"][0]]
        assert len(chain) == len(batches)
        results = sorted(
            (json.loads(p.outputs["naavre-result"]) for p in chain), key=lambda r: r["index"]
        )
        for name in section["merged"]:
            owner = next(
                s["id"]
                for s in spec["steps"]
                if s["id"] in section["processors"] and name in s["outputs"]
            )
            merged = split.merge_batches(r["outputs"][name] for r in results)
            assert merged == trace[owner][name], name
        printed = play.only(merger).stdout
        assert printed == cell_stdout(nb_run, _step_cells(spec, [merger]))
    for step in spec["steps"]:
        if step["role"] == "processor":
            continue
        pod = play.only(step["id"])
        for name, value in trace.get(step["id"], {}).items():
            if name in pod.outputs:
                assert json.loads(pod.outputs[name]) == value, name


# -- tests --------------------------------------------------------------------------------------

EXAMPLES = [("seed", tagged_seed_notebook)] + [
    (t, (lambda t=t: tagged_tutorial(t))) for t in TUTORIALS
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name,make", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_exported_example_gives_the_notebook_result(
    name: str, make: Any, encoding: str, tmp_path: Path
) -> None:
    nb = make()
    spec, play = export_and_play(nb, tmp_path, encoding)
    assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path))


def test_seed_merger_prints_the_seed_documents_items(tmp_path: Path) -> None:
    _, play = export_and_play(tagged_seed_notebook(), tmp_path, "json-strings")
    printed = play.only("retrieve-batches").stdout
    expected = [i / 42 for i in range(28)]
    assert f"Processed items: {expected}" in printed
    assert len(play.pods["process-batches"]) == 5


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_batch_count_parameter_is_read_at_run_time(encoding: str, tmp_path: Path) -> None:
    nb = tagged_seed_notebook()
    spec, play = export_and_play(nb, tmp_path, encoding, {"param_max_batch_count": "2"})
    assert len(play.pods["process-batches"]) == 2
    assert_same_as_notebook(
        spec, play, notebook_context(spec, nb, tmp_path, {"param_max_batch_count": 2})
    )


def test_item_count_parameter_override_reaches_the_header(tmp_path: Path) -> None:
    nb = tagged_tutorial("splitting-classic")
    spec, play = export_and_play(nb, tmp_path, "json-values", {"param_item_count": "9"})
    assert len(play.pods["process-item-list"]) == 9
    assert_same_as_notebook(
        spec, play, notebook_context(spec, nb, tmp_path, {"param_item_count": 9})
    )


SECTION = section_tags(1, "3")
SECTION[1].append("naavre:split:items")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_empty_list_still_gives_one_batch_and_a_merger_run(encoding: str, tmp_path: Path) -> None:
    nb = code_notebook(
        "param_n = 0",
        "items = list(range(param_n))\nlabel = 'x'",
        "out = [label + str(i) for i in items]",
        "print('merged:', out)",
        tags=SECTION,
    )
    spec, play = export_and_play(nb, tmp_path, encoding)
    assert len(play.pods["processor-1"]) == 1
    assert play.only("merger-1").stdout == "merged: []\n"
    assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_merger_names_the_batch_whose_pod_failed(encoding: str, tmp_path: Path) -> None:
    nb = code_notebook(
        "import os",
        "items = list(range(9))\nbad = 4",
        "out = []\nfor i in items:\n    if i == bad:\n        raise RuntimeError('item 4 is broken')\n    out.append(i)",
        "print(out)",
        tags=SECTION,
    )
    _, play = export_and_play(nb, tmp_path, encoding)
    chain = play.pods["processor-1"]
    assert [p.returncode != 0 for p in chain] == [False, True, False]  # items 3..5 are batch 1
    assert "item 4 is broken" in chain[1].stderr
    merger = play.only("merger-1")  # continueOn: the merger runs after a failed pod ...
    assert merger.returncode != 0  # ... and fails, naming the missing batch
    assert "batch(es) 1 of 3 are missing" in merger.stderr
    assert play.phase == "Failed"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cell_with_argo_braces_runs_exactly_as_written(encoding: str, tmp_path: Path) -> None:
    nb = code_notebook(
        'template = "run {{ workflow.name }} on {{item}}"',
        "items = list(range(4))\nprefix = template + ' }} {{ '",
        "out = [prefix + str(i) for i in items]",
        "print(out)",
        tags=SECTION,
    )
    spec, play = export_and_play(nb, tmp_path, encoding)
    nb_run = notebook_context(spec, nb, tmp_path)
    assert_same_as_notebook(spec, play, nb_run)
    assert "run {{ workflow.name }} on {{item}} }} {{ 0" in play.only("merger-1").stdout
    assert WORKFLOW_NAME not in play.only("merger-1").stdout


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_values_flow_between_two_sections_and_into_every_batch(
    encoding: str, tmp_path: Path
) -> None:
    nb = code_notebook(
        "param_scale = 3",
        "items = list(range(8))\nfacteur_é = {'k': [1, 2]}",
        "out = [x * param_scale + facteur_é['k'][1] for x in items]",
        "total = sum(out)\nprint(total)",
        "more = list(range(total % 5 + 4))",
        "again = [m + total for m in more]",
        "print(again)",
        tags={
            1: SECTION[1],
            2: ["naavre:processor"],
            3: ["naavre:merger"],
            4: ["naavre:splitter", "naavre:batch-count:param_scale"],
            5: ["naavre:processor"],
            6: ["naavre:merger"],
        },
    )
    spec, play = export_and_play(nb, tmp_path, encoding, {"param_scale": "2"})
    assert len(spec["sections"]) == 2
    assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path, {"param_scale": 2}))
    assert len(play.pods["processor-2"]) == 2


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_values_larger_than_an_environment_string_reach_the_pods(
    encoding: str, tmp_path: Path
) -> None:
    """Batches, broadcast values and aggregates over 128 KiB (Linux's limit for one environment
    string, which the player's subprocess enforces) travel in the inputs file."""
    nb = code_notebook(
        "import os",
        "items = ['i' * 1000 for _ in range(200)]\npad = 'p' * 150_000",
        "out = [s.upper() + pad[:10] for s in items]",
        "print(len(out), sum(map(len, out)))",
        tags=SECTION,
    )
    spec, play = export_and_play(nb, tmp_path, encoding)
    batch_sizes = [len(json.dumps(p.item)) for p in play.pods["processor-1"]]
    assert min(batch_sizes) > 60_000 and max(batch_sizes) < 128 * 1024
    assert len(play.pods["processor-1"]) == 3
    assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path))
    assert play.only("merger-1").stdout == "200 202000\n"


def test_player_fails_on_an_unresolvable_reference(tmp_path: Path) -> None:
    nb = tagged_seed_notebook()
    text = export_argo(build_spec(nb, "seed.ipynb")).replace(
        "{{workflow.parameters.param_item_count}}", "{{workflow.parameters.param_nope}}", 1
    )
    (tmp_path / "pods").mkdir()
    play = ArgoPlayer(text, tmp_path / "pods").play()
    assert play.phase == "Error" and "param_nope" in play.message


def test_player_substitutes_inside_script_sources(tmp_path: Path) -> None:
    """The player templates sources as Argo does, so the brace test above can fail."""
    nb = tagged_seed_notebook()
    spec = build_spec(nb, "seed.ipynb")
    doc = yaml.safe_load(export_argo(spec))
    merger = next(t for t in doc["spec"]["templates"] if t["name"] == "retrieve-batches")
    merger["script"]["source"] = 'print("{{ workflow.name }}")\n'
    (tmp_path / "pods").mkdir()
    play = ArgoPlayer(yaml.safe_dump(doc), tmp_path / "pods").play()
    assert play.only("retrieve-batches").stdout == WORKFLOW_NAME + "\n"


# -- every tagged notebook file of the test suite -------------------------------------------------

LONG_RUNNING = {"runner/sleeping.ipynb"}
"""Runner fixtures that sleep for minutes on purpose (cancellation tests): not played here."""


def _file_cases() -> list[Path]:
    from helpers import NOTEBOOKS

    from naavre_batch_ext.notebook import load_notebook

    found = []
    for path in sorted(NOTEBOOKS.rglob("*.ipynb")):
        name = path.relative_to(NOTEBOOKS).as_posix()
        if ".ipynb_checkpoints" in path.parts or name in LONG_RUNNING:
            continue
        spec = build_spec(load_notebook(path), path.name)
        if spec["steps"] and not spec["summary"]["errors"]:
            found.append(path)
    return found


FILE_CASES = _file_cases()


def _failed_batches(play: Play) -> set[tuple[str, int | None]]:
    """(task, batch index) of every failed pod, except mergers (they fail for missing batches)."""
    failed = set()
    for task, pods in play.pods.items():
        for pod in pods:
            if pod.returncode != 0 and "are missing" not in pod.stderr:
                failed.add((task, pod.item["index"] if isinstance(pod.item, dict) else None))
    return failed


@pytest.mark.parametrize("path", FILE_CASES, ids=[p.name for p in FILE_CASES])
def test_every_tagged_test_notebook_plays_like_the_local_workflow(
    path: Path, tmp_path: Path
) -> None:
    """Success: same values as the notebook. Failure: the same pods fail as in the local run."""
    from naavre_batch_ext.notebook import load_notebook
    from naavre_batch_ext.runner import run_workflow

    nb = load_notebook(path)
    spec, play = export_and_play(nb, tmp_path, "json-strings")
    local = run_workflow(spec, tmp_path / "notebook.ipynb", runs_dir=tmp_path / "runs")
    if local["status"] == "ok":
        assert_same_as_notebook(spec, play, notebook_context(spec, nb, tmp_path))
        return
    # "Error" when every pod of a fan-out failed: Argo cannot resolve the empty aggregate.
    assert play.phase in ("Failed", "Error")
    expected = {(e["task"], e.get("batch", {}).get("index")) for e in local["errors"]}
    assert _failed_batches(play) == expected
