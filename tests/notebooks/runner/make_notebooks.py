"""Write the runner's test notebooks (run from anywhere: ``python tests/notebooks/runner/make_notebooks.py``).

Each notebook is a small, tagged case the runner must handle; the cells are kept as plain text here
so a reader sees what each notebook does without opening JSON.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent

SPLITTER = "naavre:splitter"
PROCESSOR = "naavre:processor"
MERGER = "naavre:merger"

NOTEBOOKS: dict[str, list[tuple[list[str], str]]] = {
    # An instance that raises: item 7 lands in the third of three batches (items 7..9).
    "failing-instance": [
        ([], "# parameters\nparam_fail_at = 7\n"),
        ([SPLITTER, "naavre:batch-count:3"], "# make items\nitems = list(range(10))\n"),
        (
            [PROCESSOR],
            (
                "# double items\n"
                "doubled = []\n"
                "for x in items:\n"
                "    if x == param_fail_at:\n"
                "        raise ValueError(f'cannot double item {x}')\n"
                "    doubled.append(2 * x)\n"
            ),
        ),
        ([MERGER], "# total\ntotal = sum(doubled)\nprint(total)\n"),
    ],
    # A function crosses a step boundary: JSON cannot carry it.
    "non-json": [
        (
            [SPLITTER, "naavre:batch-count:2", "naavre:split:items"],
            "# make items\nitems = [1, 2, 3]\nscale = lambda x: 10 * x\n",
        ),
        ([PROCESSOR], "# scale items\nscaled = [scale(x) for x in items]\n"),
        ([MERGER], "# show\nprint(scaled)\n"),
    ],
    # The processor fills a list the splitter created (in-place mutation, no assignment).
    "mutation": [
        (
            [SPLITTER, "naavre:batch-count:3", "naavre:split:items"],
            "# make items\nitems = list(range(7))\nresults = []\n",
        ),
        ([PROCESSOR], "# square items\nfor x in items:\n    results.append(x * x)\n"),
        ([MERGER], "# sum squares\ntotal = sum(results)\nprint(results, total)\n"),
    ],
    # Two sections one after the other; the second splits what the first merged, with a broadcast.
    "two-sections": [
        ([], "# parameters\nparam_offset = 100\n"),
        (
            [SPLITTER, "naavre:batch-count:2"],
            "# words\nwords = ['alpha', 'be', 'gamma', 'delta', 'e']\n",
        ),
        ([PROCESSOR], "# lengths\nlengths = [len(w) for w in words]\n"),
        ([MERGER], "# scale lengths\nnumbers = [10 * n for n in lengths]\n"),
        (
            [SPLITTER, "naavre:batch-count:3", "naavre:split:values"],
            "# values\nvalues = numbers + [param_offset]\nshift = 1\n",
        ),
        ([PROCESSOR], "# shifted squares\nsquares = [(v + shift) ** 2 for v in values]\n"),
        ([MERGER], "# total\ntotal = sum(squares)\nprint(total)\n"),
    ],
    # An empty list to split: one instance with an empty batch.
    "empty-list": [
        ([], "# parameters\nparam_n = 0\n"),
        ([SPLITTER, "naavre:batch-count:3"], "# items\nitems = list(range(param_n))\n"),
        ([PROCESSOR], "# plus one\nplus = [x + 1 for x in items]\n"),
        ([MERGER], "# count\ncount = len(plus)\nprint(count, plus)\n"),
    ],
    # Code full of braces that Argo must not template: {{ }} in strings, dict and set literals.
    "braces": [
        ([], "# parameters\nparam_label = 'n'\n"),
        (
            [SPLITTER, "naavre:batch-count:2", "naavre:split:items"],
            "# items\nitems = [{'k': {'v': i}} for i in range(5)]\ntemplate = '{{ x }}'\n",
        ),
        (
            [PROCESSOR],
            (
                "# render\n"
                "seen = {1, 2}\n"
                "rendered = [f\"{{{param_label}}}={it['k']['v']}\" + template for it in items]\n"
                "nested = [{'a': {'b': [it]}} for it in items]\n"
            ),
        ),
        ([MERGER], "# show\nprint(rendered, nested)\n"),
    ],
    # A processor output read after the merge that is not a list.
    "not-a-list": [
        ([SPLITTER, "naavre:batch-count:2"], "# items\nitems = [1, 2, 3, 4]\n"),
        ([PROCESSOR], "# sum\nsubtotal = sum(items)\n"),
        ([MERGER], "# show\nprint(subtotal)\n"),
    ],
    # A header statement that uses a parameter must see the overridden value.
    "header-uses-param": [
        ([], "# parameters\nparam_n = 3\nlimit = param_n * 2\n"),
        ([SPLITTER, "naavre:batch-count:2"], "# items\nitems = list(range(limit))\n"),
        ([PROCESSOR], "# negate\nnegated = [-x for x in items]\n"),
        ([MERGER], "# show\nprint(negated)\n"),
    ],
    # A slow processor that records its pid, for cancellation tests.
    "sleeping": [
        ([], "# parameters\nparam_pid_dir = '.'\n"),
        ([SPLITTER, "naavre:batch-count:2"], "# items\nitems = [1, 2]\n"),
        (
            [PROCESSOR],
            (
                "# sleep\nimport os, time\n"
                "open(os.path.join(param_pid_dir, str(os.getpid())), 'w').close()\n"
                "time.sleep(120)\nslept = list(items)\n"
            ),
        ),
        ([MERGER], "# show\nprint(slept)\n"),
    ],
}


def build(cells: list[tuple[list[str], str]]) -> nbformat.NotebookNode:
    """A Python 3 notebook with one markdown title and the given (tags, source) code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    title = nbformat.v4.new_markdown_cell("# runner test notebook")
    title.id = "title"
    nb.cells.append(title)
    for i, (tags, source) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source)
        cell.id = f"cell-{i}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), str(HERE / f"{name}.ipynb"))


if __name__ == "__main__":
    main()
