"""Run media work item by item on every core, with a scratch folder each and a clean Ctrl-C."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import multiprocessing
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

from media_pipeline.errors import PipelineError

from .disk import storage_errors, storage_problem
from .store import MediaStore

T = TypeVar("T")
R = TypeVar("R")

_IN_WORKER = False
_PR_SET_PDEATHSIG = 1


def run_items(
    items: Sequence[T],
    work: Callable[[T, Path], R],
    finish: Callable[[T, R | PipelineError], None],
    *,
    store: MediaStore,
    workers: int,
    run: RunScratch | None = None,
    prepare: Callable[[], None] | None = None,
) -> None:
    """Call work(item, scratch) for each item, then finish(item, result) in this process.

    `work` runs in worker processes (in this process when workers ≤ 1 or there is one item,
    as tests do) and must be picklable; a PipelineError it raises is passed to `finish` as
    the result. Each item's scratch folder lies on the store's file system, so `finish` can
    rename its files into the store, and is removed after `finish`. On Ctrl-C, SIGTERM or a
    crash the workers are stopped at once and every scratch folder is removed; after a
    kill -9 the workers die with this process and the next run removes its scratch folders.

    `prepare` runs here before the workers start, when there are workers: what it loads,
    workers forked from this process (the default start method on Linux up to Python 3.13)
    share instead of each loading their own. With another start method it is skipped.
    """
    if not items:
        return
    with contextlib.ExitStack() as stack:
        area = run or stack.enter_context(RunScratch(store.root.parent / "tmp"))
        stack.enter_context(_terminate_as_interrupt())
        _run(items, work, finish, area, workers, prepare)


def _run(
    items: Sequence[T],
    work: Callable[[T, Path], R],
    finish: Callable[[T, R | PipelineError], None],
    area: RunScratch,
    workers: int,
    prepare: Callable[[], None] | None = None,
) -> None:
    scratch: dict[int, Path] = {}

    def done(index: int, result: R | PipelineError) -> None:
        try:
            finish(items[index], result)
        finally:
            shutil.rmtree(scratch.pop(index), ignore_errors=True)

    try:
        if workers <= 1 or len(items) == 1:
            for index, item in enumerate(items):
                scratch[index] = area.item()
                try:
                    result: R | PipelineError = work(item, scratch[index])
                except (PipelineError, OSError) as exc:
                    result = _failure(exc)
                done(index, result)
            return
        if prepare is not None and multiprocessing.get_start_method() == "fork":
            prepare()
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(items)),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        pending: dict[Future[R], int] = {}
        try:
            for index, item in enumerate(items):
                scratch[index] = area.item()
                pending[pool.submit(_guarded, work, item, scratch[index])] = index
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    index = pending.pop(fut)
                    error = fut.exception()
                    done(index, _failure(error) if error is not None else fut.result())
        except BaseException:
            # Ctrl-C or a crash here: stop the workers now rather than after their item.
            _terminate_workers(pool)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    finally:
        for path in scratch.values():
            shutil.rmtree(path, ignore_errors=True)


def _failure(error: BaseException) -> PipelineError:
    """An item's own failure, for `finish`; anything else stops the run by being raised.

    A full disk or a read-only folder is no item's fault and would fail every item alike, so
    it ends the run with one StorageError rather than a failure per item.
    """
    if (problem := storage_problem(error)) is not None:
        raise problem from error
    if not isinstance(error, PipelineError):
        raise error
    return error


def _guarded(work: Callable[[T, Path], R], item: T, scratch: Path) -> R:
    try:
        return work(item, scratch)
    except SystemExit:
        if not _IN_WORKER:
            raise
        # Terminated by the parent: temporary files are gone by now (the stack has unwound);
        # leave at once, or the pool's worker loop would take the next item.
        os._exit(1)


def _worker_init(parent: int) -> None:
    global _IN_WORKER
    _IN_WORKER = True
    # Die with the parent: after a kill -9 of `kuanyue render` its workers would otherwise
    # be adopted by init and wait for work forever.
    _die_with_parent(parent)
    # Ctrl-C reaches the whole process group; the parent alone decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Terminated workers unwind (removing their temporary files) instead of dying mid-write.
    signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown is all there is
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While items run, SIGTERM unwinds this process like Ctrl-C: workers stopped, folders gone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class RunScratch:
    """One run's scratch folder under `root`, locked while the run lives.

    Each run works in `root/run-<id>/` and holds an flock on its `.lock` file; the kernel
    drops the lock when the process dies, however it dies. Every run starts by removing
    the folders whose lock nobody holds: those a kill -9 left behind. Several processes may
    share `root`: a live run's folder is never touched.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.name = f"run-{uuid.uuid4().hex}"
        self.path = self.root / self.name
        self._lock: int | None = None

    def __enter__(self) -> RunScratch:
        with storage_errors():
            self.root.mkdir(parents=True, exist_ok=True)
            remove_abandoned(self.root)
            # Made and locked under a hidden name, then renamed: a cleaner never sees it unlocked.
            making = self.root / f".new-{self.path.name}"
            making.mkdir()
            self._lock = os.open(making / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            making.rename(self.path)
        return self

    def item(self) -> Path:
        """A fresh folder for one item."""
        path = self.path / uuid.uuid4().hex
        with storage_errors():
            path.mkdir()
        return path

    def __exit__(self, *_exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)


def run_alive(root: Path, name: str) -> bool:
    """Whether the run whose scratch folder is `root/name` still holds its lock."""
    try:
        fd = os.open(Path(root) / name / ".lock", os.O_RDWR)
    except OSError:
        return False  # its folder is gone: the run ended, or was cleaned up after dying
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def remove_abandoned(root: Path, *, unlocked_age_s: float = 3600) -> list[Path]:
    """Remove scratch folders under `root` whose run has died; return them.

    A folder is abandoned when its `.lock` can be taken; one without a lock (an older
    version's, or a run that died while making its folder) once it is an hour old.
    """
    removed = []
    for folder in root.iterdir() if root.is_dir() else ():
        if not folder.is_dir() or folder.is_symlink():
            continue
        if (folder / ".lock").exists():
            if run_alive(root, folder.name):
                continue
        elif time.time() - folder.stat().st_mtime < unlocked_age_s:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _terminate_workers(pool: ProcessPoolExecutor, grace_s: float = 3.0) -> None:
    """SIGTERM every worker (they unwind, removing their temporary files); SIGKILL stragglers."""
    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():  # stuck in a C call that ignores signals until it returns
            process.kill()
