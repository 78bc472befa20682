"""Test fixtures shared by every test module: the example notebooks, tagged the way a user would.

Import with ``from helpers import ...`` (pytest puts ``tests/`` on ``sys.path``). The notebooks in
``tests/notebooks/`` are read-only copies of ``/work/shared/examples``; these helpers tag them in
memory with the real tag API (:func:`naavre_batch_ext.tags.set_role`), so a change in the grammar
shows up in every test that uses them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from naavre_batch_ext.notebook import load_notebook

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


def write_tmp(nb: NotebookNode, directory: Path, name: str = "nb.ipynb") -> Path:
    """Write a notebook into ``directory`` (a pytest ``tmp_path``) and return its path."""
    path = directory / name
    nbformat.write(nb, str(path))
    return path
