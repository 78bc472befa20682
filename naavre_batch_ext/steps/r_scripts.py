"""Step scripts for R notebooks: the same tasks as :mod:`naavre_batch_ext.steps.scripts`, each one
standalone ``Rscript`` file that needs nothing but base R.

A script is the R step runtime (``r_runtime.R``, package data: the split rule, the value transport's
``rds`` codec and the run of one task, the R twin of ``step_runtime.py``) pasted verbatim inside
``local()``, so its functions live in an environment of their own whose parent is R's base
environment, and the task's payload (header, cells, wiring) as one R expression. The user's code
runs in the global environment, as in the notebook. Like the Python scripts, the text is
printable ASCII and never contains two curly braces in a row (Argo would template them).

Base R has no JSON reader, so the payload is written as R code (:func:`r_literal`), not JSON.
"""

from __future__ import annotations

import math
import re
import shutil
from functools import lru_cache
from importlib import resources
from typing import Any

from . import scripts
from .step_runtime import format_parameter

__all__ = [
    "R_LANGUAGE",
    "RUNTIME_FILE",
    "is_r",
    "r_literal",
    "read_r_literal",
    "read_task_payload",
    "r_task_payload",
    "r_task_script",
    "rscript",
    "runtime_loader",
    "runtime_source",
    "script_name",
    "script_prefix",
    "task_call",
    "tool_script",
]

R_LANGUAGE = "r"
RUNTIME_FILE = "r_runtime.R"


def is_r(spec: dict[str, Any]) -> bool:
    """Whether the spec's notebook runs on R (``notebook.language`` is ``R``, nbformat's
    ``language_info.name`` of IRkernel)."""
    return str((spec.get("notebook") or {}).get("language") or "").lower() == R_LANGUAGE


SOURCE_ARGS = ("-e", "source(commandArgs(TRUE)[1])")
"""How every engine runs an R step script: ``Rscript -e 'source(...)' SCRIPT``. ``source()`` reads
the file whole (``Rscript SCRIPT`` reads it as a console, line by line, re-parsing each unfinished
expression: a tenth of a second more per instance); the script runs either way."""


def command(script: str) -> list[str]:
    """The command line that runs one R step script (the local runner; CWL and Argo use the same
    arguments with the image's ``Rscript``)."""
    return [rscript(), *SOURCE_ARGS, script]


def rscript() -> str:
    """The ``Rscript`` to run steps and tools with (``NAAVRE_RSCRIPT`` overrides the one on PATH)."""
    import os

    return os.environ.get("NAAVRE_RSCRIPT") or shutil.which("Rscript") or "Rscript"


@lru_cache(maxsize=1)
def runtime_source() -> str:
    """The text of ``r_runtime.R``, checked printable ASCII with no ``{{`` or ``}}``."""
    text = resources.files("naavre_batch_ext.steps").joinpath(RUNTIME_FILE).read_text("utf-8")
    scripts._check_braces(text, f"naavre_batch_ext/steps/{RUNTIME_FILE}")
    bad = sorted({c for c in text if not (" " <= c <= "~" or c == "\n")})
    if bad:
        raise AssertionError(f"{RUNTIME_FILE} contains characters outside printable ASCII: {bad}")
    return text


STRING_PIECE = 300
"""Characters per R string literal piece. ``Rscript FILE`` reads a script as a console does, in
lines of at most 4096 bytes (a longer line is cut, even inside an escape), and R's parser refuses
very long literals: longer text is written as ``paste0()`` of pieces, one a line (a piece of 300
characters is at most 3,000 bytes escaped)."""


def _r_string(text: str) -> str:
    """An R string literal of ``text``: ASCII only, braces escaped (``\\u007b``) so that no two
    are ever adjacent, characters outside ASCII as ``\\u`` / ``\\U`` escapes; long text as
    ``paste0()`` of pieces (see :data:`STRING_PIECE`)."""
    if len(text) > STRING_PIECE:
        pieces = [text[i : i + STRING_PIECE] for i in range(0, len(text), STRING_PIECE)]
        return "paste0(\n" + ",\n".join(_r_piece(p) for p in pieces) + ")"
    return _r_piece(text)


def _r_piece(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif char in "{}" or code < 32 or code == 127:
            out.append(f"\\u{code:04x}")
        elif code < 127:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def r_literal(value: Any) -> str:
    """A JSON-like value as the R expression that builds it: objects become named ``list()``s,
    arrays unnamed ones, ints ``5L`` (doubles when outside R's integer range), floats doubles,
    booleans ``TRUE``/``FALSE``, null ``NULL``."""
    if value is None:
        return "NULL"
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, int):
        return f"{value}L" if abs(value) <= 2**31 - 1 else repr(float(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        return repr(value)
    if isinstance(value, str):
        return _r_string(value)
    if isinstance(value, dict):
        items = [f"{_r_string(str(k))} = {r_literal(v)}" for k, v in value.items()]
        return "list(" + ",\n".join(items) + ")"
    if isinstance(value, (list, tuple)):
        return "list(" + ",\n".join(r_literal(v) for v in value) + ")"
    raise TypeError(f"no R literal for {type(value).__name__}")


_R_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\t": "\t", "\\r": "\r"}
_R_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\[\\"ntr]|\\u[0-9a-f]{4}|\\U[0-9a-f]{8})*"'  # one string piece
    r"|-?(?:0|[1-9][0-9]*)L"  # an integer
    r"|-?[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?"  # a double, as Python's repr writes it
    r"|-?Inf|NaN|NULL|TRUE|FALSE|paste0\(\n|list\(|\)|,\n| = "
)
_R_ESCAPE = re.compile(r"\\(?:u([0-9a-f]{4})|U([0-9a-f]{8})|.)")
_R_CONSTANTS: dict[str, Any] = {
    "NULL": None,
    "TRUE": True,
    "FALSE": False,
    "NaN": math.nan,
    "Inf": math.inf,
    "-Inf": -math.inf,
}
MAX_LITERAL_DEPTH = 100
"""The deepest ``list()`` nesting :func:`read_r_literal` reads (a task payload nests five deep)."""


def read_r_literal(text: str) -> Any:
    r"""The value whose :func:`r_literal` is exactly ``text``; :class:`ValueError` (with the
    offset) for anything else.

    The inverse of :func:`r_literal`, for reading an R step script's payload where R must not run
    (the Jupyter server reads a cluster pod's script: engines/cluster_debug.py). It is a reader of
    that one grammar, not of R: ``list(...)`` of items (``"name" = value`` or bare values, one
    kind per list), string pieces with the writer's escapes (``\\``, ``\"``, ``\n``, ``\t``,
    ``\r``, ``\uXXXX``, ``\UXXXXXXXX``) and ``paste0()`` of them, ``5L``, doubles, ``TRUE``,
    ``FALSE``, ``NULL``, ``NaN``, ``Inf``. Any other call, name or operator is refused, never
    evaluated. The value read is written back with :func:`r_literal` and must give ``text``
    again, so exactly the writer's texts are accepted. ``list()`` reads as ``[]``: R has no
    empty named list either, and :func:`r_literal` writes ``{}`` and ``[]`` alike.
    """
    tokens: list[tuple[int, str]] = []
    pos = 0
    while pos < len(text):
        found = _R_TOKEN.match(text, pos)
        if not found:
            raise ValueError(
                f"not an R literal of naavre-batch at offset {pos}: {text[pos : pos + 30]!r}"
            )
        tokens.append((pos, found.group()))
        pos = found.end()
    tokens.append((pos, ""))
    at = 0

    def take(expected: str | None = None) -> str:
        nonlocal at
        where, token = tokens[at]
        if expected is not None and token != expected:
            raise ValueError(f"expected {expected!r} at offset {where}, found {token[:30]!r}")
        at += 1
        return token

    def value(depth: int) -> Any:
        where, token = tokens[at]
        if token == "list(":
            if depth >= MAX_LITERAL_DEPTH:
                raise ValueError(f"list() nested deeper than {MAX_LITERAL_DEPTH} at offset {where}")
            take()
            items: list[tuple[str | None, Any]] = []
            while tokens[at][1] != ")":
                if items:
                    take(",\n")
                key = None
                if tokens[at][1].startswith('"') and tokens[at + 1][1] == " = ":
                    key = string()
                    take()
                items.append((key, value(depth + 1)))
            take(")")
            keys = [k for k, _ in items]
            if not items or all(k is None for k in keys):
                return [v for _, v in items]
            if None in keys or len(set(keys)) != len(keys):
                raise ValueError(f"a list() at offset {where} mixes or repeats names")
            return {k: v for k, v in items}
        if token.startswith('"') or token == "paste0(\n":
            return string()
        take()
        if token in _R_CONSTANTS:
            return _R_CONSTANTS[token]
        if token.endswith("L"):
            return int(token[:-1])
        if token and token[0] in "-0123456789":
            return float(token)
        raise ValueError(f"not an R literal of naavre-batch at offset {where}: {token[:30]!r}")

    def string() -> str:
        if tokens[at][1] != "paste0(\n":
            return piece()
        take()
        pieces = [piece()]
        while tokens[at][1] == ",\n":
            take()
            pieces.append(piece())
        take(")")
        return "".join(pieces)

    def piece() -> str:
        where, token = tokens[at]
        if not token.startswith('"'):
            raise ValueError(f"expected a string at offset {where}, found {token[:30]!r}")
        take()
        return _R_ESCAPE.sub(
            lambda m: (
                chr(int(m.group(1) or m.group(2), 16))
                if m.group(1) or m.group(2)
                else _R_ESCAPES[m.group()]
            ),
            token[1:-1],
        )

    result = value(0)
    if tokens[at][1] != "":
        raise ValueError(f"text after the R literal at offset {tokens[at][0]}")
    if r_literal(result) != text:
        raise ValueError("not written as naavre-batch writes R literals (r_scripts.r_literal)")
    return result


def r_task_payload(spec: dict[str, Any], task: scripts.Task) -> dict[str, Any]:
    """:func:`naavre_batch_ext.steps.scripts.task_payload` for an R task: the same fields, header
    cells without Python's chunks (R's parser cuts the header at run time) and each parameter's
    default as the text a run compares overrides with."""
    payload = scripts.task_payload(spec, task)
    for cell in payload["header"]:
        cell.pop("chunks", None)
    for info in payload["parameters"].values():
        info["text"] = format_parameter(info["default"], info.get("type"))
    return payload


@lru_cache(maxsize=1)
def script_prefix() -> str:
    """What every R step script starts with: the runtime in its own environment, ``.naavre``."""
    return (
        "#!/usr/bin/env Rscript\n"
        "# naavre-batch step script, generated from the notebook's cells by naavre-batch-ext;\n"
        "# edit the notebook, not this file.\n"
        "# Inputs and outputs: folders NAAVRE_INPUTS_DIR and NAAVRE_OUTPUTS_DIR (docs/running.md).\n"
        + runtime_loader()
    )


def runtime_loader() -> str:
    """The runtime's definitions, then the lines that move them into their own environment
    ``.naavre`` (parent: base R) and leave the global environment empty for the user's code.

    Written out as top-level definitions on purpose: ``Rscript FILE`` reads a script as a console
    does, parsing an unfinished expression again with every line it adds, so the runtime as one
    800-line expression (``local(...)``) took seconds of CPU to start; each definition is short.

    The runtime runs without R's byte-code JIT: compiling its functions cost each instance about
    0.17 s of CPU, more than the rest of the runtime (benchmarks/bench_r_runner.py). The user's
    cells run with the JIT level R started with (the runtime's ``USER_JIT``), as in the notebook.
    """
    return (
        ".naavre_jit <- compiler::enableJIT(0L)\n"
        + runtime_source()
        + "\n.naavre <- new.env(parent = baseenv())\n"
        + 'for (.n in setdiff(ls(all.names = TRUE), ".naavre")) assign(.n, get(.n), envir = .naavre)\n'
        + "for (.n in ls(.naavre)) if (is.function(.naavre[[.n]])) "
        + "environment(.naavre[[.n]]) <- .naavre\n"
        + ".naavre$USER_JIT <- .naavre_jit\n"
        + 'rm(list = setdiff(ls(all.names = TRUE), ".naavre"))\n'
    )


_TASK_ASSIGN = "\n.naavre_task <- "
_TASK_RUN = '\nquit(save = "no", status = .naavre$execute(.naavre_task))\n'


def task_call(spec: dict[str, Any], task: scripts.Task) -> str:
    """The task's own end of its script: its payload as an R expression and the call that runs it."""
    payload = r_literal(r_task_payload(spec, task))
    text = (
        f"\n# The task {task.id} ({task.kind}): header, cells (escaped string literals) and wiring."
        f"{_TASK_ASSIGN}{payload}{_TASK_RUN}"
    )
    scripts._check_braces(text, f"script of task {task.id}")
    return text


def read_task_payload(script: str) -> Any:
    """The payload a step script ends with (:func:`task_call`), read with :func:`read_r_literal`
    (nothing is run); :class:`ValueError` when the script does not end as :func:`task_call`
    writes or the payload is not exactly an :func:`r_literal`."""
    start = script.rfind(_TASK_ASSIGN)
    if start < 0 or not script.endswith(_TASK_RUN):
        raise ValueError("the script does not end with a naavre-batch task (.naavre_task <- ...)")
    return read_r_literal(script[start + len(_TASK_ASSIGN) : len(script) - len(_TASK_RUN)])


def script_name(task_id: str, r: bool) -> str:
    """The file name of a task's step script in a run folder's ``scripts/``."""
    return f"{task_id}{'.R' if r else '.py'}"


def r_task_script(spec: dict[str, Any], task: scripts.Task) -> str:
    """The standalone R script of one task (deterministic: same spec, same bytes)."""
    return script_prefix() + task_call(spec, task)


def tool_script(call: str) -> str:
    """A script that loads the runtime and evaluates ``call`` with it (``.naavre$tool(...)``):
    how Python asks R to compare, merge and describe values."""
    return script_prefix() + call + "\n"


def kernel_setup_source() -> str:
    """The hidden first cell of an R notebook run in notebook context: the runtime as ``.naavre``
    in the kernel (the transport's ``rds`` codec writes each step's outputs, as a script does)."""
    return (
        ".naavre <- new.env(parent = baseenv())\n"
        + "eval(parse(text = "
        + _r_string(runtime_source())
        + ", keep.source = FALSE), envir = .naavre)\ninvisible(NULL)\n"
    )


def kernel_trace_source(names: list[str], folder: str) -> str:
    """The hidden cell that writes a step's outputs to ``folder`` (``index.json`` says which)."""
    return f".naavre$trace_values({r_literal(list(names))}, {r_literal(folder)})\n"


def kernel_header_source(notebook: str, cell: dict[str, Any], texts: dict[str, str]) -> str:
    """The hidden cell that runs a header cell with the run's parameter texts applied right after
    each parameter's assignment, in its R type (as the step scripts apply them)."""
    return (
        f".naavre$run_header_cell({r_literal(notebook)}, {int(cell['index'])}L, "
        f"{r_literal(cell['source'])}, {r_literal(texts)})\n"
    )
