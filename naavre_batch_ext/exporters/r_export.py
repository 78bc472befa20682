"""What the exports change for an R notebook: the command, the image, and the Argo runtime loader.

Everything else of an export (tasks, DAG, wiring of values and parameters, CWL tools) is the one
the Python notebooks use; :mod:`~naavre_batch_ext.exporters.argo` and
:mod:`~naavre_batch_ext.exporters.cwl` ask this module only where the language matters:

- the scripts are :func:`naavre_batch_ext.steps.r_scripts.r_task_script` (base R only) and run
  with ``Rscript``;
- the default image is ``rocker/r-ver:<major.minor>`` of the notebook's R (its
  ``language_info.version`` when the spec records it, else the R that runs the ``ir`` kernel
  here), instead of ``python:3.11-slim``; ``--image`` still overrides it;
- on Argo the runtime travels once per workflow in the ``naavre-batch/runtime`` annotation (zlib
  compressed, base64: printable, no quotes or backslashes), which a short base-R loader decodes.
  Argo runs a script template as ``command + [script file]`` (``workflowpod.go`` appends
  ``ExecutorScriptSourcePath``), here ``Rscript -e 'source(...)' FILE``: ``source()`` reads the
  file whole, where ``Rscript FILE`` would read it as a console, in lines of 4 KB, and the loader's
  one line holds the whole runtime.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import re
import subprocess
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..steps import r_scripts

if TYPE_CHECKING:
    from .argo import ArgoOptions

__all__ = [
    "ARGO_COMMAND",
    "CWL_SCRIPT_NAME",
    "R_IMAGE",
    "argo_script_source",
    "default_image",
    "for_language",
    "inline_runtime",
    "runtime_annotation",
]

R_IMAGE = "rocker/r-ver"
"""The R image family: base R only (what the step runtime needs), one tag per R version."""

ARGO_COMMAND = ["Rscript", *r_scripts.SOURCE_ARGS]
"""An R script template's command; Argo appends the script's path."""

CWL_SCRIPT_NAME = "naavre-step.R"
"""The R step script's file name in each CWL tool's working directory."""

ARGO_PROLOGUE = r"""
# Argo: the batch reaches a processor as the item of a withParam over a JSON list of strings,
# rendered with Item.String() (item.go): JSON escapes kept, outer quotes dropped. An R value's
# text form is "naavre-value/1 rds;base64", an escaped newline, then base64 (no other escapes).
local({
  folder <- Sys.getenv("NAAVRE_INPUTS_DIR")
  batch <- file.path(folder, "naavre-batch")
  if (nzchar(folder) && file.exists(batch) && !dir.exists(batch)) {
    data <- readBin(batch, "raw", n = file.info(batch)$size)
    if (!(as.raw(10L) %in% data)) {
      writeChar(sub("\\n", "\n", rawToChar(data), fixed = TRUE), batch, eos = NULL, useBytes = TRUE)
    }
  }
  if (nzchar(folder) && identical(Sys.getenv("NAAVRE_VALUES", "binary"), "binary")) {
    # No processor succeeded, nothing was stored under the key prefix: the merger reads an empty
    # folder and names every batch as missing.
    dir.create(file.path(folder, "naavre-batch-results"), showWarnings = FALSE, recursive = TRUE)
  }
})
# Argo: batch files are named by their index, as withParam's item.index names them.
.naavre$batch_file_name <- function(index) as.character(as.integer(index))
"""
"""Runs after the runtime and before the task in every R pod (see the comments in it)."""


def _b64_loader(annotation_ref: str) -> str:
    """Base R that decodes the annotation (base64 of zlib) and runs the runtime it holds."""
    return (
        "local({\n"
        f'  text <- gsub("[^A-Za-z0-9+/]", "", "{annotation_ref}")\n'
        '  chars <- c(LETTERS, letters, 0:9, "+", "/")\n'
        '  v <- match(strsplit(text, "")[[1]], chars) - 1L\n'
        "  v <- c(v, rep(0L, (4L - length(v) %% 4L) %% 4L))\n"
        "  m <- matrix(v, nrow = 4L)\n"
        "  n <- m[1L, ] * 262144 + m[2L, ] * 4096 + m[3L, ] * 64 + m[4L, ]\n"
        "  bytes <- as.raw(rbind(n %/% 65536, (n %/% 256) %% 256, n %% 256))\n"
        "  bytes <- bytes[seq_len(floor(nchar(text) * 3 / 4))]\n"
        '  code <- rawToChar(memDecompress(bytes, "gzip"))\n'
        "  eval(parse(text = code, keep.source = FALSE), envir = globalenv())\n"
        "})\n"
    )


def argo_script_source(spec: Mapping[str, Any], task: Any, annotation_ref: str) -> str:
    """A task's ``script.source`` on Argo: the loader of the runtime annotation, then the task."""
    return _b64_loader(annotation_ref) + r_scripts.task_call(dict(spec), task)


MAX_RUNTIME_BYTES = 16 * 2**20
"""The most a runtime annotation may decompress to in :func:`inline_runtime` (the runtime is
about 100 KB): a bigger one is not naavre-batch's."""


def inline_runtime(source: str, annotation_ref: str, annotation: str) -> str | None:
    """An R pod's script with its runtime loader replaced by the runtime it loads: the
    annotation's text (base64, then zlib, decoded here as data: nothing is run), then the task.
    None when ``source`` does not start with the loader :func:`argo_script_source` writes, or
    the annotation is not base64 of zlib.

    Debugging a cluster batch (engines/cluster_debug.py) evaluates a script's expressions in an
    environment of its own in the user's kernel; the pod's loader evaluates the runtime in
    ``globalenv()``, which in the kernel is the user's, so the laid-out script holds the runtime
    it decodes, as the top-level definitions a local R step script has (the same expressions
    the pod's loader evaluated at the top level of its ``Rscript``)."""
    loader = _b64_loader(annotation_ref)
    if not source.startswith(loader):
        return None
    try:
        inflate = zlib.decompressobj()
        data = inflate.decompress(base64.b64decode(annotation, validate=True), MAX_RUNTIME_BYTES)
        if inflate.unconsumed_tail or not inflate.eof:
            return None
        text = data.decode("utf-8")
    except (ValueError, zlib.error):
        return None
    return text + source[len(loader) :]


@functools.lru_cache(maxsize=1)
def runtime_annotation() -> str:
    """The ``naavre-batch/runtime`` annotation of an R workflow: the runtime's definitions (and
    the lines that move them into ``.naavre``) and the Argo prologue, zlib compressed, base64."""
    text = (r_scripts.runtime_loader() + ARGO_PROLOGUE).encode("utf-8")
    return base64.b64encode(zlib.compress(text, 9)).decode("ascii")


_VERSION = re.compile(r"^(\d+)\.(\d+)")


@functools.lru_cache(maxsize=1)
def _local_r_version() -> str | None:
    """major.minor of the R that runs here (the ``ir`` kernel's R), or None without R."""
    try:
        done = subprocess.run(
            [r_scripts.rscript(), "-e", "cat(R.version$major, R.version$minor, sep = '.')"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _VERSION.match(done.stdout.strip())
    return f"{found.group(1)}.{found.group(2)}" if found else None


def default_image(spec: Mapping[str, Any]) -> str:
    """``rocker/r-ver:<major.minor>`` of the notebook's R: ``notebook.language_version`` of the
    spec (nbformat's ``language_info.version``) when there is one, else the R here, else
    ``rocker/r-ver:latest``."""
    recorded = str((spec.get("notebook") or {}).get("language_version") or "")
    found = _VERSION.match(recorded)
    version = f"{found.group(1)}.{found.group(2)}" if found else _local_r_version()
    return f"{R_IMAGE}:{version or 'latest'}"


def for_language(spec: Mapping[str, Any], options: ArgoOptions) -> ArgoOptions:
    """``options`` for this spec's language: an R notebook left on the default Python image gets
    :func:`default_image` (an image given with ``--image`` is kept)."""
    from .argo import DEFAULT_IMAGE

    if r_scripts.is_r(dict(spec)) and options.image == DEFAULT_IMAGE:
        return dataclasses.replace(options, image=default_image(spec))
    return options
