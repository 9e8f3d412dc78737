"""An exclusive lock on a run folder, so two processes never write one folder at once.

Built on the ``filelock`` library (an OS-level ``flock`` on Unix): the kernel releases it when the
holder exits, however it exits (SIGKILL included), so a killed run never leaves a folder locked.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

from nas.errors import NasError

LOCK_NAME = ".nas.lock"
HOLDER_NAME = ".nas.lock.holder.json"


class FolderLock:
    """Hold ``folder/.nas.lock`` while a command writes ``folder``.

    Contract: ``acquire()`` creates the folder when needed and either takes the lock at once or raises a
    one-line NasError naming the process that holds it (pid, host, command, since when); it never waits.
    While held, ``folder/.nas.lock.holder.json`` says who holds it. ``release()`` (or leaving the ``with``
    block) frees it and removes the holder note.
    """

    def __init__(self, folder: str | os.PathLike[str], what: str = "run folder", hint: str = "pass another --out") -> None:
        self.folder = Path(folder)
        self.what = what
        self.hint = hint
        self._lock = None

    @property
    def named(self) -> Path:
        """What the errors name: the folder."""
        return self.folder

    @property
    def lock_path(self) -> Path:
        return self.folder / LOCK_NAME

    @property
    def holder_path(self) -> Path:
        return self.folder / HOLDER_NAME

    def acquire(self) -> FolderLock:
        from filelock import FileLock, Timeout

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.lock_path), timeout=0)
            lock.acquire()
        except Timeout:
            raise NasError(f"{self.what} {str(self.named)!r} is in use by {self._holder()}; wait for it to "
                           f"finish or {self.hint}") from None
        except OSError as e:
            raise NasError(f"cannot use {self.what} {str(self.named)!r}: {e.strerror or e}") from None
        self._lock = lock
        from nas.io import write_json_atomic

        with contextlib.suppress(OSError):
            write_json_atomic(self.holder_path, {
                "pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                "command": " ".join(["nas", *sys.argv[1:]])[:300]})
        return self

    def _holder(self) -> str:
        import json

        for _ in range(20):  # the holder writes its note just after taking the lock: give it a moment
            try:
                h = json.loads(self.holder_path.read_text())
                return f"process {h['pid']} on {h['host']} since {h['since']} ({h['command']})"
            except (OSError, ValueError, KeyError, TypeError):
                time.sleep(0.025)
        return "another process"

    def release(self) -> None:
        if self._lock is None:
            return
        with contextlib.suppress(OSError):
            self.holder_path.unlink()
        self._lock.release()
        self._lock = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class OutputFileLock(FolderLock):
    """Hold ``NAME.lock`` beside an output file ``NAME`` in a user's folder (``nas extract -o``), so two
    processes never write one file at once, without leaving a lock file behind.

    Contract: as FolderLock's, on ``NAME.lock`` and ``NAME.lock.holder.json``; ``release()`` removes both,
    and the folder too when ``acquire()`` created it and nothing was written there.
    The lock file is unlinked while still held, so a later writer always locks a fresh file.
    """

    def __init__(self, path: str | os.PathLike[str], hint: str = "give another -o") -> None:
        self.path = Path(path)
        self._made_folder = False
        super().__init__(self.path.parent, what="output file", hint=hint)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def holder_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock.holder.json")

    @property
    def named(self) -> Path:
        return self.path

    def acquire(self) -> OutputFileLock:
        self._made_folder = not self.folder.exists()
        super().acquire()
        return self

    def release(self) -> None:
        if self._lock is None:
            return
        with contextlib.suppress(OSError):
            self.lock_path.unlink()
        super().release()
        if self._made_folder:  # a folder made for the lock and left empty (the command failed) goes too
            with contextlib.suppress(OSError):
                self.folder.rmdir()
