"""Malformed notebooks, generated: every field of the tagged seed gets a value of each wrong JSON
type, is deleted, or is nested far too deep, and ``naavre-batch check`` and ``POST spec`` must
answer each with a result or a located refusal: no traceback, no 500, and a message that names
the field (``cell 4: 'metadata.tags' ...``, ``'metadata.kernelspec' ...``).

Fields the core does not read (outputs, ``execution_count``, ``language_info.version``...) may stay
malformed, as JupyterLab leaves them: the analysis then succeeds (exit 0/1, 200).
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import NOTEBOOKS, TUTORIAL_TAGS, api_error, tag_notebook
from tornado.httpclient import HTTPClientError

from naavre_batch_ext.cli import main
from naavre_batch_ext.core.notebook import MAX_DEPTH
from naavre_batch_ext.core.spec import validate_spec

Path_ = list[str | int]

WRONG_VALUES: list[Any] = [None, True, 7, 2.5, "text", [], {}, [1, {"a": None}], {"k": [2]}]
"""One value of each JSON type (and non-empty containers), to put where another type belongs."""


EXTRA_CELLS: list[dict[str, Any]] = [
    # The nbformat v4 schema's fields the tutorial does not use: every output type, cell metadata.
    {
        "cell_type": "code",
        "id": "extra-code",
        "execution_count": 3,
        "metadata": {
            "collapsed": False,
            "scrolled": True,
            "jupyter": {"source_hidden": False},
            "execution": {"iopub.status.busy": "2024-01-01T00:00:00Z"},
            "name": "tail",
        },
        "source": ["shown = 1\n", "shown"],
        "outputs": [
            {
                "output_type": "execute_result",
                "execution_count": 3,
                "metadata": {},
                "data": {"text/plain": ["1"], "application/json": {"a": [1]}},
            },
            {
                "output_type": "display_data",
                "metadata": {"image/png": {"width": 10}},
                "data": {"text/plain": "plot"},
            },
            {
                "output_type": "error",
                "ename": "ValueError",
                "evalue": "bad",
                "traceback": ["Traceback", "ValueError: bad"],
            },
        ],
    },
    {"cell_type": "raw", "id": "extra-raw", "metadata": {"format": "text/plain"}, "source": "raw"},
]


def seed_data() -> dict[str, Any]:
    """The batch tutorial (outputs, attachments, language_info), tagged, with cells that use the
    rest of the schema: plain JSON, as on disk."""
    nb = tag_notebook(NOTEBOOKS / "splitting-batch.ipynb", TUTORIAL_TAGS["splitting-batch"])
    data: dict[str, Any] = json.loads(json.dumps(nb))
    data["cells"].extend(copy.deepcopy(EXTRA_CELLS))
    data["metadata"]["title"] = "batches"
    data["metadata"]["authors"] = [{"name": "A. Scientist"}]
    return data


def paths(value: Any, prefix: Path_ | None = None) -> Iterator[Path_]:
    """Every path to a value inside ``value`` (dict keys and list indices)."""
    prefix = prefix or []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        yield [*prefix, key]
        if isinstance(child, (dict, list)):
            yield from paths(child, [*prefix, key])


def pattern(path: Path_) -> tuple[str, ...]:
    """A path with list indices as ``*``: one nbformat schema field (``cells.*.metadata.tags``)."""
    return tuple("*" if isinstance(p, int) else p for p in path)


def one_path_per_field(data: dict[str, Any], rng: random.Random) -> list[Path_]:
    """For each field pattern of the seed, one concrete path picked at random."""
    by_pattern: dict[tuple[str, ...], list[Path_]] = {}
    for path in paths(data):
        by_pattern.setdefault(pattern(path), []).append(path)
    return [rng.choice(found) for _, found in sorted(by_pattern.items())]


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def mutations() -> list[tuple[str, Path_, Any]]:
    """``(kind, path, value)``: each field with each wrong type, deleted, or nested too deep."""
    rng = random.Random(13)
    data = seed_data()
    found: list[tuple[str, Path_, Any]] = []
    for path in one_path_per_field(data, rng):
        current = get(data, path)
        for value in WRONG_VALUES:
            if type(value) is not type(current):
                found.append(("type", path, value))
        if isinstance(path[-1], str):
            found.append(("delete", path, None))
    for path in rng.sample(one_path_per_field(data, rng), 8) + [["metadata"], ["cells", 5]]:
        found.append(("nest", path, MAX_DEPTH + 5))  # json parses it; the depth check refuses
        found.append(("nest", path, 100_000))  # deeper than json itself can parse
    return found


def get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def mutate(kind: str, path: Path_, value: Any) -> str:
    """The seed's JSON text with one mutation."""
    data = copy.deepcopy(seed_data())
    parent = get(data, path[:-1])
    if kind == "delete":
        del parent[path[-1]]
        return json.dumps(data)
    if kind == "type":
        parent[path[-1]] = value
        return json.dumps(data)
    parent[path[-1]] = "@NESTED@"
    return json.dumps(data).replace('"@NESTED@"', "[" * value + "0" + "]" * value)


def expected_words(path: Path_) -> list[str]:
    """What a refusal must name: the cell (``cell 4``) and the last field name on the path."""
    words = []
    if len(path) >= 2 and path[0] == "cells":
        words.append(f"cell {path[1]}")
    names = [p for p in path if isinstance(p, str) and not (p == "cells" and len(path) > 1)]
    if names:
        words.append(names[-1])
    return words


MUTATIONS = mutations()


def case_id(case: tuple[str, Path_, Any]) -> str:
    kind, path, value = case
    shown = ".".join(str(p) for p in path)
    if kind == "type":
        return f"{shown}={json.dumps(value)}"
    return f"{shown}:{kind}" + (f"{value}" if kind == "nest" else "")


def test_the_mutations_cover_every_field_of_the_seed() -> None:
    fields = {pattern(p) for p in paths(seed_data())}
    assert {pattern(path) for _, path, _ in MUTATIONS} == fields
    for field in [
        ("metadata", "kernelspec", "name"),
        ("metadata", "language_info", "name"),
        ("cells", "*", "metadata", "tags", "*"),
        ("cells", "*", "outputs", "*", "traceback", "*"),
        ("cells", "*", "attachments"),
    ]:
        assert field in fields


@pytest.fixture(scope="module")
def cases_by_kind() -> dict[str, list[tuple[str, Path_, Any]]]:
    grouped: dict[str, list[tuple[str, Path_, Any]]] = {}
    for case in MUTATIONS:
        grouped.setdefault(case[0], []).append(case)
    return grouped


def check_problem(
    case: tuple[str, Path_, Any], folder: Path, capsys: pytest.CaptureFixture[str]
) -> str | None:
    """What is wrong with ``naavre-batch check``'s answer to one malformed notebook (None: nothing)."""
    kind, path, value = case
    notebook = folder / "malformed.ipynb"
    notebook.write_text(mutate(kind, path, value), encoding="utf-8")
    try:
        code = main(["check", str(notebook)])
    except Exception as error:  # the traceback a user would see
        return f"raised {error!r}"
    err = capsys.readouterr().err
    if code not in (0, 1, 2) or "Traceback" in err:
        return f"exit {code}: {err}"
    if code == 2:
        if not err.startswith(f"naavre-batch: error: {notebook}: "):
            return f"unlocated: {err}"
        missing = [word for word in expected_words(path) if word not in err]
        if missing:
            return f"{err} does not name {missing}"
    if kind == "nest" and not (code == 2 and "nested more than" in err):
        return f"nesting not refused (exit {code}): {err}"  # refused wherever it is
    return None


@pytest.mark.parametrize("kind", ["type", "delete", "nest"])
def test_check_answers_every_malformed_notebook_without_a_traceback(
    kind: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cases_by_kind: dict[str, list[Any]],
) -> None:
    """Every mutation of the kind, in a loop (not one test item each: pytest-xdist's per-item
    cost was most of their time); a failure names each case and what is wrong with its answer."""
    problems = {
        case_id(case): problem
        for case in cases_by_kind[kind]
        if (problem := check_problem(case, tmp_path, capsys))
    }
    assert problems == {}


@pytest.mark.parametrize("kind", ["type", "delete", "nest"])
async def test_post_spec_answers_every_malformed_notebook_with_200_or_a_located_400(
    kind: str, jp_fetch: Any, jp_root_dir: Path, cases_by_kind: dict[str, list[Any]]
) -> None:
    """As unsaved content (``notebook`` in the body) and as the saved file (``path`` only)."""
    for _, path, value in cases_by_kind[kind]:
        text = mutate(kind, path, value)
        (jp_root_dir / "malformed.ipynb").write_text(text, encoding="utf-8")
        bodies = [
            json.dumps({"path": "malformed.ipynb"}),
            '{"path": "unsaved.ipynb", "notebook": ' + text + "}",
        ]
        for body in bodies:
            try:
                response = await jp_fetch("naavre-batch-ext", "spec", method="POST", body=body)
            except HTTPClientError as error:
                assert error.code == 400, (path, value, error.code)
                assert error.response is not None
                message = json.loads(error.response.body)["message"]
                for word in expected_words(path):
                    assert word in message, (word, message)
            else:
                assert kind != "nest", path
                validate_spec(json.loads(response.body))  # accepted: a spec like any other


async def test_a_kernelspec_given_as_text_is_a_located_400_for_export_and_runs(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    """The case found by hand: ``"kernelspec": "python3"`` crashed export and runs with a 500."""
    data = seed_data()
    data["metadata"]["kernelspec"] = "python3"
    (jp_root_dir / "nb.ipynb").write_text(json.dumps(data), encoding="utf-8")
    for endpoint in ("export", "runs"):
        code, reply = await api_error(jp_fetch, endpoint, {"path": "nb.ipynb"})
        assert code == 400
        assert "'metadata.kernelspec' is not an object" in reply["message"]


def test_run_refuses_a_deeply_nested_notebook_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(NOTEBOOKS / "splitting-batches-tagged.ipynb", tmp_path / "nb.ipynb")
    text = mutate("nest", ["metadata"], 100_000)
    (tmp_path / "nb.ipynb").write_text(text, encoding="utf-8")
    assert main(["run", str(tmp_path / "nb.ipynb"), "--context", "workflow"]) == 2
    assert "'metadata[0][0][0][0][0]" in capsys.readouterr().err
    assert not (tmp_path / ".naavre-batch").exists()
