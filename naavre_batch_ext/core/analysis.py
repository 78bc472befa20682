"""From a tagged notebook to header, parameters, steps, sections, data flow and diagnostics.

Pure functions over an ``nbformat`` notebook: no kernel is started and no user code runs. Each code
cell goes through IPython's own input transformers (so ``%magic`` and ``!cmd`` become the calls
IPython would make) and then through Python's :mod:`ast`. A cell that does not parse becomes a located
``syntax-error`` diagnostic and the rest of the notebook is still analysed.

The data flow is a deliberately simple, statement-ordered reading of each step: a name read before
the step binds it is an input, provided by the *latest* earlier step that binds or mutates it
(``x = ...``, ``x.append(...)``, ``x[k] = ...``, ``x += ...``). Names used inside function bodies are
needed when the step ends (the function may be called later in the step). Mutation hidden inside a
called function (``def add(): results.append(1)``) is not seen; docs/spec.md says so.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..steps import step_runtime
from .diagnostics import Diagnostic, sort_key
from .notebook import kernel_name, notebook_language

if TYPE_CHECKING:
    from IPython.core.inputtransformer2 import TransformerManager
from .tags import Annotation, cell_annotation, naavre_tags

__all__ = [
    "json_kind",
    "DISPLAY_MAGICS",
    "Analysis",
    "CellInfo",
    "Edge",
    "Parameter",
    "Section",
    "Step",
    "analyse",
    "is_display_magic",
    "step_id_from_title",
]

BUILTIN_NAMES = frozenset(dir(builtins)) | {
    "__name__",
    "__doc__",
    "__builtins__",
    "__file__",
    "get_ipython",  # IPython's; calls to it get their own warning
    "display",
}

MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "clear",
        "sort",
        "reverse",  # list
        "update",
        "setdefault",
        "popitem",  # dict
        "add",
        "discard",
        "difference_update",
        "intersection_update",  # set
        "symmetric_difference_update",
        "appendleft",
        "extendleft",
        "rotate",  # deque
        "__setitem__",
        "__delitem__",
        "__iadd__",
    }
)
"""Method names that change their object in place: ``x.append(v)`` makes the step provide ``x``."""

MUTATING_FUNCTIONS = frozenset(
    {
        "shuffle",
        "heappush",
        "heappop",
        "heapify",
        "heapreplace",
        "heappushpop",
        "insort",
        "insort_left",
        "insort_right",
    }
)
"""Module functions that change their first argument in place (``random.shuffle(items)``)."""

PARAM_PREFIX = "param_"
MAX_ID_LENGTH = 63  # DNS-1123 label
_SLUG_RE = re.compile(r"[^a-z0-9]+")

_MAGIC_CALLS = {"run_line_magic", "run_cell_magic", "magic"}
_SHELL_CALLS = {"system", "getoutput"}

# The step runtime skips them; check warns with ``display-magic``: one list, the runtime's.
DISPLAY_MAGICS = step_runtime.DISPLAY_MAGICS
is_display_magic = step_runtime.is_display_magic


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class CellInfo:
    """A code cell as it runs: ``source`` is after IPython's input transformers."""

    index: int
    id: str | None
    title: str
    source: str
    original: str
    tree: ast.Module | None
    annotation: Annotation
    facts: Any = None
    """What another language's analyser read from the cell (``r_analysis.RCell`` for R cells,
    whose ``tree`` stays ``None``); ``None`` for Python cells and for cells that do not parse."""

    @property
    def parsed(self) -> bool:
        """Whether the cell parsed (in its notebook's language): a syntax error leaves it unread."""
        return self.tree is not None or self.facts is not None

    def ref(self) -> dict[str, Any]:
        """The spec's CellRef."""
        return {"index": self.index, "id": self.id, "title": self.title, "source": self.source}


@dataclass
class Parameter:
    """A ``param_*`` literal assigned at the top level of the header: a workflow parameter."""

    name: str
    default: Any
    type: str
    cell_index: int
    cell_id: str | None
    line: int


@dataclass
class Step:
    """Consecutive code cells starting at a role cell; one workflow task."""

    id: str
    role: str
    title: str
    cells: list[CellInfo]
    section: int | None = None
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    batch_count: dict[str, Any] | None = None
    split_variable: str | None = None
    imports: list[str] = field(default_factory=list)
    no_reuse: bool = False


@dataclass
class Section:
    """A splitter, its processor chain and its merger."""

    index: int
    splitter: str
    processors: list[str]
    merger: str
    split_variable: str | None = None
    batch_count: dict[str, Any] | None = None
    broadcast: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Edge:
    """Values that flow from one step to another, and how (data, split, broadcast, merge)."""

    source: str
    target: str
    variables: tuple[str, ...]
    kind: str


@dataclass
class Analysis:
    """Everything :mod:`naavre_batch_ext.core.spec` serialises."""

    name: str
    kernel: str
    language: str
    parameters: list[Parameter]
    header_cells: list[CellInfo]
    header_names: list[str]
    header_imports: list[str]
    steps: list[Step]
    sections: list[Section]
    edges: list[Edge]
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


# ---------------------------------------------------------------------------------------------
# Name events: what a cell reads, binds and mutates, in statement order


@dataclass(frozen=True)
class _Event:
    kind: str  # "load" | "deferred" | "store" | "mutate"
    name: str
    line: int
    col: int
    via: str = ""  # for stores: "import" or "def" when the value cannot travel as JSON
    soft: bool = False
    """For loads: a name that may not be a variable at all (an R formula term or an argument of a
    non-standard-evaluation call such as ``subset(df, x > 1)``, usually a column). It is an input
    only when an earlier step or the header provides it, and never an ``undefined-name``."""


def json_kind(value: Any) -> str | None:
    """The JSON type of a Python value (``null``, ``bool``, ``int``, ``float``, ``str``, ``list``,
    ``dict``), or None for anything JSON cannot hold.

    One vocabulary for the spec's parameter ``type``: ``bool`` is checked before ``int`` because
    ``True`` is an ``int`` to Python, not to JSON.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return None


def _bound_in_scope(body: Iterable[ast.AST], params: ast.arguments | None) -> set[str]:
    """Names local to a function/class scope: parameters plus anything bound in its body."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    if params is not None:
        for a in [*params.posonlyargs, *params.args, *params.kwonlyargs]:
            bound.add(a.arg)
        if params.vararg:
            bound.add(params.vararg.arg)
        if params.kwarg:
            bound.add(params.kwarg.arg)

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(child.name)
                continue  # its own scope
            if isinstance(
                child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
            ):
                continue
            _collect_binding(child, bound, declared_global)
            walk(child)

    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(stmt.name)
            continue
        _collect_binding(stmt, bound, declared_global)
        walk(stmt)
    return bound - declared_global


def _collect_binding(node: ast.AST, bound: set[str], declared_global: set[str]) -> None:
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        bound.add(node.id)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            if alias.name != "*":
                bound.add(alias.asname or alias.name.split(".")[0])
    elif isinstance(node, ast.ExceptHandler) and node.name:
        bound.add(node.name)
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        declared_global.update(node.names)
    elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        bound.add(node.name)
    elif isinstance(node, ast.MatchMapping) and node.rest:
        bound.add(node.rest)


def _free_loads(nodes: Iterable[ast.AST], bound: set[str]) -> Iterator[ast.Name]:
    """Name loads under ``nodes`` not bound locally, descending into nested scopes."""
    for node in nodes:
        yield from _free_loads_one(node, bound)


def _free_loads_one(node: ast.AST, bound: set[str]) -> Iterator[ast.Name]:
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id not in bound:
            yield node
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield from _free_loads(
            [*node.decorator_list, *node.args.defaults, *[d for d in node.args.kw_defaults if d]],
            bound,
        )
        inner = bound | _bound_in_scope(node.body, node.args)
        yield from _free_loads(node.body, inner)
        return
    if isinstance(node, ast.Lambda):
        yield from _free_loads(
            [*node.args.defaults, *[d for d in node.args.kw_defaults if d]], bound
        )
        yield from _free_loads_one(node.body, bound | _bound_in_scope([], node.args))
        return
    if isinstance(node, ast.ClassDef):
        yield from _free_loads(
            [*node.decorator_list, *node.bases, *[k.value for k in node.keywords]], bound
        )
        yield from _free_loads(node.body, bound | _bound_in_scope(node.body, None))
        return
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        inner = bound | _comprehension_targets(node)
        for i, gen in enumerate(node.generators):
            yield from _free_loads_one(gen.iter, bound if i == 0 else inner)
            yield from _free_loads(gen.ifs, inner)
        elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        yield from _free_loads(elts, inner)
        return
    for child in ast.iter_child_nodes(node):
        yield from _free_loads_one(child, bound)


def _comprehension_targets(
    node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp,
) -> set[str]:
    names: set[str] = set()
    for gen in node.generators:
        for n in ast.walk(gen.target):
            if isinstance(n, ast.Name):
                names.add(n.id)
    return names


def _base_name(expr: ast.AST) -> ast.Name | None:
    """``x`` for ``x``, ``x.a``, ``x[k]``, ``x.a[k].b``: the variable an in-place change reaches."""
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Starred)):
        expr = expr.value
    return expr if isinstance(expr, ast.Name) else None


class _EventCollector(ast.NodeVisitor):
    """Module-level reads/binds/mutations of one cell, in (approximate) evaluation order."""

    def __init__(self, modules: set[str]) -> None:
        self.events: list[_Event] = []
        self.modules = modules  # names bound by imports: calling os.environ.update is not data flow

    def _ev(self, kind: str, node: ast.AST, name: str, via: str = "") -> None:
        self.events.append(
            _Event(kind, name, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1, via)
        )

    def _store_target(self, target: ast.AST) -> None:
        """An assignment target: names are bound, subscripts/attributes mutate their base."""
        if isinstance(target, ast.Name):
            self._ev("store", target, target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._store_target(elt)
        elif isinstance(target, ast.Starred):
            self._store_target(target.value)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            # Evaluate the object and index expressions, then record the in-place change.
            self.visit(target.value)
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            base = _base_name(target)
            if base is not None and base.id not in self.modules:
                self._ev("mutate", base, base.id)
        else:
            self.visit(target)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._ev("load", node, node.id)
        elif isinstance(node.ctx, ast.Store):
            self._ev("store", node, node.id)
        else:  # del x: needs x
            self._ev("load", node, node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for t in node.targets:
            self._store_target(t)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._store_target(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._ev("load", node.target, node.target.id)
            self.visit(node.value)
            self._ev("store", node.target, node.target.id)
        else:
            self.visit(node.value)
            self._store_target(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._store_target(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            if isinstance(t, (ast.Attribute, ast.Subscript)):
                self._store_target(t)
            else:
                self.visit(t)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._store_target(node.target)
        for s in [*node.body, *node.orelse]:
            self.visit(s)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._store_target(item.optional_vars)
        for s in node.body:
            self.visit(s)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._ev("store", node, node.name)
        for s in node.body:
            self.visit(s)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                continue
            name = alias.asname or alias.name.split(".")[0]
            self.modules.add(name)
            self._ev("store", node, name, "import")

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> None:
        return

    def _match_capture(self, node: ast.AST) -> None:
        for n in ast.walk(node):
            if isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
                self._ev("store", n, n.name)
            elif isinstance(n, ast.MatchMapping) and n.rest:
                self._ev("store", n, n.rest)
            elif isinstance(n, ast.MatchValue):
                self.visit(n.value)
            elif isinstance(n, ast.MatchClass):
                self.visit(n.cls)

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        for case in node.cases:
            self._match_capture(case.pattern)
            if case.guard is not None:
                self.visit(case.guard)
            for s in case.body:
                self.visit(s)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in MUTATING_METHODS:
                base = _base_name(func.value)
                if base is not None and base.id not in self.modules:
                    self._ev("mutate", base, base.id)
            elif func.attr in MUTATING_FUNCTIONS and node.args:
                base = _base_name(node.args[0])
                if base is not None and base.id not in self.modules:
                    self._ev("mutate", base, base.id)

    def _deferred(self, loads: Iterable[ast.Name]) -> None:
        for n in loads:
            self._ev("deferred", n, n.id)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in [
            *node.decorator_list,
            *node.args.defaults,
            *[d for d in node.args.kw_defaults if d],
        ]:
            self.visit(d)
        self._deferred(_free_loads(node.body, _bound_in_scope(node.body, node.args)))
        # ``global x`` + assignment inside a function: calling it binds x; count it as bound here.
        for n in ast.walk(node):
            if isinstance(n, ast.Global):
                for name in n.names:
                    self._ev("store", n, name)
        self._ev("store", node, node.name, "def")

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for d in [*node.args.defaults, *[d for d in node.args.kw_defaults if d]]:
            self.visit(d)
        self._deferred(_free_loads_one(node.body, _bound_in_scope([], node.args)))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        """The class body runs now (its loads are reads); a method's body runs when it is called,
        after the class statement has bound the class's own name (``return Vec(...)`` in a
        method of ``Vec``): its loads are deferred, as a function's. A method does not see the
        class body's names, so they do not bind its loads."""
        for d in [*node.decorator_list, *node.bases, *[k.value for k in node.keywords]]:
            self.visit(d)
        inner = _bound_in_scope(node.body, None)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                made_now = [
                    *stmt.decorator_list,
                    *stmt.args.defaults,
                    *[d for d in stmt.args.kw_defaults if d],
                ]
                for n in _free_loads(made_now, inner):
                    self._ev("load", n, n.id)
                self._deferred(_free_loads(stmt.body, _bound_in_scope(stmt.body, stmt.args)))
            else:
                for n in _free_loads_one(stmt, inner):
                    self._ev("load", n, n.id)
        self._ev("store", node, node.name, "def")

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        for n in _free_loads_one(node, set()):
            self._ev("load", n, n.id)
        for sub in ast.walk(node):  # walrus in a comprehension binds in the enclosing scope
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self._ev("store", sub.target, sub.target.id)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


# ---------------------------------------------------------------------------------------------
# Helpers


def _title(source: str) -> tuple[str, bool]:
    """The cell's first comment line without ``#`` (or its first line), and whether it is a comment."""
    for line in source.splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            return text.lstrip("#").strip()[:120], True
        return text[:120], False
    return "", False


def step_id_from_title(title: str) -> str:
    """A DNS-1123 label from a step title: the text after the first ``:`` if any, slugified.

    ``"split: gen batches"`` gives ``"gen-batches"`` (NaaVRE tutorials prefix cell names with a
    group and a colon; the part after it names the step). Empty result: ``""``, the caller falls
    back to ``<role>-<n>``.
    """
    text = title
    if ":" in text and text.split(":", 1)[1].strip():
        text = text.split(":", 1)[1]
    slug = _SLUG_RE.sub("-", text.lower()).strip("-")
    return slug[:MAX_ID_LENGTH].strip("-")


def _unique_id(base: str, used: set[str]) -> str:
    candidate = base
    n = 2
    while candidate in used:
        suffix = f"-{n}"
        candidate = base[: MAX_ID_LENGTH - len(suffix)].rstrip("-") + suffix
        n += 1
    used.add(candidate)
    return candidate


def _json_literal(value: Any) -> Any:
    """Tuples become lists; anything JSON cannot hold (sets, bytes, complex, non-str keys) raises."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_json_literal(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("dict keys must be strings")
        return {k: _json_literal(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
            raise TypeError("not a finite number")
        return value
    raise TypeError(type(value).__name__)


_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


def _third_party_imports(tree: ast.Module | None) -> set[str]:
    mods: set[str] = set()
    if tree is None:
        return mods
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            mods.update(a.name.split(".")[0] for a in n.names)
        elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:
            mods.add(n.module.split(".")[0])
    return {m for m in mods if m not in _STDLIB}


def _does_work(stmt: ast.stmt) -> bool:
    """Whether a header statement does real work (calls, loops) rather than define things."""
    if isinstance(
        stmt,
        (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.Pass, ast.Global),
    ):
        return False
    if isinstance(stmt, ast.ClassDef):
        return False
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return False  # a docstring or a bare literal
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        value = stmt.value
        if value is None:
            return False
        return any(
            isinstance(
                n,
                (
                    ast.Call,
                    ast.Await,
                    ast.Yield,
                    ast.YieldFrom,
                    ast.ListComp,
                    ast.SetComp,
                    ast.DictComp,
                    ast.GeneratorExp,
                ),
            )
            for n in ast.walk(value)
        )
    return True


def _ipython_call(node: ast.AST) -> tuple[str, str] | None:
    """``("magic"|"shell", name)`` for calls IPython's transformers produced from ``%x``/``!x``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner = node.func.value
    if not (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
    ):
        return None
    arg = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else ""
    if node.func.attr in _MAGIC_CALLS:
        return "magic", str(arg).split(" ")[0]
    if node.func.attr in _SHELL_CALLS:
        return "shell", str(arg)
    return "magic", node.func.attr


def _display_magic(node: ast.AST) -> str | None:
    """``"matplotlib inline"`` when ``node`` is IPython's call for a display-only line magic
    (:data:`DISPLAY_MAGICS`); None for anything else, cell magics included."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if _ipython_call(node) is None or len(args) != len(node.args) or not args:
        return None
    # Only the form IPython writes for %x lines: the step runtime's get_ipython() stand-in skips
    # exactly these calls (the old get_ipython().magic('...') form stays a plain magic).
    if node.func.attr != "run_line_magic":
        return None
    name, line = args[0], args[1] if len(args) > 1 else ""
    if not is_display_magic(name, line):
        return None
    return f"{name} {line.strip()}".strip()


_IPYTHON_LINE_STARTS = (">>>", "...", "In [", "/", ",", ";", "%", "!")


def _is_plain_python(source: str) -> bool:
    """True when no IPython input transformer would change ``source`` (magics, shell escapes,
    help ``?``, prompts, autocall escapes, leading blank lines or indentation)."""
    if not source or "%" in source or "!" in source or "?" in source:
        return False
    if source[0] in " \t\n\r":
        return False
    return not any(line.lstrip().startswith(_IPYTHON_LINE_STARTS) for line in source.split("\n"))


def _parses_as_python(source: str) -> bool:
    """True when ``source`` is valid Python as it is. IPython's transformers then leave it as it
    is (each of them reacts only to input that is not valid Python, such as ``%time``, ``!ls``,
    ``x?`` or ``>>>`` prompts), so ``%`` as an operator or ``!`` in a comment or a string needs
    no IPython import (it takes longer than the analysis of a whole notebook). Prompts are the
    exception (``In [1]: x`` and ``...`` are valid Python that IPython strips): IPython decides."""
    if any(line.lstrip().startswith((">>>", "...", "In [")) for line in source.split("\n")):
        return False
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: a NUL character
        return False
    return True


def _leading_blank_lines(text: str) -> int:
    n = 0
    for line in text.split("\n"):
        if line.strip():
            break
        n += 1
    return n


_R_MAGICS = frozenset({"R", "Rpush", "Rpull", "Rget", "Rdevice"})
"""rpy2's magics (``%%R``, ``%R``, ``%Rpush``...): R code or R values inside a Python notebook."""

_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
"""Cell magics whose body is Python that runs in the user namespace."""


def _python_cell_magic_body(source: str) -> ast.Module | None:
    """The parsed body of ``%%time``-style cells, line numbers as in the cell; else ``None``."""
    first, _, body = source.lstrip("\n").partition("\n")
    if not first.startswith("%%") or first[2:].split(" ")[0] not in _PYTHON_CELL_MAGICS:
        return None
    offset = (
        source.lstrip("\n").count("\n")
        - body.count("\n")
        + (len(source) - len(source.lstrip("\n")))
    )
    try:
        tree = ast.parse(body)
    except SyntaxError as exc:
        if exc.lineno:
            exc.lineno += offset
        raise
    ast.increment_lineno(tree, offset)
    return tree


def _line_magic_body(stmt: ast.stmt) -> list[ast.stmt]:
    """The statements a ``%time out = f(x)``-style line magic runs, at the magic's line.

    IPython turns such a line into ``get_ipython().run_line_magic('time', 'out = f(x)')``: without
    this the analysis would not see ``out`` defined (nor ``f``, ``x`` read).
    """
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    found = _ipython_call(call) if call is not None else None
    if (
        found is None
        or found[1] not in _PYTHON_CELL_MAGICS
        or not isinstance(call, ast.Call)
        or not isinstance(call.func, ast.Attribute)
        or call.func.attr != "run_line_magic"
        or len(call.args) != 2
        or not isinstance(call.args[1], ast.Constant)
        or not isinstance(call.args[1].value, str)
    ):
        return []
    code = call.args[1].value
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return []  # IPython reports it when the cell runs; the magic warning points here already
    for node in body:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.stmt, ast.expr)):
                sub.lineno = sub.end_lineno = stmt.lineno
    return body


def _with_line_magic_bodies(tree: ast.Module) -> None:
    """Put each Python line magic's statements right after it, so data flow keeps their order."""
    body: list[ast.stmt] = []
    for stmt in tree.body:
        body.append(stmt)
        body.extend(_line_magic_body(stmt))
    tree.body = body


# ---------------------------------------------------------------------------------------------
# The analysis


class _Analyser:
    def __init__(self, nb: Mapping[str, Any], name: str) -> None:
        self.nb = nb
        self.name = name
        self.diagnostics: list[Diagnostic] = []
        self._transformer: TransformerManager | None = None
        self.modules: set[str] = set()

    @property
    def transformer(self) -> TransformerManager:
        """IPython's input transformers, imported on the first cell that needs them: importing
        IPython takes longer than analysing a notebook of plain Python."""
        if self._transformer is None:
            from IPython.core.inputtransformer2 import TransformerManager

            self._transformer = TransformerManager()
        return self._transformer

    def diag(
        self,
        severity: str,
        code: str,
        message: str,
        hint: str,
        cell: CellInfo | None = None,
        line: int | None = None,
        column: int | None = None,
        *,
        cell_index: int | None = None,
        cell_id: str | None = None,
    ) -> None:
        if cell is not None:
            cell_index, cell_id = cell.index, cell.id
        self.diagnostics.append(
            Diagnostic(severity, code, message, hint, cell_index, cell_id, line, column)
        )

    # -- cells ---------------------------------------------------------------------------------

    def transform(self, source: str) -> str:
        """The cell as IPython runs it, with the cell's own line numbers.

        IPython drops leading blank lines; they are put back so that diagnostics' lines count in
        the cell as the user sees it. Plain Python (no character any IPython transformer reacts to)
        skips the transformers: same result, a third of the analysis time saved.
        """
        if _is_plain_python(source) or _parses_as_python(source):
            return source if source.endswith("\n") or not source else source + "\n"
        try:
            transformed = self.transformer.transform_cell(source)
        except Exception:  # IPython rejects some inputs (e.g. bad indentation) itself
            return source
        missing = _leading_blank_lines(source) - _leading_blank_lines(transformed)
        if transformed.strip() and missing > 0:
            transformed = "\n" * missing + transformed
        return transformed

    def code_cells(self) -> Iterator[tuple[int, str | None, str, Annotation]]:
        """``(index, id, source, annotation)`` of each code cell; tags on other cells are warned
        about (every language's ``read_cells`` starts here)."""
        for index, cell in enumerate(self.nb["cells"]):
            cell_id = cell.get("id") if isinstance(cell.get("id"), str) else None
            source = cell.get("source", "")
            if isinstance(source, list):
                source = "".join(source)
            if cell.get("cell_type") != "code":
                tags = (cell.get("metadata") or {}).get("tags") or []
                if isinstance(tags, list) and naavre_tags(tags):
                    self.diag(
                        "warning",
                        "tag-on-non-code-cell",
                        f"naavre: tags on a {cell.get('cell_type')} cell are ignored",
                        "move the tags to the code cell that should start the step",
                        cell_index=index,
                        cell_id=cell_id,
                    )
                continue
            yield index, cell_id, source, cell_annotation(cell)

    def tag_problems(self, cell: CellInfo) -> None:
        """The cell's tag grammar problems, as diagnostics on its first line."""
        for problem in cell.annotation.problems:
            self.diag(problem.severity, problem.code, problem.message, problem.hint, cell, 1, 1)

    def syntax_error(self, cell: CellInfo, message: str, line: int, column: int) -> None:
        """A cell that does not parse; the rest of the notebook is still analysed."""
        self.diag(
            "error",
            "syntax-error",
            f"syntax error: {message}",
            "fix the cell so that it runs; the rest of the notebook was still analysed",
            cell,
            line,
            column,
        )

    def read_cells(self) -> list[CellInfo]:
        cells: list[CellInfo] = []
        for index, cell_id, source, annotation in self.code_cells():
            transformed = self.transform(source)
            title, _ = _title(source)
            info = CellInfo(index, cell_id, title, transformed, source, None, annotation)
            try:
                info.tree = ast.parse(transformed)
                body_tree = _python_cell_magic_body(source)
                if body_tree is not None:  # %%time etc.: the body's names are the cell's data flow
                    info.tree.body.extend(body_tree.body)
                _with_line_magic_bodies(info.tree)  # %time x = ...: the same for line magics
            except SyntaxError as exc:
                self.syntax_error(info, exc.msg, exc.lineno or 1, exc.offset or 1)
            self.tag_problems(info)
            cells.append(info)
        return cells

    # -- header --------------------------------------------------------------------------------

    def read_header(self, header: list[CellInfo], *, warn_work: bool) -> list[Parameter]:
        """Collect the workflow parameters; flag real work only when there are steps to repeat it.

        In an untagged notebook every cell is header, and a warning on each would drown the one
        that matters ("no cell is tagged").
        """
        params: dict[str, Parameter] = {}
        for cell in header:
            if cell.tree is None:
                continue
            for stmt in cell.tree.body:
                if self._is_ipython_stmt(stmt):
                    continue
                param = self._parameter(cell, stmt)
                if param is not None:
                    self.add_parameter(params, param, repr(param.default), cell)
                    continue
                if warn_work and _does_work(stmt):
                    self.warn_header_work(cell, stmt.lineno, stmt.col_offset + 1)
        return list(params.values())

    def add_parameter(
        self, params: dict[str, Parameter], param: Parameter, shown: str, cell: CellInfo
    ) -> None:
        """Record a header parameter; one assigned again is warned about, the last value wins."""
        if param.name in params:
            self.diag(
                "warning",
                "duplicate-parameter",
                f"parameter {param.name} is assigned again; the last value ({shown}) is its default",
                "assign each param_ name once in the header",
                cell,
                param.line,
                1,
            )
        params[param.name] = param

    def warn_header_work(self, cell: CellInfo, line: int, column: int) -> None:
        self.diag(
            "warning",
            "header-work",
            "header statement does real work (a call or a loop); the header runs at the start of every step instance",
            "move it into the step that needs it, or keep it if it is cheap",
            cell,
            line,
            column,
        )

    def _parameter(self, cell: CellInfo, stmt: ast.stmt) -> Parameter | None:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            return None
        if not (isinstance(target, ast.Name) and target.id.startswith(PARAM_PREFIX)):
            return None
        try:
            default = _json_literal(ast.literal_eval(value))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            self.diag(
                "warning",
                "parameter-not-literal",
                f"{target.id} is not assigned a JSON literal, so it is not a workflow parameter",
                "assign a number, string, boolean, None, list or dict literal to make it a parameter",
                cell,
                stmt.lineno,
                stmt.col_offset + 1,
            )
            return None
        kind = json_kind(default) or "null"
        return Parameter(target.id, default, kind, cell.index, cell.id, stmt.lineno)

    # -- what each language's analyser provides (r_analysis._RAnalyser overrides these) ----------

    language = "python"
    """The spec's ``notebook.language``."""
    passable = "JSON values"
    """What crosses a step boundary, for the ``not-passable`` message."""
    unknown_names_are_errors = True
    """Whether a name that no cell binds is an ``undefined-name`` (Python: it is, unless a builtin).
    R finds functions and data in attached packages and reads columns by non-standard evaluation,
    so there only a name that a *later* cell binds is reported."""

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` needs no provider (a builtin)."""
        return name in BUILTIN_NAMES

    def whole_number(self, param: Parameter) -> bool:
        """Whether a parameter can be a batch count: an ``int`` (R also accepts a whole double)."""
        return param.type == "int"

    def parameter_assignments(self, cell: CellInfo) -> Iterator[tuple[str, int, int]]:
        """``(name, line, column)`` of each top-level ``param_*`` assignment in a step's cell."""
        for stmt in cell.tree.body if cell.tree else []:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Name) and t.id.startswith(PARAM_PREFIX):
                    yield t.id, stmt.lineno, stmt.col_offset + 1

    def cell_imports(self, cell: CellInfo) -> set[str]:
        """Third-party modules the cell imports: what the image must provide."""
        return _third_party_imports(cell.tree)

    def warn_cell(self, cell: CellInfo, where: str) -> None:
        """Warnings about code that needs the notebook's kernel (IPython magics, shell escapes)."""
        self.warn_ipython(cell, where)

    def _is_ipython_stmt(self, stmt: ast.stmt) -> bool:
        return isinstance(stmt, (ast.Expr, ast.Assign)) and _ipython_call(stmt.value) is not None

    def warn_ipython(self, cell: CellInfo, where: str) -> None:
        if cell.tree is None:
            return
        for node in ast.walk(cell.tree):
            found = _ipython_call(node)
            if found is None:
                continue
            kind, what = found
            line = getattr(node, "lineno", 1)
            col = getattr(node, "col_offset", 0) + 1
            display = _display_magic(node)
            if kind == "magic" and what.lstrip("%") in _R_MAGICS:
                # %%R below the first line reaches IPython as the line magic '%R'
                cell_magic = what.startswith("%") or (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", "") == "run_cell_magic"
                )
                shown = f"{'%%' if cell_magic else '%'}{what.lstrip('%')}"
                self.diag(
                    "error",
                    "r-magic",
                    f"'{shown}' (rpy2) runs R inside this Python notebook in the {where}; a workflow "
                    "step runs one language, the notebook's kernel's",
                    "rewrite it in Python, or move the R code into an R notebook (IRkernel, "
                    "kernel 'ir'), which is analysed and run as R",
                    cell,
                    line,
                    col,
                )
            elif display is not None:
                self.diag(
                    "warning",
                    "display-magic",
                    f"IPython magic '%{display}' in the {where}: it only changes how the notebook "
                    "shows results, so it is ignored in workflow steps",
                    "nothing to do; keep it for the notebook",
                    cell,
                    line,
                    col,
                )
            elif kind == "shell":
                self.diag(
                    "warning",
                    "shell-escape",
                    f"shell escape '!{what}' in the {where}: it needs IPython and the tools in the container image",
                    "use subprocess.run([...], check=True) or do it in Python",
                    cell,
                    line,
                    col,
                )
            else:
                self.diag(
                    "warning",
                    "magic",
                    f"IPython magic '%{what}' in the {where}: magics do not run in a workflow container",
                    "replace it with plain Python, or move it to a cell outside the steps",
                    cell,
                    line,
                    col,
                )

    # -- steps ---------------------------------------------------------------------------------

    def group_steps(self, cells: list[CellInfo]) -> tuple[list[CellInfo], list[Step]]:
        header: list[CellInfo] = []
        steps: list[Step] = []
        for cell in cells:
            if cell.annotation.role is not None:
                steps.append(Step(id="", role=cell.annotation.role, title=cell.title, cells=[cell]))
            elif steps:
                steps[-1].cells.append(cell)
            else:
                header.append(cell)
        used: set[str] = set()
        counts: dict[str, int] = {}
        for step in steps:
            counts[step.role] = counts.get(step.role, 0) + 1
            title, is_comment = _title(step.cells[0].original)
            base = step_id_from_title(title) if is_comment else ""
            if base and not base[0].isalpha():
                base = f"{step.role}-{base}"[:MAX_ID_LENGTH].strip("-")
            step.id = _unique_id(base or f"{step.role}-{counts[step.role]}", used)
        # naavre:no-reuse on any of a step's cells, or on a header cell (the header runs in every
        # step): the step always runs, never taken from the reuse store.
        header_no_reuse = any(c.annotation.no_reuse for c in header)
        for step in steps:
            step.no_reuse = header_no_reuse or any(c.annotation.no_reuse for c in step.cells)
        return header, steps

    def find_sections(self, steps: list[Step]) -> list[Section]:
        sections: list[Section] = []
        splitter: Step | None = None
        processors: list[Step] = []

        def first_cell(step: Step) -> CellInfo:
            return step.cells[0]

        for step in steps:
            cell = first_cell(step)
            if step.role == "splitter":
                if splitter is not None:
                    self.diag(
                        "error",
                        "splitter-inside-section",
                        f"splitter '{step.id}' starts inside the section of splitter '{splitter.id}'",
                        f"tag a merger before cell {cell.index} to close the section of cell {first_cell(splitter).index}",
                        cell,
                        1,
                        1,
                    )
                splitter, processors = step, []
            elif step.role == "processor":
                if splitter is None:
                    self.diag(
                        "error",
                        "processor-outside-section",
                        f"processor '{step.id}' is not inside a split/merge section",
                        "tag a splitter before it and a merger after it, or remove its naavre:processor tag",
                        cell,
                        1,
                        1,
                    )
                else:
                    processors.append(step)
            else:  # merger
                if splitter is None:
                    self.diag(
                        "error",
                        "merger-without-section",
                        f"merger '{step.id}' has no splitter and processors before it",
                        "tag a splitter and at least one processor before it, or remove its naavre:merger tag",
                        cell,
                        1,
                        1,
                    )
                elif not processors:
                    self.diag(
                        "error",
                        "merger-without-processors",
                        f"merger '{step.id}' follows splitter '{splitter.id}' with no processor in between",
                        "tag the cell(s) doing the per-item work as naavre:processor",
                        cell,
                        1,
                        1,
                    )
                    splitter = None
                else:
                    section = Section(
                        len(sections), splitter.id, [p.id for p in processors], step.id
                    )
                    for s in (splitter, *processors, step):
                        s.section = section.index
                    sections.append(section)
                    splitter, processors = None, []
        if splitter is not None:
            self.diag(
                "error",
                "splitter-without-merger",
                f"splitter '{splitter.id}' has no merger after it",
                "tag the cell that uses the processed results as naavre:merger",
                first_cell(splitter),
                1,
                1,
            )
        return sections

    # -- data flow -----------------------------------------------------------------------------

    def events(self, cell: CellInfo) -> list[_Event]:
        if cell.tree is None:
            return []
        collector = _EventCollector(self.modules)
        collector.visit(cell.tree)
        return collector.events

    def data_flow(
        self, header: list[CellInfo], steps: list[Step]
    ) -> dict[tuple[str, str], list[str]]:
        """Fill steps' inputs; return provider -> consumer -> variables (provider '' = none)."""
        provider: dict[str, str] = {}  # name -> step id, "" for header
        provider_via: dict[str, str] = {}  # name -> "import" / "def" / "" (a value)
        header_ids: set[str] = set()
        broken_before = False  # an unparsed cell earlier: missing names may be defined there
        flows: dict[tuple[str, str], list[str]] = {}
        all_binders: dict[str, int] = {}  # name -> first cell index binding it (for hints)
        step_events: list[tuple[str | None, list[tuple[CellInfo, list[_Event]]]]] = []
        for cell in header:
            step_events.append((None, [(cell, self.events(cell))]))
        for step in steps:
            step_events.append((step.id, [(c, self.events(c)) for c in step.cells]))
        for _, cell_events in step_events:
            for cell, evs in cell_events:
                for ev in evs:
                    if ev.kind in ("store", "mutate"):
                        all_binders.setdefault(ev.name, cell.index)

        for owner, cell_events in step_events:
            defined: set[str] = set()
            reads: dict[str, tuple[CellInfo, _Event]] = {}
            deferred: dict[str, tuple[CellInfo, _Event]] = {}
            provided: list[tuple[str, str]] = []
            broken_here = broken_before
            for cell, evs in cell_events:
                if not cell.parsed:
                    broken_here = True
                for ev in evs:
                    if ev.kind == "load":
                        if ev.name not in defined and ev.name not in reads:
                            reads[ev.name] = (cell, ev)
                    elif ev.kind == "deferred":
                        deferred.setdefault(ev.name, (cell, ev))
                    else:
                        defined.add(ev.name)
                        provided.append((ev.name, ev.via))
            for name, where in deferred.items():
                if name not in defined and name not in reads:
                    reads[name] = where
            inputs: list[str] = []
            for name, (cell, ev) in reads.items():
                if name in provider:
                    src = provider[name]
                    if src and owner is not None:
                        inputs.append(name)
                        flows.setdefault((src, owner), []).append(name)
                        via = provider_via.get(name, "")
                        if via:
                            what = "module" if via == "import" else "function or class"
                            self.diag(
                                "error",
                                "not-passable",
                                f"{what} '{name}' from step '{src}' is used in step '{owner}', but steps only pass {self.passable}",
                                "import or define it in the header (code cells before the first tagged cell), "
                                "or in the step that uses it",
                                cell,
                                ev.line,
                                ev.col,
                            )
                    continue
                if ev.soft or self.is_builtin(name) or broken_here:
                    continue
                later = all_binders.get(name)
                if not self.unknown_names_are_errors and (later is None or later <= cell.index):
                    continue
                hint = (
                    f"it is only set in cell {later}, which runs later: move that code before this cell"
                    if later is not None and later > cell.index
                    else "define it in this step or an earlier one (or in the header), or fix the spelling"
                )
                self.diag(
                    "error",
                    "undefined-name",
                    f"name '{name}' is used but no earlier step or header provides it",
                    hint,
                    cell,
                    ev.line,
                    ev.col,
                )
            for name, via in provided:
                provider[name] = owner or ""
                provider_via[name] = via
                if owner is None:
                    header_ids.add(name)
            if owner is not None:
                step = next(s for s in steps if s.id == owner)
                step.inputs = sorted(set(inputs))
            if any(not c.parsed for c, _ in cell_events):
                broken_before = True
        self.header_names = sorted(header_ids)
        return flows

    def split_and_edges(
        self, steps: list[Step], sections: list[Section], flows: dict[tuple[str, str], list[str]]
    ) -> list[Edge]:
        by_id = {s.id: s for s in steps}
        for section in sections:
            splitter = by_id[section.splitter]
            first = by_id[section.processors[0]]
            from_splitter = {
                v
                for (src, dst), vs in flows.items()
                if src == splitter.id
                for v in vs
                if dst == first.id
            }
            named = splitter.cells[0].annotation.split
            cell = splitter.cells[0]
            if named is not None:
                read_by_processor = any(
                    named in vs
                    for (src, dst), vs in flows.items()
                    if src == splitter.id and dst in section.processors
                )
                if not read_by_processor:
                    self.diag(
                        "error",
                        "split-variable-not-flowing",
                        f"split variable '{named}' is not set by splitter '{splitter.id}' and read by a processor of its section",
                        f"set '{named}' in the splitter and read it in processor '{first.id}', or fix naavre:split:",
                        cell,
                        1,
                        1,
                    )
                else:
                    section.split_variable = named
            elif len(from_splitter) == 1:
                section.split_variable = next(iter(from_splitter))
            elif not from_splitter:
                # With a syntax error in the splitter or processor, the reads are unknown: the
                # syntax error is the diagnostic.
                if all(c.parsed for c in [*splitter.cells, *first.cells]):
                    self.diag(
                        "error",
                        "no-split-variable",
                        f"processor '{first.id}' reads no variable that splitter '{splitter.id}' sets, so nothing can be split",
                        "make the first processor loop over a list that the splitter creates",
                        first.cells[0],
                        1,
                        1,
                    )
            else:
                names = ", ".join(sorted(from_splitter))
                self.diag(
                    "error",
                    "ambiguous-split-variable",
                    f"processor '{first.id}' reads several variables from splitter '{splitter.id}' ({names}); which one is split?",
                    f"add the tag naavre:split:<variable> to the splitter cell (one of {names})",
                    cell,
                    1,
                    1,
                )
            splitter.split_variable = section.split_variable
            section.batch_count = splitter.batch_count

        edges: list[Edge] = []
        for (src, dst), flowing in flows.items():
            a, b = by_id[src], by_id[dst]
            groups: dict[str, list[str]] = {}
            for name in sorted(set(flowing)):
                groups.setdefault(self._edge_kind(a, b, name, sections), []).append(name)
            for kind, vs in groups.items():
                edges.append(Edge(src, dst, tuple(vs), kind))
                if kind == "merge":
                    sec = sections[a.section]  # type: ignore[index]
                    sec.merged = sorted(set(sec.merged) | set(vs))
                elif kind == "broadcast":
                    sec = sections[b.section]  # type: ignore[index]
                    sec.broadcast = sorted(set(sec.broadcast) | set(vs))
            for name in flowing:
                if name not in a.outputs:
                    a.outputs.append(name)
        for s in steps:
            s.outputs.sort()
        order = {s.id: i for i, s in enumerate(steps)}
        edges.sort(key=lambda e: (order[e.source], order[e.target], e.kind, e.variables))
        return edges

    @staticmethod
    def _edge_kind(a: Step, b: Step, name: str, sections: list[Section]) -> str:
        if b.role == "processor" and b.section is not None:
            sec = sections[b.section]
            if a.section == b.section and a.role == "processor":
                return "data"
            if a.id == sec.splitter and name == sec.split_variable:
                return "split"
            return "broadcast"
        if a.role == "processor" and a.section is not None and b.section != a.section:
            return "merge"
        if a.role == "processor" and a.section is not None and b.role == "merger":
            return "merge"
        return "data"

    def warn_step_classes(self, steps: list[Step]) -> None:
        """A class defined in a step that hands values on: its instances reach the next step,
        which runs in a process of its own where the class does not exist (pickle finds classes
        by name in ``__main__``, which only the header fills in every step)."""
        for step in steps:
            if not step.outputs:
                continue
            for cell in step.cells:
                for stmt in cell.tree.body if cell.tree else []:
                    if isinstance(stmt, ast.ClassDef):
                        self.diag(
                            "warning",
                            "class-in-step",
                            f"class {stmt.name} is defined in step '{step.id}', which hands values "
                            "on: a later step cannot read an instance of it (each step runs in its "
                            "own process, where only the header's classes exist)",
                            "define classes in the header (the code cells before the first "
                            "tagged cell)",
                            cell,
                            stmt.lineno,
                            stmt.col_offset + 1,
                        )

    def batch_counts(self, steps: list[Step], params: list[Parameter]) -> None:
        by_name = {p.name: p for p in params}
        for step in steps:
            if step.role != "splitter":
                continue
            cell = step.cells[0]
            count = cell.annotation.batch_count
            if isinstance(count, int):
                step.batch_count = {"value": count}
            elif isinstance(count, str):
                param = by_name.get(count)
                if param is None:
                    known = ", ".join(sorted(by_name)) or "none"
                    self.diag(
                        "error",
                        "unknown-batch-count-parameter",
                        f"batch count names '{count}', which is not a header parameter",
                        f"assign {count} = <integer> in the header, or use a known parameter ({known}) or a number",
                        cell,
                        1,
                        1,
                    )
                elif not self.whole_number(param) or param.default < 1:
                    self.diag(
                        "error",
                        "bad-batch-count-default",
                        f"parameter {count} is used as a batch count but its default is {param.default!r}",
                        f"give {count} an integer default of at least 1 (cell {param.cell_index}, line {param.line})",
                        cell,
                        1,
                        1,
                    )
                else:
                    step.batch_count = {"parameter": count, "default": int(param.default)}

    # -- driver ---------------------------------------------------------------------------------

    def run(self) -> Analysis:
        cells = self.read_cells()
        header, steps = self.group_steps(cells)
        for cell in header:
            self.warn_cell(cell, "header")
        for step in steps:
            for cell in step.cells:
                self.warn_cell(cell, f"{step.role} step '{step.id}'")
        params = self.read_header(header, warn_work=bool(steps))
        if not steps:
            self.diag(
                "warning",
                "no-steps",
                "no cell is tagged as splitter, processor or merger: there is no workflow",
                "tag cells with naavre:splitter, naavre:processor and naavre:merger: the role menu of "
                "each cell's toolbar in JupyterLab, or naavre-batch tag NOTEBOOK --cell N --role ROLE",
            )
        for step in steps:  # param_ assigned outside the header is not a workflow parameter
            for cell in step.cells:
                for name, line, column in self.parameter_assignments(cell):
                    self.diag(
                        "warning",
                        "parameter-outside-header",
                        f"{name} is assigned in step '{step.id}', so it is not a workflow parameter",
                        "assign param_ names in the header (the code cells before the first tagged cell)",
                        cell,
                        line,
                        column,
                    )
        sections = self.find_sections(steps)
        self.batch_counts(steps, params)
        flows = self.data_flow(header, steps)
        edges = self.split_and_edges(steps, sections, flows)
        self.warn_step_classes(steps)
        header_imports: set[str] = set()
        for cell in header:
            header_imports |= self.cell_imports(cell)
        for step in steps:
            mods = set(header_imports)
            for cell in step.cells:
                mods |= self.cell_imports(cell)
            step.imports = sorted(mods)
        return Analysis(
            name=self.name,
            kernel=kernel_name(self.nb),
            language=self.language,
            parameters=params,
            header_cells=header,
            header_names=self.header_names,
            header_imports=sorted(header_imports),
            steps=steps,
            sections=sections,
            edges=edges,
            diagnostics=sorted(set(self.diagnostics), key=sort_key),
        )


def analyse(nb: Mapping[str, Any], name: str) -> Analysis:
    """Analyse a notebook, as plain JSON (:func:`naavre_batch_ext.core.notebook.parse_notebook`) or
    as nbformat's ``NotebookNode`` (:func:`~naavre_batch_ext.core.notebook.read_notebook`).

    The language seam: an R notebook (IRkernel) is read by :mod:`.r_analysis` (R's own parser, in
    one ``Rscript`` process), which fills the same cells, events and parameters, so everything from
    here on (steps, sections, data flow, diagnostics, the spec) is shared. Raises
    :class:`~naavre_batch_ext.core.notebook.NotebookError` for a kernel in another language, or an
    R notebook on a machine without R.
    """
    if notebook_language(nb) == "R":
        from .r_analysis import RAnalyser

        return RAnalyser(nb, name).run()
    return _Analyser(nb, name).run()
