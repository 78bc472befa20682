"""Content-addressed reuse of task instances in the local workflow context (docs/running.md).

An instance's **key** is a SHA-256 over what determines its result: the bytes of its task script
(which holds the header and step cells, the step runtime and the value transport, pasted), the
Python that runs it, and the bytes of every file of its inputs folder ``in/`` (the value files of
its inputs, its batch or the processor results it merges, and one file per workflow parameter).
Two instances with the same key run the same code on the same bytes, so a completed one's outputs
can stand in for the other's. What the key cannot see (files the code reads by path, clocks, random
numbers without a fixed seed, installed library versions) is the user's to declare with the tag
``naavre:no-reuse``.

Every successful instance leaves a manifest, ``reuse.json`` (its key, and the size and SHA-256 of
each output file and of ``printed.json``), in its own folder of the run. That is what
:class:`RunIndex` reads to resume a run, and what :class:`Store` keeps: a folder per key under
``<runs folder>/.reuse/`` holding hard links to those files (no copy) and the manifest. Entries
appear with one ``rename`` of a finished temporary folder, so a concurrent run sees an entry whole
or not at all; they are checked against their manifest every time before use, so an entry whose
bytes changed (truncated, edited, half-evicted) is removed and the instance runs again. The
store's size is bounded (:data:`DEFAULT_LIMIT_BYTES`); :meth:`Store.trim` evicts the least
recently used entries at the end of each run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .safe_folder import SafeFolder

__all__ = [
    "DEFAULT_LIMIT_BYTES",
    "KEY_VERSION",
    "MANIFEST",
    "STORE_DIR",
    "Hasher",
    "RUN_ID_HINT",
    "ReuseError",
    "RunIndex",
    "Store",
    "is_run_id",
    "restore",
    "verified",
    "write_manifest",
]

KEY_VERSION = "naavre-batch-reuse/1"
"""Part of every key: changing how keys are computed changes every key."""

STORE_DIR = ".reuse"
"""The store's folder inside the runs folder (a run id never starts with a dot)."""

MANIFEST = "reuse.json"
"""An instance folder's (and a store entry's) manifest file."""

PRINTED = "printed.json"
OUTPUTS = "out"

DEFAULT_LIMIT_BYTES = 2 * 1024**3
"""The store's default size bound: 2 GiB of output files (``--reuse-limit``,
``c.NaavreBatch.reuse_limit_mb``). Hard links are counted at their full size."""

_CHUNK = 1 << 20


class ReuseError(Exception):
    """The store or the run to resume cannot be used; ``message`` and ``hint`` say why."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _walk(folder: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """``(relative path, path)`` of every file under ``folder``, sorted, symbolic links refused
    (a link could make a key depend on bytes outside the run, or a store entry point outside)."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        name = f"{prefix}{entry.name}"
        if entry.is_symlink():
            raise OSError(f"{name} is a symbolic link")
        if entry.is_dir():
            yield from _walk(Path(entry.path), name + "/")
        else:
            yield name, Path(entry.path)


class Hasher:
    """SHA-256 of files, remembered per inode and modification time within one run: a broadcast
    input linked into every batch's ``in/`` folder is read once, not once per batch."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, int, int, int], str] = {}
        self._lock = threading.Lock()

    def file(self, path: Path) -> tuple[int, str]:
        """``(size, hex digest)`` of one file."""
        st = os.stat(path, follow_symlinks=False)
        ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            known = self._known.get(ident)
        if known is None:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
            known = digest.hexdigest()
            with self._lock:
                self._known[ident] = known
        return st.st_size, known

    def key(self, script: Path, inputs: Path, python: str) -> str:
        """The instance key: script bytes, the Python running it, and every input file."""
        digest = hashlib.sha256()
        size, script_hash = self.file(script)
        for part in (KEY_VERSION, python, f"{sys.version_info[:3]}", script_hash):
            digest.update(part.encode() + b"\0")
        if inputs.is_dir():
            for name, path in _walk(inputs):
                size, file_hash = self.file(path)
                digest.update(f"{name}\0{size}\0{file_hash}\0".encode())
        return digest.hexdigest()

    def files(self, folder: Path) -> dict[str, list[Any]]:
        """``{relative path: [size, sha256]}`` of an instance's outputs and printed text."""
        listed: dict[str, list[Any]] = {}
        for name, path in _walk(folder / OUTPUTS, OUTPUTS + "/"):
            listed[name] = list(self.file(path))
        if (folder / PRINTED).is_file():
            listed[PRINTED] = list(self.file(folder / PRINTED))
        return listed


def _write_atomic(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file in the same folder and a rename: readers see the
    old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_manifest(folder: Path, key: str, hasher: Hasher) -> dict[str, Any]:
    """Record a successful instance's key and output hashes in ``folder/reuse.json``."""
    manifest = {"key": key, "files": hasher.files(folder)}
    _write_atomic(folder / MANIFEST, json.dumps(manifest, sort_keys=True))
    return manifest


def verified(folder: Path, key: str | None = None) -> dict[str, Any] | None:
    """The manifest of ``folder`` when every file it lists is there with its size and SHA-256,
    no other output file is, and (given ``key``) it is that key's; else ``None``. A fresh read
    of every byte: a truncated or edited output is never used."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if key is not None and manifest.get("key") != key:
            return None
        present = Hasher().files(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return manifest if present == files else None


def restore(entry: Path, folder: Path) -> dict[str, str]:
    """Give an instance folder the outputs and printed text of a verified entry (hard links: the
    stored bytes themselves) and its manifest; returns the printed text."""
    from .runner import _link

    out = folder / OUTPUTS
    if out.exists():
        shutil.rmtree(out)
    _link(entry / OUTPUTS, out)
    printed: dict[str, str] = {}
    if (entry / PRINTED).is_file():
        _link(entry / PRINTED, folder / PRINTED)
        printed = json.loads((folder / PRINTED).read_text(encoding="utf-8"))
    _link(entry / MANIFEST, folder / MANIFEST)
    return printed


def _inside(path: Path, top: Path) -> bool:
    real = os.path.realpath(path)
    top_real = os.path.realpath(top)
    return real == top_real or real.startswith(top_real.rstrip(os.sep) + os.sep)


class Store:
    """The reuse store of one runs folder: ``<runs>/.reuse/<key[:2]>/<key>/`` entries.

    Safe for several runs at once (of the same notebook or not): an entry is built in a private
    temporary folder and renamed into place once; a second run storing the same key finds the
    place taken and drops its copy; eviction renames an entry away before deleting it. Nothing is
    written outside ``<runs>/.reuse`` (a symbolic link there is refused).
    """

    def __init__(self, folder: SafeFolder, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self.folder = folder
        self.path = folder.path
        """Where entries are read and written: through the open folder's descriptor (Linux)."""
        self.limit_bytes = limit_bytes

    @classmethod
    def open(cls, runs: Path | SafeFolder, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> Store:
        """The store of the runs folder ``runs`` (a path, or the runner's open folder), created
        and opened once below it without following a link (:mod:`.safe_folder`): a ``.reuse``
        that is a symbolic link or a file is refused (:class:`ReuseError`)."""
        try:
            parent = runs if isinstance(runs, SafeFolder) else SafeFolder.open(runs)
            try:
                folder = parent.mkdir(STORE_DIR, exist_ok=True)
            finally:
                if parent is not runs:
                    parent.close()
        except OSError as exc:
            where = runs.label if isinstance(runs, SafeFolder) else str(runs)
            raise ReuseError(
                f"the reuse store {STORE_DIR} in {where} is not a plain folder or cannot be "
                f"made ({exc.strerror or exc}); nothing was run",
                f"remove {where}/{STORE_DIR} (it is only a cache)",
            ) from None
        return cls(folder, limit_bytes)

    def close(self) -> None:
        """Close the store's folder (idempotent)."""
        self.folder.close()

    def _entry(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a reuse key: {key!r}")
        return self.path / key[:2] / key

    def _safe_dir(self, folder: Path) -> Path:
        """Create ``folder`` inside the store, refusing one that resolves outside it."""
        folder.mkdir(parents=True, exist_ok=True)
        if folder.is_symlink() or not _inside(folder, self.path):
            raise ReuseError(
                f"{folder} leads outside the reuse store; nothing was stored",
                f"remove {self.path} (it is only a cache)",
            )
        return folder

    def get(self, key: str) -> Path | None:
        """The entry of ``key`` when present and intact; a damaged entry is evicted."""
        entry = self._entry(key)
        if not entry.is_dir() or entry.is_symlink() or not _inside(entry, self.path):
            return None
        if verified(entry, key) is None:
            self._evict(entry)
            return None
        with contextlib.suppress(OSError):
            os.utime(entry / MANIFEST)  # least recently *used* goes first
        return entry

    def put(self, key: str, folder: Path) -> bool:
        """Store a successful instance folder (with its manifest) under ``key``; ``False`` when
        the entry exists already, is over the limit, or another run got there first."""
        entry = self._entry(key)
        if entry.exists():
            return False
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            size = sum(int(v[0]) for v in manifest["files"].values())
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if size > self.limit_bytes:
            return False
        from .runner import _link

        tmp = self._safe_dir(self.path / "tmp") / secrets.token_hex(8)
        try:
            tmp.mkdir()
            _link(folder / OUTPUTS, tmp / OUTPUTS)
            if (folder / PRINTED).is_file():
                _link(folder / PRINTED, tmp / PRINTED)
            shutil.copyfile(folder / MANIFEST, tmp / MANIFEST)
            self._safe_dir(entry.parent)
            os.rename(tmp, entry)  # atomic; fails when another run stored the key first
        except OSError:
            return False
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return True

    def _evict(self, entry: Path) -> None:
        trash = self._safe_dir(self.path / "tmp") / f"evicted-{secrets.token_hex(8)}"
        try:
            os.rename(entry, trash)
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def entries(self) -> list[tuple[float, int, Path]]:
        """``(last use, size, folder)`` of every entry."""
        found: list[tuple[float, int, Path]] = []
        for shard in sorted(self.path.iterdir()):
            if len(shard.name) != 2 or not shard.is_dir() or shard.is_symlink():
                continue
            for entry in shard.iterdir():
                try:
                    manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
                    size = sum(int(v[0]) for v in manifest["files"].values())
                    used = (entry / MANIFEST).stat().st_mtime
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                found.append((used, size, entry))
        return found

    def size(self) -> int:
        """Bytes of output the store holds (the sum of its manifests)."""
        return sum(size for _, size, _ in self.entries())

    def trim(self) -> int:
        """Evict least recently used entries until the store fits its limit; the number evicted."""
        entries = sorted(self.entries())
        total = sum(size for _, size, _ in entries)
        evicted = 0
        for _, size, entry in entries:
            if total <= self.limit_bytes:
                break
            self._evict(entry)
            total -= size
            evicted += 1
        return evicted


RUN_ID_HINT = "run ids look like 20261125-093012-a1b2c3"


def is_run_id(text: str) -> bool:
    """Whether ``text`` can name a run folder: one path segment, not hidden (``.reuse``)."""
    return bool(text) and "/" not in text and "\\" not in text and not text.startswith(".")


@dataclass
class RunIndex:
    """The successful instances of an earlier run, by key: what ``--resume RUN_ID`` takes from."""

    run_id: str
    folder: Path
    by_key: dict[str, Path]
    failed: set[str]

    @classmethod
    def open(cls, runs_folder: Path, run_id: str) -> RunIndex:
        """Read the manifests of run ``run_id`` (``ReuseError`` when there is no such run)."""
        if not is_run_id(run_id):
            raise ReuseError(f"{run_id!r} is not a run id", RUN_ID_HINT)
        folder = Path(runs_folder) / run_id
        if not (folder / "spec.json").is_file() or not _inside(folder, runs_folder):
            raise ReuseError(
                f"no run {run_id} in {runs_folder}",
                "give the id a run printed (naavre-batch run), or its --runs-dir",
            )
        by_key: dict[str, Path] = {}
        failed: set[str] = set()
        for manifest in sorted(folder.glob(f"*/{MANIFEST}")) + sorted(
            folder.glob(f"*/*/{MANIFEST}")
        ):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                by_key[json.loads(manifest.read_text(encoding="utf-8"))["key"]] = manifest.parent
        for error in list(folder.glob("*/error.json")) + list(folder.glob("*/*/error.json")):
            failed.add(error.parent.relative_to(folder).as_posix())
        return cls(run_id, folder, by_key, failed)

    def get(self, key: str) -> Path | None:
        """The earlier instance folder of ``key`` when its files are intact."""
        folder = self.by_key.get(key)
        if folder is None or verified(folder, key) is None:
            return None
        return folder

    def parameters(self) -> dict[str, Any] | None:
        """The parameter values the run used (from its ``result.json``), when it finished."""
        try:
            result = json.loads((self.folder / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        params = result.get("parameters")
        return params if isinstance(params, dict) else None


class Reuser:
    """What one workflow run uses to reuse instances: keys, the store (with ``--reuse``) and the
    run to resume (with ``--resume``). Without either it only writes manifests, so that any run
    can be resumed later."""

    def __init__(
        self, python: str, store: Store | None = None, index: RunIndex | None = None
    ) -> None:
        self.python = python
        self.store = store
        self.index = index
        self.hasher = Hasher()

    @property
    def active(self) -> bool:
        """Whether instances may be taken instead of run."""
        return self.store is not None or self.index is not None

    def key(self, script: Path, folder: Path) -> str | None:
        """The key of the instance whose prepared folder is ``folder`` (``None`` when an input
        cannot be read as plain files: it then simply runs)."""
        try:
            return self.hasher.key(script, folder / "in", self.python)
        except OSError:
            return None

    def take(self, key: str | None, folder: Path) -> dict[str, str] | None:
        """Fill ``folder`` from the store or the resumed run when ``key`` is there, intact;
        returns the printed text, or ``None`` when the instance has to run."""
        if key is None:
            return None
        for source in (self.store, self.index):
            entry = source.get(key) if source is not None else None
            if entry is not None:
                try:
                    return restore(entry, folder)
                except (OSError, ValueError):
                    return None
        return None

    def close(self) -> None:
        """Close the store's folder, if any."""
        if self.store is not None:
            self.store.close()

    def record(self, key: str | None, folder: Path) -> None:
        """After a successful run: the manifest, and the store entry with ``--reuse``."""
        if key is None:
            return
        try:
            write_manifest(folder, key, self.hasher)
        except OSError:
            return
        if self.store is not None:
            self.store.put(key, folder)
