"""Atomic writes with unique temporary names, and the run-folder lock (released even by SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nas.errors import NasError
from nas.io import atomic_path, read_json, write_json_atomic
from nas.lock import HOLDER_NAME, FolderLock, OutputFileLock


def test_temporary_names_are_unique_and_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "front.json"
    write_json_atomic(target, {"v": 1})
    with atomic_path(target) as a, atomic_path(target) as b:
        assert a != b and a.parent == b.parent == tmp_path
        a.write_text('{"a": 1}')
        b.write_text('{"b": 1}')  # b commits first (inner block), then a
    with pytest.raises(RuntimeError), atomic_path(target) as c:
        c.write_text("half")
        raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.json"]


def test_concurrent_writers_never_expose_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "trials.json"
    write_json_atomic(target, {"writer": -1, "rows": []})
    bad: list[str] = []

    def writer(k: int) -> None:
        for i in range(40):
            write_json_atomic(target, {"writer": k, "rows": list(range(2000 + i))})

    def reader() -> None:
        for _ in range(200):
            try:
                json.loads(target.read_text())
            except ValueError as e:
                bad.append(str(e))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == [] and sorted(p.name for p in tmp_path.iterdir()) == ["trials.json"]


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    p = write_json_atomic(tmp_path / "a.json", [1])
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("text,msg", [("", "is empty"), ("{", "not valid JSON"), ("[" * 50000, "nested too deeply")])
def test_read_json_errors_are_one_line(tmp_path: Path, text: str, msg: str) -> None:
    (tmp_path / "x.json").write_text(text)
    with pytest.raises(NasError, match=msg) as e:
        read_json(tmp_path / "x.json", "architecture")
    assert "\n" not in str(e.value)


def test_lock_refuses_a_second_holder_and_is_released_by_sigkill(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    code = (f"import sys, time; from nas.lock import FolderLock; lock = FolderLock({str(folder)!r}).acquire(); "
            "print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(NasError, match=f"in use by process {proc.pid} on "):
            FolderLock(folder).acquire()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with FolderLock(folder) as lock:  # the kernel released the dead holder's lock
        assert lock.held and json.loads((folder / HOLDER_NAME).read_text())["pid"] == os.getpid()
    assert not (folder / HOLDER_NAME).exists()


def test_an_output_file_lock_refuses_a_second_writer_and_leaves_no_files(tmp_path: Path) -> None:
    out = tmp_path / "new" / "model.pt"
    with OutputFileLock(out) as lock:
        assert lock.held and (tmp_path / "new" / "model.pt.lock").exists()
        with pytest.raises(NasError, match=f"output file '{out}' is in use by process {os.getpid()} .*give another -o"):
            OutputFileLock(out).acquire()
        assert OutputFileLock(tmp_path / "new" / "other.pt").acquire().release() is None  # one lock per file
    assert list(tmp_path.iterdir()) == []  # lock, holder note and the folder the lock made are gone
    (tmp_path / "keep").mkdir()
    with OutputFileLock(tmp_path / "keep" / "model.pt"):
        (tmp_path / "keep" / "model.pt").write_text("w")
    assert [p.name for p in (tmp_path / "keep").iterdir()] == ["model.pt"]
