"""A folder opened once, so that every later write lands in it even if its path is swapped.

Checking a path and then writing through it leaves a window: a rename in between (``mv
.naavre-batch .old && ln -s /outside .naavre-batch``) sends the writes through the new symbolic
link. :class:`SafeFolder` closes that window the way ``openat(2)`` does: the folder is opened once,
walking from ``/`` (or from the server root) one component at a time with ``O_NOFOLLOW`` and
``O_DIRECTORY``, so no symbolic link is followed, and the open descriptor is kept. Everything
below is then reached through the descriptor:

- :meth:`SafeFolder.mkdir` creates a sub-folder with ``mkdir(dir_fd=...)`` and opens it the same
  way (a name that is already a link is refused);
- :attr:`SafeFolder.path` is ``/proc/self/fd/<fd>`` on Linux, a path that the kernel resolves to
  the opened folder itself whatever its name is now. Plain ``pathlib`` code, and child processes
  started with ``pass_fds=folder.pass_fds``, write below it safely. Where there is no
  ``/proc/self/fd`` (macOS), it is the folder's real path and :meth:`SafeFolder.check_in_place`,
  called before each batch of writes, refuses once the path leads elsewhere.

Used by the local runner for the runs folder and each run folder (docs/running.md), and meant for
anything else that keeps files under ``.naavre-batch/`` (a reuse store): open it with
:meth:`SafeFolder.open`, keep the object, write below :attr:`SafeFolder.path`, show
:meth:`SafeFolder.shown` paths to the user, :meth:`SafeFolder.close` at the end.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType

__all__ = ["FolderMovedError", "SafeFolder"]

_FD_DIR = Path("/proc/self/fd")
_OPEN_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


class FolderMovedError(OSError):
    """The folder's path no longer leads to the folder that was opened (a rename or a link);
    ``shown`` is that path. Nothing was written through it."""

    def __init__(self, shown: str, why: str) -> None:
        super().__init__(f"{shown}: {why}")
        self.shown = shown
        self.why = why


class SafeFolder:
    """An open folder: :attr:`fd` is its descriptor, :attr:`real` its real path when opened."""

    def __init__(self, fd: int, real: Path, label: str | None = None) -> None:
        self.fd = fd
        self.real = real
        self.label = label or str(real)
        """How messages name the folder (relative to the server root where there is one)."""
        self._stat = os.fstat(fd)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        root: str | Path | None = None,
        create: bool = True,
        label: str | None = None,
    ) -> SafeFolder:
        """Open ``path`` (created with its missing parents when ``create``), following no
        symbolic link from its real path on: a link swapped in after :func:`os.path.realpath`
        makes the walk fail instead of being followed.

        With ``root``, the folder must be ``root`` or below it (else :class:`FolderMovedError`)
        and the walk starts from ``root``. ``OSError`` (no permission, a file in the way, no
        space) passes through for the caller to word.
        """
        real = Path(os.path.realpath(path))
        start = Path(os.path.realpath(root)) if root is not None else Path(real.anchor or "/")
        try:
            parts = real.relative_to(start).parts
        except ValueError:
            raise FolderMovedError(str(path), "leads outside the allowed folder") from None
        fd = os.open(start, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in parts:
                fd = cls._step(fd, part, create)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, real, label)

    @staticmethod
    def _step(parent: int, name: str, create: bool) -> int:
        """Open ``name`` in the folder ``parent`` (created if missing), closing ``parent``."""
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, dir_fd=parent)
            return os.open(name, _OPEN_FLAGS, dir_fd=parent)
        finally:
            os.close(parent)

    def mkdir(self, name: str, exist_ok: bool = False) -> SafeFolder:
        """Create the sub-folder ``name`` (one component) and open it; a symbolic link or a file
        of that name is refused (``OSError``)."""
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"not a single folder name: {name!r}")
        try:
            os.mkdir(name, dir_fd=self.fd)
        except FileExistsError:
            if not exist_ok:
                raise
        fd = os.open(name, _OPEN_FLAGS, dir_fd=self.fd)
        return SafeFolder(fd, self.real / name, f"{self.label.rstrip('/')}/{name}")

    # -- using -------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """Where to read and write below the folder: through the descriptor where the system
        offers that (Linux), else the real path (see :meth:`check_in_place`)."""
        return _FD_DIR / str(self.fd) if _FD_PATHS else self.real

    @property
    def pass_fds(self) -> tuple[int, ...]:
        """``subprocess.Popen(pass_fds=...)`` so a child process can use :attr:`path` too."""
        return (self.fd,) if _FD_PATHS else ()

    def shown(self, path: str | Path) -> str:
        """A path below :attr:`path` as the user knows it (below :attr:`real`)."""
        text = str(path)
        base = str(self.path)
        if text == base:
            return str(self.real)
        if text.startswith(base + "/"):
            return str(self.real / text[len(base) + 1 :])
        return text

    def check_in_place(self) -> None:
        """:class:`FolderMovedError` when the folder's real path no longer leads to it (renamed,
        or replaced by a symbolic link). Writes through :attr:`path` stay in the folder anyway
        where it is a descriptor path; elsewhere this is the guard before each batch of writes."""
        try:
            now = os.stat(self.real)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (self._stat.st_dev, self._stat.st_ino):
            raise FolderMovedError(self.label, "was moved or replaced (by a symbolic link?)")

    def guard(self) -> None:
        """:meth:`check_in_place` where :attr:`path` is the real path (no descriptor paths on
        this system); nothing to check where writes go through the descriptor."""
        if not _FD_PATHS:
            self.check_in_place()

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> SafeFolder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # a folder object dropped without close() must not leak its descriptor
        if getattr(self, "fd", -1) >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)


def _probe() -> bool:
    """True where ``/proc/self/fd/<fd>/name`` reaches into an open folder (Linux)."""
    if not _FD_DIR.is_dir():
        return False
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return os.path.isdir(_FD_DIR / str(fd) / ".")
    finally:
        os.close(fd)


_FD_PATHS = _probe()
"""Whether :attr:`SafeFolder.path` is a descriptor path on this system."""
