"""Exports of a spec to files: format dispatch and writing that never overwrites by surprise.

A CWL export is two files, the document (``<stem>.cwl``) and its job file with the parameter
defaults (``<stem>.job.yml``, :func:`export_files`); both are checked before either is written.

Shared by the CLI (``naavre-batch export``) and the REST API, so both name files the same way and
refuse to clobber the same way. Rendering is pure; only :func:`write_export` touches the disk.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.spec import dumps_spec
from .argo import ArgoOptions, export_argo
from .cwl import export_cwl, export_job

__all__ = [
    "FORMATS",
    "JOB_SUFFIX",
    "SUFFIXES",
    "ExportExistsError",
    "ExportTargetError",
    "default_output_path",
    "export_files",
    "job_path",
    "render_export",
    "write_export",
    "write_exports",
]

SUFFIXES: dict[str, str] = {"argo": ".argo.yaml", "json": ".workflow.json", "cwl": ".cwl"}
"""File name ending per format: ``<notebook stem><suffix>`` beside the notebook."""

JOB_SUFFIX = ".job.yml"
"""The CWL job file's ending, beside the document: ``cwltool NB.cwl NB.job.yml`` runs it."""

FORMATS: tuple[str, ...] = tuple(SUFFIXES)


class ExportExistsError(FileExistsError):
    """The target file exists and ``force`` was not given; carries a message and a hint."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.message = f"{path} exists; nothing was written"
        self.hint = "use --force to overwrite it, or choose another file with -o FILE"
        super().__init__(self.message)


class ExportTargetError(ValueError):
    """The target can never receive an export, ``force`` or not: it is the source notebook itself
    or a folder. Carries a message and a hint."""

    def __init__(self, path: Path, message: str, hint: str) -> None:
        self.path = path
        self.message = message
        self.hint = hint
        super().__init__(message)


def check_target(path: str | os.PathLike[str], source: str | os.PathLike[str] | None) -> None:
    """Refuse a target that ``--force`` must not replace: the notebook being exported (a typo in
    ``-o`` would otherwise turn the user's notebook into YAML) or a folder."""
    target = Path(path)
    if (
        source is not None
        and target.exists()
        and Path(source).exists()
        and os.path.samefile(target, source)
    ):
        raise ExportTargetError(
            target,
            f"{target} is the notebook being exported; nothing was written",
            "choose another file with -o FILE",
        )
    if target.is_dir():
        raise ExportTargetError(
            target, f"{target} is a folder; nothing was written", "give a file name with -o FILE"
        )


def default_output_path(notebook: str | os.PathLike[str], fmt: str) -> Path:
    """``<stem>.argo.yaml``, ``<stem>.workflow.json`` or ``<stem>.cwl`` in the notebook's folder."""
    if fmt not in SUFFIXES:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = Path(notebook)
    return path.with_name(path.stem + SUFFIXES[fmt])


def job_path(document: str | os.PathLike[str]) -> Path:
    """The job file beside a CWL document: ``x.cwl`` -> ``x.job.yml`` (any other name: + suffix)."""
    path = Path(document)
    stem = path.name[: -len(".cwl")] if path.name.endswith(".cwl") else path.name
    return path.with_name(stem + JOB_SUFFIX)


def render_export(spec: Mapping[str, Any], fmt: str, options: ArgoOptions | None = None) -> str:
    """The exported text: the Argo Workflow YAML, the packed CWL document, or the spec's JSON."""
    if fmt == "argo":
        return export_argo(spec, options)
    if fmt == "cwl":
        return export_cwl(spec, options)
    if fmt == "json":
        return dumps_spec(spec)
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


def export_files(
    spec: Mapping[str, Any],
    fmt: str,
    target: str | os.PathLike[str],
    options: ArgoOptions | None = None,
    text: str | None = None,
) -> list[tuple[Path, str]]:
    """Every file of an export to ``target``, as ``(path, text)``: the export itself, and for
    ``cwl`` its job file beside it (:func:`job_path`). ``text`` reuses an export already rendered."""
    main = text if text is not None else render_export(spec, fmt, options)
    files = [(Path(target), main)]
    if fmt == "cwl":
        document = Path(target)
        files.append((job_path(document), export_job(spec, document.name.removesuffix(".cwl"))))
    return files


def write_exports(
    files: list[tuple[Path, str]],
    force: bool = False,
    source: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """:func:`write_export` for several files that belong together: every target is checked first,
    so an existing job file (without ``force``) leaves the document unwritten too."""
    for path, _ in files:
        check_target(path, source)
        if not force and path.exists():
            raise ExportExistsError(path)
    return [write_export(path, text, force=force, source=source) for path, text in files]


def write_export(
    path: str | os.PathLike[str],
    text: str,
    force: bool = False,
    source: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``text`` (UTF-8) to ``path``; an existing file is replaced only when ``force``, and
    never when it is ``source`` (the notebook exported) or a folder (:class:`ExportTargetError`).

    Without ``force`` the file is created exclusively (``O_EXCL``), so a file that appears between
    a check and the write is not overwritten either. With ``force`` the text goes to a temporary
    file in the same folder first and replaces the old one in one step, so a failed write never
    leaves half a file where the user's was.
    """
    target = Path(path)
    check_target(target, source)
    data = text.encode("utf-8")
    if not force:
        try:
            with open(target, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            raise ExportExistsError(target) from None
        return target
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def _umask() -> int:
    """The process umask (read by setting and restoring it; there is no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
