"""The R side of the language seam: an R notebook (IRkernel) read with R's own parser.

One ``Rscript`` process per analysis runs ``core/r/analyse.R`` over every code cell at once: base
R's ``parse(keep.source = TRUE)`` and ``getParseData()`` (syntax errors and locations) and the
``codetools`` package that ships with R (``findFuncLocals``, ``findLocals``: the locals of
functions). It reports, per cell, the same name events the Python analyser collects (``load``,
``deferred``, ``store``, ``mutate``), the top-level statements (parameters, header work), the
packages used and calls that need the container's tools. :class:`RAnalyser` turns those into the
same :class:`~naavre_batch_ext.core.analysis.CellInfo` objects, so steps, sections, data flow,
diagnostics and the spec are the Python analyser's, unchanged (docs/r.md says what R is read how).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from .analysis import PARAM_PREFIX, CellInfo, Parameter, Step, _Analyser, _Event
from .notebook import NotebookError

__all__ = [
    "BASE_R_PACKAGES",
    "R_INSTALL_HINT",
    "RAnalyser",
    "RCell",
    "analyse_r_sources",
    "r_string",
]

BASE_R_PACKAGES = frozenset(
    {
        "base",
        "compiler",
        "datasets",
        "graphics",
        "grDevices",
        "grid",
        "methods",
        "parallel",
        "splines",
        "stats",
        "stats4",
        "tcltk",
        "tools",
        "utils",
    }
)
"""Packages every R installation has: not listed in a step's ``imports`` (what the image needs)."""

R_INSTALL_HINT = (
    "install R and its codetools package on the machine that analyses notebooks: on Debian or "
    "Ubuntu 'apt-get install r-base-core r-cran-codetools' (with conda: 'conda install r-base "
    "r-codetools'), and make sure Rscript is on the PATH"
)

R_TIMEOUT_SECONDS = 120
"""Far beyond any notebook (100 cells take a fraction of a second): only a hung R is stopped."""

_STEP_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")
"""Names that can cross a step boundary: the spec's identifiers (R's syntactic ASCII names)."""

_PARAM_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass
class RCell:
    """What ``analyse.R`` read from one parsed R cell (``CellInfo.facts``)."""

    events: list[_Event]
    statements: list[dict[str, Any]]
    packages: set[str]
    warnings: list[dict[str, Any]] = field(default_factory=list)


def r_string(text: str) -> str:
    """``text`` as an R string literal. JSON's escapes (``\\n``, ``\\"``, ``\\\\``, ``\\u0001``) are
    R's too; R strings cannot hold NUL, which no cell that runs contains either."""
    return json.dumps(text.replace("\0", ""), ensure_ascii=False)


def analyse_r_sources(sources: list[str], rscript: str | None = None) -> list[dict[str, Any]]:
    """Run ``analyse.R`` once over all ``sources``; one result dict per source, in order.

    Raises :class:`NotebookError` (never a traceback) when R or codetools is missing, and when R
    itself fails, with what to install or do.
    """
    program = rscript or shutil.which("Rscript")
    if program is None:
        raise NotebookError(
            "this is an R notebook, and analysing it needs R, but Rscript was not found",
            R_INSTALL_HINT,
        )
    script = files("naavre_batch_ext.core") / "r" / "analyse.R"
    # No byte-compiling of the analyser's own functions (R_ENABLE_JIT=0): it took 90% of the time.
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "R_ENABLE_JIT": "0"}
    try:
        done = subprocess.run(
            [program, "--vanilla", "--default-packages=base", str(script)],
            input="c(" + ",\n".join(r_string(s) for s in sources) + ")\n",
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            timeout=R_TIMEOUT_SECONDS,
            check=False,
        )
    except OSError as exc:
        raise NotebookError(
            f"this is an R notebook, and Rscript ({program}) could not be started: {exc.strerror}",
            R_INSTALL_HINT,
        ) from None
    except subprocess.TimeoutExpired:
        raise NotebookError(
            f"R did not finish analysing the notebook within {R_TIMEOUT_SECONDS} s",
            "check that Rscript runs ('Rscript -e 1'), then try again",
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        if "codetools" in done.stderr:
            raise NotebookError(
                "this is an R notebook, and analysing it needs R's codetools package, which R "
                "could not load",
                R_INSTALL_HINT,
            )
        last = lines[0] if lines else f"exit status {done.returncode}"
        raise NotebookError(
            f"R could not analyse the notebook: {last}",
            "check that 'Rscript -e 1' works; if it does, please report this with the notebook",
        )
    try:
        cells = json.loads(done.stdout)["cells"]
    except (ValueError, KeyError, TypeError):
        raise NotebookError(
            "R's analysis of the notebook gave no readable answer",
            "check that 'Rscript -e 1' prints nothing unexpected (a site profile?), then try again",
        ) from None
    if not isinstance(cells, list) or len(cells) != len(sources):
        raise NotebookError("R's analysis of the notebook is incomplete", "please report this")
    return cells


def r_source(source: str) -> str:
    """The cell as R's parser is given it: Windows line ends as ``\n`` (R refuses ``\r``)."""
    return source.replace("\r\n", "\n").replace("\r", "\n")


def character_column(lines: list[str], line: int, column: int) -> int:
    """The column (from 1, in characters, as the Python analysis counts) of R's ``column`` on
    ``line``: R's parser counts a tab as a move to the next multiple of 8."""
    if not 1 <= line <= len(lines) or "\t" not in lines[line - 1]:
        return column
    shown = 0
    for index, char in enumerate(lines[line - 1]):
        shown = (shown // 8 + 1) * 8 if char == "\t" else shown + 1
        if shown >= column:
            return index + 1
    return column


def _r_cell(result: dict[str, Any], source: str) -> RCell:
    lines = source.split("\n")
    events = [
        _Event(kind, name, int(line), character_column(lines, int(line), int(col)), via, bool(soft))
        for kind, name, line, col, via, soft in result.get("events") or []
    ]
    statements = [
        {**stmt, "column": character_column(lines, stmt["line"], stmt["column"])}
        for stmt in result.get("statements") or []
    ]
    warnings = [
        {**w, "column": character_column(lines, w["line"], w["column"])}
        for w in result.get("warnings") or []
    ]
    return RCell(
        events=events,
        statements=statements,
        packages=set(result.get("packages") or []),
        warnings=warnings,
    )


def _parameter_value(param: dict[str, Any]) -> Any:
    """The JSON default of an R literal: R's double stays a float (``5`` is ``5.0``)."""
    value = json.loads(param["value"])
    return float(value) if param["type"] == "float" else value


class RAnalyser(_Analyser):
    """The analyser of R notebooks: R reads the cells, everything after that is shared."""

    language = "R"
    passable = "data values"
    unknown_names_are_errors = False

    def is_builtin(self, name: str) -> bool:
        """R names no cell binds are never reported (attached packages, data sets, columns)."""
        return False

    def whole_number(self, param: Parameter) -> bool:
        """``5L`` or ``5``: R users write counts as doubles, and R's ``seq_len`` takes either."""
        if param.type == "float":
            return math.isfinite(param.default) and float(param.default).is_integer()
        return param.type == "int"

    def read_cells(self) -> list[CellInfo]:
        code = list(self.code_cells())
        sources = [r_source(source) for _, _, source, _ in code]
        results = analyse_r_sources(sources)
        cells: list[CellInfo] = []
        for (index, cell_id, source, annotation), parsed, result in zip(
            code, sources, results, strict=True
        ):
            info = CellInfo(index, cell_id, _title_of(source), source, source, None, annotation)
            error = result.get("error")
            if error is not None:
                line = error["line"]
                column = character_column(parsed.split("\n"), line, error["column"])
                self.syntax_error(info, error["message"], line, column)
            elif "failure" in result:
                self.diag(
                    "error",
                    "r-analysis-failed",
                    f"the R analysis could not read this cell ({result['failure']})",
                    "please report this with the cell; the rest of the notebook was still analysed",
                    info,
                    1,
                    1,
                )
            else:
                info.facts = _r_cell(result, parsed)
            self.tag_problems(info)
            cells.append(info)
        return cells

    def events(self, cell: CellInfo) -> list[_Event]:
        return cell.facts.events if isinstance(cell.facts, RCell) else []

    def _statements(self, cell: CellInfo) -> list[dict[str, Any]]:
        return cell.facts.statements if isinstance(cell.facts, RCell) else []

    def read_header(self, header: list[CellInfo], *, warn_work: bool) -> list[Parameter]:
        params: dict[str, Parameter] = {}
        for cell in header:
            for stmt in self._statements(cell):
                param = stmt.get("param")
                if param is not None and _is_param_name(param["name"]):
                    name = param["name"]
                    if param["type"] is None:
                        self.diag(
                            "warning",
                            "parameter-not-literal",
                            f"{name} is not assigned a single literal value ({param['text']}), so it is not a workflow parameter",
                            "assign one number (5L for an integer, 2.5 for a double), a string, "
                            "TRUE or FALSE, or NULL to make it a parameter",
                            cell,
                            stmt["line"],
                            stmt["column"],
                        )
                        continue
                    found = Parameter(
                        name,
                        _parameter_value(param),
                        param["type"],
                        cell.index,
                        cell.id,
                        stmt["line"],
                    )
                    self.add_parameter(params, found, param["text"], cell)
                    continue
                if warn_work and stmt.get("work"):
                    self.warn_header_work(cell, stmt["line"], stmt["column"])
        return list(params.values())

    def parameter_assignments(self, cell: CellInfo) -> Iterator[tuple[str, int, int]]:
        for stmt in self._statements(cell):
            param = stmt.get("param")
            if param is not None:
                yield param["name"], stmt["line"], stmt["column"]

    def data_flow(
        self, header: list[CellInfo], steps: list[Step]
    ) -> dict[tuple[str, str], list[str]]:
        """The shared data flow, then a located error for each input that is no spec identifier
        (a backquoted R name such as `` `my var` ``): it could not be named between steps."""
        flows = super().data_flow(header, steps)
        for step in steps:
            for name in step.inputs:
                if _STEP_NAME.fullmatch(name):
                    continue
                cell, event = next(
                    (c, e) for c in step.cells for e in self.events(c) if e.name == name
                )
                self.diag(
                    "error",
                    "unsupported-name",
                    f"'{name}' comes from an earlier step, but only plain names (ASCII letters, "
                    "digits, '.' and '_') can pass between steps",
                    "rename it, in this step and where it is set, without spaces or other characters",
                    cell,
                    event.line,
                    event.col,
                )
        return flows

    def cell_imports(self, cell: CellInfo) -> set[str]:
        """The R packages the cell loads or calls into (``library(x)``, ``x::f``), base R's aside."""
        if not isinstance(cell.facts, RCell):
            return set()
        return {p for p in cell.facts.packages if p not in BASE_R_PACKAGES}

    def warn_cell(self, cell: CellInfo, where: str) -> None:
        """R's counterparts of the IPython warnings: shell commands and package installs."""
        if not isinstance(cell.facts, RCell):
            return
        for warning in cell.facts.warnings:
            what, line, column = warning["what"], warning["line"], warning["column"]
            if warning["code"] == "shell-escape":
                self.diag(
                    "warning",
                    "shell-escape",
                    f"shell command {what}() in the {where}: it needs the tools in the container image",
                    "do it in R if you can; otherwise make sure the image has the tool",
                    cell,
                    line,
                    column,
                )
            else:
                self.diag(
                    "warning",
                    "install-packages",
                    f"install.packages() in the {where}: every step instance would install packages while it runs",
                    "install the packages in the container image (give --image) and keep only library() here",
                    cell,
                    line,
                    column,
                )


def _is_param_name(name: str) -> bool:
    """The spec's parameter names: ``param_`` and letters, digits, ``_`` (no R dots)."""
    return name.startswith(PARAM_PREFIX) and set(name) <= _PARAM_NAME_CHARS


def _title_of(source: str) -> str:
    from .analysis import _title

    return _title(source)[0]
