"""Run media work item by item on every core, with a scratch folder each and a clean Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

from media_pipeline.errors import PipelineError

from .disk import storage_problem
from .store import MediaStore

T = TypeVar("T")
R = TypeVar("R")

_IN_WORKER = False


def run_items(
    items: Sequence[T],
    work: Callable[[T, Path], R],
    finish: Callable[[T, R | PipelineError], None],
    *,
    store: MediaStore,
    workers: int,
) -> None:
    """Call work(item, scratch) for each item, then finish(item, result) in this process.

    `work` runs in worker processes (in this process when workers ≤ 1 or there is one item,
    as tests do) and must be picklable; a PipelineError it raises is passed to `finish` as
    the result. Each item's scratch folder lies on the store's file system, so `finish` can
    rename its files into the store, and is removed after `finish`. On Ctrl-C or a crash the
    workers are stopped at once and every scratch folder is removed.
    """
    if not items:
        return
    scratch: dict[int, Path] = {}

    def done(index: int, result: R | PipelineError) -> None:
        try:
            finish(items[index], result)
        finally:
            shutil.rmtree(scratch.pop(index), ignore_errors=True)

    try:
        if workers <= 1 or len(items) == 1:
            for index, item in enumerate(items):
                scratch[index] = store.scratch_dir()
                try:
                    result: R | PipelineError = work(item, scratch[index])
                except (PipelineError, OSError) as exc:
                    result = _failure(exc)
                done(index, result)
            return
        pool = ProcessPoolExecutor(max_workers=min(workers, len(items)), initializer=_worker_init)
        pending: dict[Future[R], int] = {}
        try:
            for index, item in enumerate(items):
                scratch[index] = store.scratch_dir()
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


def _worker_init() -> None:
    global _IN_WORKER
    _IN_WORKER = True
    # Ctrl-C reaches the whole process group; the parent alone decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Terminated workers unwind (removing their temporary files) instead of dying mid-write.
    signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    if hasattr(pool, "terminate_workers"):  # Python ≥ 3.14
        pool.terminate_workers()
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
