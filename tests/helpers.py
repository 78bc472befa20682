"""Test fixtures shared by every test module: the example notebooks, tagged the way a user would.

Import with ``from helpers import ...`` (pytest puts ``tests/`` on ``sys.path``). The notebooks in
``tests/notebooks/`` are read-only copies of ``/work/shared/examples``; these helpers tag them in
memory with the real tag API (:func:`naavre_batch_ext.core.tags.set_role`), so a change in the grammar
shows up in every test that uses them.
"""

from __future__ import annotations

import atexit
import copy
import fcntl
import functools
import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import nbformat
import pytest
from nbformat import NotebookNode
from tornado.httpclient import HTTPClientError

from naavre_batch_ext.core.notebook import load_notebook

NOTEBOOKS = Path(__file__).parent / "notebooks"
SEED = NOTEBOOKS / "splitting-batches.ipynb"

SEED_TAGS: dict[int, list[str]] = {
    4: ["naavre:splitter", "naavre:batch-count:param_max_batch_count"],
    6: ["naavre:processor"],
    8: ["naavre:merger"],
}
"""The seed tagged as its text describes: cell 2 is the header (parameters), cells 4/6/8 the steps."""

TUTORIAL_TAGS: dict[str, dict[int, list[str]]] = {
    # The batch tutorial is the seed with extra markdown: same steps, shifted by one cell.
    "splitting-batch": {
        5: ["naavre:splitter", "naavre:batch-count:param_max_batch_count"],
        7: ["naavre:processor"],
        9: ["naavre:merger"],
    },
    # Classic splitting: one instance per item, so the batch count is the item count.
    "splitting-classic": {
        5: ["naavre:splitter", "naavre:batch-count:param_item_count"],
        7: ["naavre:processor"],
        9: ["naavre:merger"],
    },
    # Exercise 2 has no parameters: a literal batch count, and no header.
    "exercise-2-split-and-merge-solution": {
        1: ["naavre:splitter", "naavre:batch-count:2"],
        2: ["naavre:processor"],
        3: ["naavre:merger"],
    },
}

TUTORIALS: tuple[str, ...] = tuple(TUTORIAL_TAGS)


def tag_notebook(
    nb_or_path: NotebookNode | str | Path, tags: Mapping[int, Sequence[str]]
) -> NotebookNode:
    """A copy of the notebook with ``tags`` added to the cells at those indices (others kept)."""
    if isinstance(nb_or_path, (str, Path)):
        nb = load_notebook(nb_or_path)
    else:
        nb = copy.deepcopy(nb_or_path)
    for index, cell_tags in tags.items():
        cell = nb.cells[index]
        existing = list(cell.metadata.get("tags", []))
        cell.metadata["tags"] = existing + [t for t in cell_tags if t not in existing]
    return nb


def tagged_seed_notebook() -> NotebookNode:
    """The seed notebook tagged splitter (cell 4), processor (cell 6), merger (cell 8)."""
    return tag_notebook(SEED, SEED_TAGS)


BROKEN_ITEM_VARIABLE = "SEED_BROKEN_ITEM"
"""The environment variable that makes :func:`seed_with_a_broken_item` fail on one item."""


def seed_with_a_broken_item() -> NotebookNode:
    """The tagged seed whose processor raises ``ValueError: cannot process item N`` for the item
    named by the environment variable :data:`BROKEN_ITEM_VARIABLE` (unset: the seed as it is).

    A failure that depends on the pod's environment stands for one that goes away (a service
    that was down): the fake Argo server gives its pods that environment
    (``FakeArgo.pod_env``), so a test can fail a batch for real, then fix it and retry.
    """
    nb = tagged_seed_notebook()
    cell = nb.cells[6]
    old = "    return item / 42"
    assert old in cell.source
    cell.source = cell.source.replace(
        old,
        "    import os\n"
        f"    if str(item) == os.environ.get('{BROKEN_ITEM_VARIABLE}'):\n"
        "        raise ValueError(f'cannot process item {item}')\n" + old,
    )
    return nb


BROKEN_ITEM_LINE = 8
"""The line of cell 6 of :func:`seed_with_a_broken_item` that raises."""


def tagged_tutorial(name: str) -> NotebookNode:
    """One of the NaaVRE tutorial notebooks (see :data:`TUTORIALS`), tagged."""
    return tag_notebook(NOTEBOOKS / f"{name}.ipynb", TUTORIAL_TAGS[name])


def tagged_seed() -> NotebookNode:
    """Alias of :func:`tagged_seed_notebook`."""
    return tagged_seed_notebook()


def code_notebook(*sources: str, tags: Mapping[int, Sequence[str]] | None = None) -> NotebookNode:
    """A Python notebook built from code-cell sources, with ``tags`` by cell index.

    Cell ids are ``c0``, ``c1``, ... so tests can check located diagnostics.
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for i, src in enumerate(sources):
        cell = nbformat.v4.new_code_cell(src)
        cell.id = f"c{i}"
        nb.cells.append(cell)
    for index, cell_tags in (tags or {}).items():
        nb.cells[index].metadata["tags"] = list(cell_tags)
    return nb


def r_notebook(*sources: str, tags: Mapping[int, Sequence[str]] | None = None) -> NotebookNode:
    """:func:`code_notebook` for the R kernel (IRkernel's kernelspec ``ir``, language ``R``)."""
    nb = code_notebook(*sources, tags=tags)
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.metadata["language_info"] = {"name": "R"}
    return nb


def section_tags(first: int = 0, batch_count: str = "2") -> dict[int, list[str]]:
    """Tags for one section on three consecutive cells from ``first``: splitter (with
    ``naavre:batch-count:<batch_count>``), processor, merger; for :func:`code_notebook`."""
    return {
        first: ["naavre:splitter", f"naavre:batch-count:{batch_count}"],
        first + 1: ["naavre:processor"],
        first + 2: ["naavre:merger"],
    }


def unknown_name_notebook() -> NotebookNode:
    """A tagged notebook with one analysis error: the processor (cell 1) reads a name that no
    earlier step or header defines."""
    return code_notebook("items = [1]", "out = missing_name", "total = out", tags=section_tags())


def write_tmp(nb: NotebookNode, directory: Path, name: str = "nb.ipynb") -> Path:
    """Write a notebook into ``directory`` (a pytest ``tmp_path``) and return its path."""
    path = directory / name
    nbformat.write(nb, str(path))
    return path


class ReferenceRuns(NamedTuple):
    """A test notebook file run locally: the spec, the workflow context and, when that run
    succeeded, the notebook context (``None`` otherwise)."""

    spec: dict[str, Any]
    workflow: dict[str, Any]
    notebook: dict[str, Any] | None


LONG_RUNNING = {"runner/sleeping.ipynb"}
"""Runner fixtures that sleep for minutes on purpose (cancellation tests): no engine runs them."""


@functools.cache
def _notebook_file_specs() -> tuple[tuple[Path, dict[str, Any]], ...]:
    """Every notebook file under tests/notebooks (subfolders too) with its spec, analysed once per
    test process: four modules pick their cases from these when pytest collects them."""
    from naavre_batch_ext.core.spec import build_spec

    return tuple(
        (path, build_spec(load_notebook(path), path.name))
        for path in sorted(NOTEBOOKS.rglob("*.ipynb"))
        if ".ipynb_checkpoints" not in path.parts
    )


def tagged_notebook_files(
    python_only: bool = False, runnable: bool = False
) -> list[tuple[Path, dict[str, Any]]]:
    """The tagged notebook files whose analysis has no error, with their specs (not to be
    changed): ``python_only`` leaves out R notebooks (their exports are tested in
    test_r_exports.py), ``runnable`` the ones that sleep on purpose (:data:`LONG_RUNNING`)."""
    from naavre_batch_ext.steps import r_scripts

    return [
        (path, spec)
        for path, spec in _notebook_file_specs()
        if spec["steps"]
        and not spec["summary"]["errors"]
        and not (python_only and r_scripts.is_r(spec))
        and not (runnable and path.relative_to(NOTEBOOKS).as_posix() in LONG_RUNNING)
    ]


def export_cases() -> list[tuple[str, NotebookNode]]:
    """What the export tests (test_argo.py, test_cwl.py) export: the tagged seed, the tagged
    tutorials and each Python notebook of :func:`tagged_notebook_files`, by name (``seed``,
    ``tutorial:<name>``, ``file:<path under tests/notebooks>``). R exports have their own tests,
    test_r_exports.py: another runtime, loader and command."""
    return [
        ("seed", tagged_seed_notebook()),
        *((f"tutorial:{name}", tagged_tutorial(name)) for name in TUTORIALS),
        *(
            (f"file:{path.relative_to(NOTEBOOKS).as_posix()}", load_notebook(path))
            for path, _ in tagged_notebook_files(python_only=True)
        ),
    ]


SHARED_RUNS_ENV = "NAAVRE_TEST_SHARED_RUNS"
"""A folder every test process of one pytest run shares (tests/conftest.py makes it in the
controller, and pytest-xdist's workers inherit it): the reference runs are computed there once."""


@functools.cache
def _reference_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="naavre-reference-runs-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _run_references(path: Path, folder: Path) -> ReferenceRuns:
    from naavre_batch_ext.core.spec import build_spec
    from naavre_batch_ext.engines.runner import run_notebook, run_workflow

    nb = load_notebook(path)
    notebook = write_tmp(nb, folder, path.name)
    spec = build_spec(nb, path.name)
    workflow = run_workflow(spec, notebook, runs_dir=folder / "runs")
    nb_run = run_notebook(spec, nb, notebook) if workflow["status"] == "ok" else None
    return ReferenceRuns(spec, workflow, nb_run)


def _run_in_own_folder(path: Path) -> ReferenceRuns:
    """:func:`_run_references` in a folder of this process's own."""
    return _run_references(path, Path(tempfile.mkdtemp(dir=_reference_folder())))


@functools.cache
def reference_runs(path: Path) -> ReferenceRuns:
    """The local workflow context and notebook context of the notebook file ``path``, run once per
    pytest run.

    The engine tests (the Argo player in three encodings, cwltool, the R exports) each compare
    their engine's run with these two runs; running both again for every engine and encoding was
    half of those tests' time, and the two runs read nothing but the notebook file. With
    pytest-xdist, the first worker to ask runs them in the shared folder, under a lock, and leaves
    them pickled (types kept) for the other: a notebook's engine tests are spread over both
    workers, and each ran them before. Runs holding values pickle cannot write (of classes the
    notebook defines, very deep lists) are run by each process. Callers must not change the
    dicts they get."""
    shared = os.environ.get(SHARED_RUNS_ENV)
    if not shared:
        return _run_in_own_folder(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    folder = Path(shared) / f"{path.stem}-{digest}"
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        done, own = folder / "runs.pickle", folder / "runs-not-picklable"
        if done.exists():
            runs: ReferenceRuns = pickle.loads(done.read_bytes())
            return runs
        if own.exists():  # each process runs its own
            return _run_in_own_folder(path)
        shutil.rmtree(folder, ignore_errors=True)  # a worker that died half-way
        folder.mkdir()
        runs = _run_references(path, folder)
        try:
            done.write_bytes(pickle.dumps(runs))
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            # values of classes the notebook defines (stand-ins, not importable by name), lists
            # nested deeper than pickle's recursion
            own.touch()
        return runs


def pid_exists(pid: int) -> bool:
    """True while a process with this id exists (a zombie still counts: it was not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_pid_files(folder: Path, count: int, timeout: float = 30) -> list[int]:
    """The process ids named by the files in ``folder`` (the runner's ``sleeping`` notebook
    writes one per process it starts), once there are ``count`` of them or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while len(list(folder.iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [int(p.name) for p in folder.iterdir()]


# -- REST API ----------------------------------------------------------------------------------


async def api_post(
    jp_fetch: Any, endpoint: str, body: Any, raw: bool = False, code: int = 200
) -> dict[str, Any]:
    """POST ``body`` (JSON-encoded unless ``raw``) to ``/naavre-batch-ext/<endpoint>``; the reply,
    which must have status ``code``."""
    response = await jp_fetch(
        "naavre-batch-ext", endpoint, method="POST", body=body if raw else json.dumps(body)
    )
    assert response.code == code
    result: dict[str, Any] = json.loads(response.body)
    return result


async def api_error(
    jp_fetch: Any, endpoint: str, body: Any, raw: bool = False
) -> tuple[int, dict[str, Any]]:
    """POST a request that must fail; its HTTP status and JSON error body."""
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch(
            "naavre-batch-ext", endpoint, method="POST", body=body if raw else json.dumps(body)
        )
    assert error.value.response is not None
    return error.value.code, json.loads(error.value.response.body)


async def api_call(
    jp_fetch: Any, *path: str, method: str = "GET", **kwargs: Any
) -> tuple[int, Any]:
    """Any extension request: its HTTP status and JSON body, an error status as well."""
    if method in ("POST", "PUT") and "body" not in kwargs:
        kwargs["body"] = "{}"
    try:
        response = await jp_fetch("naavre-batch-ext", *path, method=method, **kwargs)
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body)
    return response.code, json.loads(response.body)


def start_cli_run(notebook: Path, context: str, pids: Path) -> subprocess.Popen[bytes]:
    """``python -m naavre_batch_ext run`` on a notebook whose step processes (and kernel) write
    their pids into ``pids`` (``param_pid_dir``), parallelism 2, output captured: for the tests
    that signal the CLI and then look for processes left behind."""
    root = Path(__file__).parent.parent
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "naavre_batch_ext",
            "run",
            str(notebook),
            "--context",
            context,
            "-p",
            f"param_pid_dir={pids}",
            "--parallelism",
            "2",
        ],  # fmt: skip
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def sections_notebook(count: int, header: str = "param_scale = 2", cell: str = "") -> Any:
    """A header and ``count`` sections (split, process, merge), each with its own variables."""
    cells = [header]
    tags: dict[int, list[str]] = {}
    for k in range(count):
        tags[len(cells)] = ["naavre:splitter", "naavre:batch-count:3", f"naavre:split:items_{k}"]
        tags[len(cells) + 1] = ["naavre:processor"]
        tags[len(cells) + 2] = ["naavre:merger"]
        cells += [
            f"items_{k} = list(range(10))\nlabel_{k} = 'section {k}'",
            f"{cell}out_{k} = [x * param_scale for x in items_{k}]",
            f"total_{k} = sum(out_{k})\nprint(label_{k}, total_{k})",
        ]
    return code_notebook(*cells, tags=tags)


def _keep_the_standard_schema() -> None:
    """cwltool.main.main's ``custom_schema_callback``: without one, ``setup_schema`` (cwltool/
    main.py) calls ``use_standard_schema`` for every CWL version, which empties
    cwltool/process.py's ``SCHEMA_CACHE``, so each call parsed the CWL metaschema again with
    ruamel (about 2 s of CPU, 80% of a validation). The standard schema stays what it is: this
    only keeps the copy ``get_schema`` already loaded in this process."""


def cwltool_exit(argv: list[str]) -> str:
    """``cwltool ARGV`` run in this process (cwltool.main.main, the command's own entry point):
    "" for exit 0, else everything it printed and logged."""
    from cwltool.main import main as cwltool_main  # optional: the [cwl] extra

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    code = cwltool_main(
        ["--disable-color", *argv],
        stdout=out,
        stderr=out,
        logger_handler=handler,
        custom_schema_callback=_keep_the_standard_schema,
    )
    return "" if code == 0 else out.getvalue() or f"exit {code}"
