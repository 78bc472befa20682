"""Write the value-transport test notebooks (``python tests/notebooks/values/make_notebooks.py``).

Each notebook passes between steps the kind of value scientists pass (DataFrames, numpy arrays,
tuples, dates, dataclasses, exact numbers) and prints it in the merger, so ``run --context both``
checks both the values and what the merger prints. ``pid-in-merger`` prints something that differs
between the two contexts on purpose while every value is the same: it must get "not the same".
The cells are plain text here so a reader sees what each notebook does without opening JSON.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent

SPLITTER = "naavre:splitter"
PROCESSOR = "naavre:processor"
MERGER = "naavre:merger"

NOTEBOOKS: dict[str, list[tuple[list[str], str]]] = {
    # A DataFrame split by rows; each processor instance computes a column for its rows.
    "dataframe-rows": [
        ([], "# parameters\nimport pandas as pd\nparam_rows = 12\n"),
        (
            [SPLITTER, "naavre:batch-count:4"],
            (
                "# plots\n"
                "plots = pd.DataFrame(\n"
                "    {\n"
                "        'plot': [f'p{i}' for i in range(param_rows)],\n"
                "        'height_cm': [100 + 7.5 * i for i in range(param_rows)],\n"
                "        'species': pd.Categorical(\n"
                "            [['oak', 'pine', 'birch'][i % 3] for i in range(param_rows)]\n"
                "        ),\n"
                "    },\n"
                "    index=pd.date_range('2024-05-01', periods=param_rows, name='day'),\n"
                ")\n"
            ),
        ),
        (
            [PROCESSOR],
            "# heights in metres\nmeasured = plots.assign(height_m=plots['height_cm'] / 100)\n",
        ),
        ([MERGER], "# show\nprint(measured)\nprint(measured.dtypes)\n"),
    ],
    # A 2-D numpy array split on its first axis: per-row norms (1-D) and a scaled grid (2-D).
    "array-rows": [
        ([], "# parameters\nimport numpy as np\nparam_rows = 10\n"),
        (
            [SPLITTER, "naavre:batch-count:3"],
            "# grid\ngrid = np.arange(param_rows * 3, dtype=np.float64).reshape(param_rows, 3) / 7\n",
        ),
        (
            [PROCESSOR],
            "# per row\nnorms = np.sqrt((grid**2).sum(axis=1))\nscaled = grid * 2.5\n",
        ),
        (
            [MERGER],
            "# show\nprint(norms)\nprint(scaled.shape, scaled.dtype)\nprint(scaled[-1])\n",
        ),
    ],
    # A list of tuples holding dates: they must arrive as tuples and dates, not lists and strings.
    "tuples-and-dates": [
        ([], "# parameters\nimport datetime\nparam_days = 7\n"),
        (
            [SPLITTER, "naavre:batch-count:3"],
            (
                "# visits\n"
                "start = datetime.date(2024, 2, 26)\n"
                "visits = [(i, start + datetime.timedelta(days=i)) for i in range(param_days)]\n"
            ),
        ),
        (
            [PROCESSOR],
            "# weekdays\nweekdays = [(i, day, day.isoweekday()) for i, day in visits]\n",
        ),
        (
            [MERGER],
            (
                "# show\n"
                "print(weekdays)\n"
                "print([type(x).__name__ for x in weekdays[0]], type(weekdays[0]).__name__)\n"
            ),
        ),
    ],
    # A dataclass defined in the header: its instances cross every step boundary.
    "dataclass": [
        (
            [],
            (
                "# parameters and types\n"
                "from dataclasses import dataclass\n"
                "\n"
                "param_plots = 6\n"
                "\n"
                "\n"
                "@dataclass\n"
                "class Plot:\n"
                "    name: str\n"
                "    height: float\n"
            ),
        ),
        (
            [SPLITTER, "naavre:batch-count:4"],
            "# plots\nplots = [Plot(f'p{i}', i * 0.5) for i in range(param_plots)]\n",
        ),
        ([PROCESSOR], "# grow\ntaller = [Plot(p.name, p.height * 2) for p in plots]\n"),
        ([MERGER], "# show\nprint(taller)\nprint(type(taller[0]).__name__)\n"),
    ],
    # Equal values, but the merger prints its process id: different in the two contexts on
    # purpose, so the comparison must say "not the same" and name the printed difference.
    "pid-in-merger": [
        ([SPLITTER, "naavre:batch-count:2"], "# items\nitems = [1, 2, 3, 4]\n"),
        ([PROCESSOR], "# double\ndoubled = [2 * x for x in items]\n"),
        (
            [MERGER],
            "# show\nimport os\n\nprint('total:', sum(doubled))\nprint('merger process:', os.getpid())\n",
        ),
    ],
    # Values JSON would change, sent by the splitter to the processors (broadcast) and the merger.
    "exact-values": [
        ([], "# parameters\nfrom decimal import Decimal\nparam_n = 5\n"),
        (
            [SPLITTER, "naavre:batch-count:2", "naavre:split:items"],
            (
                "# items and constants\n"
                "items = list(range(param_n))\n"
                "names = {1: 'one', 2: 'two', 3: 'three'}\n"
                "price = Decimal('1.10')\n"
                "kinds = {'oak', 'pine'}\n"
                "specials = [float('nan'), float('inf'), -0.0, 0.0]\n"
                "big = 2**60 + 1\n"
            ),
        ),
        ([PROCESSOR], "# label\nlabels = [names.get(x, '?') for x in items]\n"),
        (
            [MERGER],
            (
                "# show\n"
                "print(labels, names)\n"
                "print(price, price * 3, sorted(kinds), specials, big, float(big))\n"
                "print([type(v).__name__ for v in (names, price, kinds, big)], list(names))\n"
            ),
        ),
    ],
    # Subclasses of builtins defined in the header, whose values differ between the contexts on
    # purpose: each processor instance sees its own batch (fewer than 4 items) in the workflow,
    # all 8 items in the notebook. Nothing printed differs, so only the values can tell.
    "builtin-subclasses-differ": [
        (
            [],
            (
                "# types\n"
                "from collections import namedtuple\n"
                "\n"
                "\n"
                "class Num(int):\n"
                "    pass\n"
                "\n"
                "\n"
                "class Real(float):\n"
                "    pass\n"
                "\n"
                "\n"
                "class Name(str):\n"
                "    pass\n"
                "\n"
                "\n"
                "class Pair(tuple):\n"
                "    pass\n"
                "\n"
                "\n"
                "Point = namedtuple('Point', 'x y')\n"
            ),
        ),
        ([SPLITTER, "naavre:batch-count:4"], "# items\nitems = list(range(8))\n"),
        (
            [PROCESSOR],
            (
                "# per batch\n"
                "v = 99 if len(items) < 4 else 0\n"
                "nums = [Num(v) for x in items]\n"
                "reals = [Real(v / 2) for x in items]\n"
                "names = [Name(f'n{v}') for x in items]\n"
                "pairs = [Pair((x, v)) for x in items]\n"
                "points = [Point(x, v) for x in items]\n"
            ),
        ),
        (
            [MERGER],
            "# show\nprint(len(nums), len(reals), len(names), len(pairs), len(points))\n",
        ),
    ],
    # Header classes pickle rebuilds in other ways (enum, frozen dataclass, date and builtin
    # subclasses, list and dict subclasses filled item by item): equal in both contexts.
    "builtin-subclasses-same": [
        (
            [],
            (
                "# types\n"
                "import datetime\n"
                "import enum\n"
                "from collections import namedtuple\n"
                "from dataclasses import dataclass\n"
                "\n"
                "\n"
                "class Colour(enum.Enum):\n"
                "    RED = 1\n"
                "    BLUE = 2\n"
                "\n"
                "\n"
                "@dataclass(frozen=True)\n"
                "class Tag:\n"
                "    label: str\n"
                "\n"
                "\n"
                "class Day(datetime.date):\n"
                "    pass\n"
                "\n"
                "\n"
                "class Num(int):\n"
                "    pass\n"
                "\n"
                "\n"
                "class MyList(list):\n"
                "    pass\n"
                "\n"
                "\n"
                "class MyDict(dict):\n"
                "    pass\n"
                "\n"
                "\n"
                "Point = namedtuple('Point', 'x y')\n"
            ),
        ),
        (
            [SPLITTER, "naavre:batch-count:2", "naavre:split:items"],
            (
                "# items\n"
                "items = [Num(i) for i in range(4)]\n"
                "config = MyDict(a=1, b=[Num(2)])\n"
                "config.note = 'kept'\n"
            ),
        ),
        (
            [PROCESSOR],
            (
                "# wrap\n"
                "wrapped = [\n"
                "    (Colour(1 + x % 2), Tag(f't{x}'), Day(2024, 1, 1 + x), Point(x, -x),\n"
                "     MyList([x, config['a']]))\n"
                "    for x in items\n"
                "]\n"
            ),
        ),
        ([MERGER], "# show\nprint(wrapped)\nprint(config, config.note)\n"),
    ],
    # A class whose method names the class itself, in the header and in a step.
    "class-names-itself": [
        (
            [],
            (
                "# types\n"
                "class Vec:\n"
                "    def __init__(self, x):\n"
                "        self.x = x\n"
                "\n"
                "    def double(self):\n"
                "        return Vec(self.x * 2)\n"
            ),
        ),
        (
            [SPLITTER, "naavre:batch-count:2"],
            (
                "# items\n"
                "class Box:\n"
                "    def __init__(self, v):\n"
                "        self.v = v\n"
                "\n"
                "    def again(self):\n"
                "        return Box(self.v)\n"
                "\n"
                "\n"
                "items = [Vec(i).double().x + Box(i).again().v for i in range(4)]\n"
            ),
        ),
        ([PROCESSOR], "# grow\ngrown = [Vec(x).double().x for x in items]\n"),
        ([MERGER], "# show\nprint(grown)\n"),
    ],
    # A list nested 600 deep crosses every boundary and is compared (no recursion limit).
    "deep-list": [
        (
            [SPLITTER, "naavre:batch-count:2"],
            ("# items\nitems = [1, 2, 3]\ndeep = [0]\nfor _ in range(600):\n    deep = [deep]\n"),
        ),
        ([PROCESSOR], "# double\ndoubled = [2 * x for x in items]\n"),
        (
            [MERGER],
            "# show\ndepth = 0\nd = deep\nwhile isinstance(d, list):\n    d, depth = d[0], depth + 1\nprint(sum(doubled), depth)\n",
        ),
    ],
    # A list nested deeper than Python's recursion limit cannot be written: a clear refusal that
    # names the variable, in both contexts, never a traceback.
    "too-deep-list": [
        (
            [SPLITTER, "naavre:batch-count:2"],
            ("# items\nitems = [1, 2, 3]\ndeep = [0]\nfor _ in range(5000):\n    deep = [deep]\n"),
        ),
        ([PROCESSOR], "# double\ndoubled = [2 * x for x in items]\n"),
        ([MERGER], "# show\nprint(sum(doubled), len(deep))\n"),
    ],
    # A splitter hands on a dict holding a function: the notebook context warns once, naming
    # where inside the variable the function is; the workflow's splitter fails the same way.
    "function-in-dict": [
        (
            [SPLITTER, "naavre:batch-count:2", "naavre:split:items"],
            "# items\nitems = [1, 2]\nbox = {'k': [1, lambda y: y]}\n",
        ),
        ([PROCESSOR], "# use\nout = [x + len(box) for x in items]\n"),
        ([MERGER], "# show\nprint(out)\n"),
    ],
    # A class defined in the splitter, whose instances the processors receive.
    "class-in-splitter": [
        (
            [SPLITTER, "naavre:batch-count:2"],
            (
                "# items\n"
                "class P:\n"
                "    def __init__(self, v):\n"
                "        self.v = v\n"
                "\n"
                "\n"
                "items = [P(1), P(2)]\n"
            ),
        ),
        ([PROCESSOR], "# values\nout = [p.v for p in items]\n"),
        ([MERGER], "# show\nprint(out)\n"),
    ],
    # The merger fails: endless recursion in a function of the same cell, then sys.exit(1).
    "recursion-in-merger": [
        ([SPLITTER, "naavre:batch-count:2"], "# items\nitems = [1, 2]\n"),
        ([PROCESSOR], "# copy\nout = list(items)\n"),
        ([MERGER], "# show\ndef f(n):\n    return f(n + 1)\n\n\nf(0)\n"),
    ],
    "exit-in-merger": [
        ([SPLITTER, "naavre:batch-count:2"], "# items\nitems = [1, 2]\n"),
        ([PROCESSOR], "# copy\nout = list(items)\n"),
        ([MERGER], "# show\nimport sys\n\nprint(out)\nsys.exit(1)\n"),
    ],
    # A merger printing a set of strings: its order depends on the strings' hashes, the same in
    # both contexts only when every process has the same PYTHONHASHSEED.
    "set-of-strings": [
        (
            [SPLITTER, "naavre:batch-count:3"],
            "# items\nitems = ['oak', 'pine', 'birch', 'ash', 'elm', 'yew', 'fir', 'lime']\n",
        ),
        ([PROCESSOR], "# upper\nnames = [x.upper() for x in items]\n"),
        ([MERGER], "# show\nprint(set(names))\nprint(set(items) | {'larch'})\n"),
    ],
    # Display-only magics in the header and a step: no-ops in workflow steps, the same result.
    # (No %matplotlib here: the test environment has no matplotlib to make it work in the
    # notebook context either.)
    "display-magics": [
        ([], "# setup\n%load_ext autoreload\n%autoreload 2\n%precision 3\nparam_n = 4\n"),
        ([SPLITTER, "naavre:batch-count:2"], "# items\nitems = [x / 3 for x in range(param_n)]\n"),
        (
            [PROCESSOR],
            "# halve\n%config Completer.use_jedi = False\nhalves = [x / 2 for x in items]\n",
        ),
        ([MERGER], "# show\nprint(halves)\n"),
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
    title = nbformat.v4.new_markdown_cell("# value transport test notebook")
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
