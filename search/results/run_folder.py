"""The run folder of one ``nas search``: checking ``--out``, finding its study, and what a run leaves.

A run folder is written by one process at a time (``nas.lock.FolderLock``). A new run refuses a folder
whose store holds trials; a resume finds its study by what the folder holds (the one study in its
``study.db``, or the name its ``config.json`` recorded), not by the folder's name, so a renamed or copied
folder resumes. A run that fails before its first complete trial takes back what it created.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nas.errors import NasError
from nas.io import check_out_dir  # noqa: F401 - part of this module's interface

DB_NAME = "study.db"
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn a damaged or unreadable trial store (a ``study.db`` with corrupted pages, a locked or
    truncated file) into a one-line NasError."""
    try:
        yield
    except NasError:
        raise
    except Exception as e:  # noqa: BLE001 - only the storage engines' errors are translated
        mod = type(e).__module__ or ""
        if not mod.startswith(("optuna", "sqlalchemy", "sqlite3")):
            raise
        first = (str(e).strip().splitlines() or [""])[0][:200]
        hint = "; the file may be damaged: move it away to start a new run" if url.startswith("sqlite") else ""
        raise NasError(f"cannot use the trial store {url} ({type(e).__name__}: {first}){hint}") from None


def studies(url: str) -> dict[str, int]:
    """Study name → number of trials, for every study in the storage at ``url``."""
    import optuna

    from nas.search.results.storage import _engine_kwargs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with storage_errors(url):
        storage = optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        try:
            return {s.study_name: s.n_trials for s in optuna.study.get_all_study_summaries(storage)}
        finally:
            storage.engine.dispose()


def delete_studies(url: str, names: list[str]) -> None:
    import optuna

    from nas.search.results.storage import _engine_kwargs

    with storage_errors(url):
        storage = optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        try:
            for name in names:
                optuna.delete_study(study_name=name, storage=storage)
        finally:
            storage.engine.dispose()


def resume_study(out: Path, url: str, default_storage: bool) -> str:
    """The study a resume of ``out`` continues: with the folder's own ``study.db``, its one study (or the
    one named after the folder among several); else the name the folder's ``config.json`` recorded."""
    if default_storage:
        check_resumable(out)
        found = studies(url)
        if len(found) == 1:
            return next(iter(found))
        if out.name in found:
            return out.name
        if not found:
            raise NasError(f"nothing to resume: {str(out / DB_NAME)!r} holds no study")
        raise NasError(f"{str(out / DB_NAME)!r} holds several studies ({', '.join(sorted(found))}); "
                       "pass --study NAME")
    recorded = recorded_study(out)
    return recorded or out.name


def check_resumable(out: Path) -> None:
    """A one-line NasError unless ``out`` is a folder holding a ``study.db`` (checked before anything is
    created, so a resume of a misspelled folder leaves nothing behind)."""
    if not out.is_dir():
        raise NasError(f"nothing to resume: run folder {str(out)!r} does not exist")
    if not (out / DB_NAME).is_file():
        raise NasError(f"nothing to resume: run folder {str(out)!r} holds no {DB_NAME}")


def recorded_study(out: Path) -> str | None:
    """The study name a run's ``config.json`` recorded, if the folder has a readable one."""
    from nas.io import read_json

    try:
        cfg = read_json(out / "config.json", "run config")
    except NasError:
        return None
    name = cfg.get("study_name") if isinstance(cfg, dict) else None
    return name if isinstance(name, str) and name else None


def clear_empty_studies(out: Path, url: str) -> None:
    """Before a new run in ``out``: refuse a store that holds trials; drop studies that hold none (left
    by a run killed before its first trial), so the folder never gets stuck."""
    found = studies(url)
    full = {k: v for k, v in found.items() if v}
    if full:
        name, n = next(iter(full.items()))
        raise NasError(f"run folder {str(out)!r} already holds a search; pass --resume to continue it or another "
                       f"--out for a new run (study {name!r}, {n} trials)")
    if found:
        delete_studies(url, list(found))


def take_back(out: Path, created: dict[str, Any]) -> None:
    """Undo what a failed new run created: its study (or its whole ``study.db``), its ``config.json``,
    and the run folder itself when nothing else is in it."""
    url, study = created.get("url"), created.get("study")
    if created.get("db"):
        for suffix in ("", *_SQLITE_SIDE_FILES):
            with contextlib.suppress(OSError):
                Path(str(out / DB_NAME) + suffix).unlink()
    elif url and study:
        with contextlib.suppress(NasError):
            delete_studies(url, [study])
    if created.get("config"):
        with contextlib.suppress(OSError):
            (out / "config.json").unlink()


def remove_if_only_lock(out: Path) -> None:
    """Remove a run folder this run created when it holds nothing but the lock file."""
    from nas.lock import HOLDER_NAME, LOCK_NAME

    with contextlib.suppress(OSError):
        if {p.name for p in out.iterdir()} <= {LOCK_NAME, HOLDER_NAME}:
            for name in (LOCK_NAME, HOLDER_NAME):
                with contextlib.suppress(FileNotFoundError):
                    (out / name).unlink()
            out.rmdir()


def prune(out: Path, keep_archs: Iterable[str] | None = None) -> int:
    """Remove architecture files of earlier fronts from ``archs/`` (all but ``keep_archs``, the current
    front's architecture paths; default: those ``front.json`` names) and temporary files left by killed
    writes; returns how many files went. Call only while holding the folder's lock."""
    from nas.io import read_json

    removed = 0
    if keep_archs is None:
        front = read_json(out / "front.json", "front")
        keep_archs = [r["arch"] for r in front.get("pareto", ()) if isinstance(r, dict) and "arch" in r]
    keep = {Path(a).name for a in keep_archs}
    archs = out / "archs"
    stale = [f for f in archs.glob("*.json") if f.name not in keep] if archs.is_dir() else []
    stale += [*out.glob(".*.tmp"), *out.glob("*.tmp.*"), *(archs.glob(".*.tmp") if archs.is_dir() else [])]
    for f in stale:
        with contextlib.suppress(OSError):
            f.unlink()
            removed += 1
    return removed
