"""Where jobs run: a small concurrent.futures-style executor abstraction.

Specs (the ``--executor`` option):

* ``serial``: in this process, one job at a time, lazily (a job runs when `as_completed`
  reaches it, so each result is stored before the next job starts). The default for tests.
* ``process`` / ``process:N``: a `ProcessPoolExecutor` with N worker processes (default: the
  number of usable cores), started with ``spawn``; each worker sets
  ``torch.set_num_threads(max(1, cores // N))`` so N workers never oversubscribe the cores.
* ``dask://HOST:PORT``: connect to a running Dask distributed scheduler (``tcp://HOST:PORT``).
  The workers need the same code installed; torch threads are left to the cluster.
* ``dask-local`` / ``dask-local:N``: start a `distributed.LocalCluster` with N single-threaded
  worker processes (default: the number of usable cores).

Dask is an optional extra (``pip install 'rlct[dask]'``, i.e. ``dask[distributed]``) imported
only when a Dask spec is used. Every executor has ``submit(fn, *args, **kwargs) -> future`` and
``as_completed(futures)``; the parent consumes futures as they complete and stores each result
at once, so a crash loses at most the jobs that were running.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

KINDS = ("serial", "process", "dask", "dask-local")
DASK_MISSING = (
    "executor: dask is not installed; install the optional extra with "
    "`pip install 'rlct[dask]'` (or `pip install \"dask[distributed]\"`)"
)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed ``--executor`` value."""

    kind: str
    workers: int | None = None
    address: str | None = None

    def describe(self) -> str:
        if self.kind == "dask":
            return f"dask://{self.address}"
        if self.workers is None:
            return self.kind
        return f"{self.kind}:{self.workers}"


def parse_executor(spec: str) -> ExecutorSpec:
    """Parse ``serial | process[:N] | dask://HOST:PORT | dask-local[:N]``."""
    if not isinstance(spec, str):
        raise ValueError(f"executor: expected a string, got {spec!r}")
    text = spec.strip()
    if text == "serial":
        return ExecutorSpec("serial")
    if text.startswith("dask://"):
        address = text[len("dask://") :]
        if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]:]+:\d{1,5}", address):
            raise ValueError(f"executor: expected dask://HOST:PORT, got {spec!r}")
        return ExecutorSpec("dask", None, address)
    match = re.fullmatch(r"(process|dask-local)(?::(\S+))?", text)
    if match is None:
        raise ValueError(
            f"executor: expected serial, process[:N], dask://HOST:PORT or dask-local[:N], "
            f"got {spec!r}"
        )
    kind, count = match.group(1), match.group(2)
    if count is None:
        return ExecutorSpec(kind, None)
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"executor: worker count must be a positive integer, got {count!r}")
    return ExecutorSpec(kind, int(count))


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Torch threads per worker so that ``workers`` processes share the cores: cores // N."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


class Executor(ABC):
    """submit / as_completed / close; use as a context manager."""

    spec: ExecutorSpec
    #: the torch thread count a job should set in its worker (None: leave it alone).
    torch_threads: int | None = None

    @abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Schedule ``fn(*args, **kwargs)``; returns a future (``.result()``)."""

    @abstractmethod
    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """Yield the futures as they complete."""

    def close(self, cancel: bool = False) -> None:  # noqa: B027 - optional hook
        """Release the workers; ``cancel``: drop queued jobs and do not wait (interrupts)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(cancel=exc_type is not None)


class SerialExecutor(Executor):
    """Runs each call in this process when `as_completed` reaches it (submission order)."""

    def __init__(self) -> None:
        self.spec = ExecutorSpec("serial")
        self._pending: dict[cf.Future[Any], tuple[Callable[..., Any], tuple[Any, ...], dict]] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        self._pending[future] = (fn, args, kwargs)
        return future

    def _run(self, future: cf.Future[Any]) -> None:
        call = self._pending.pop(future, None)
        if call is None or not future.set_running_or_notify_cancel():
            return
        fn, args, kwargs = call
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - delivered through the future
            future.set_exception(err)
            if not isinstance(err, Exception):  # KeyboardInterrupt, SystemExit: stop now
                raise

    def as_completed(self, futures: Iterable[cf.Future[Any]]) -> Iterator[cf.Future[Any]]:
        for future in list(futures):
            self._run(future)
            yield future

    def close(self, cancel: bool = False) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()


PARENT_POLL_SECONDS = 0.5  # how often a worker checks that its coordinator is alive


def _exit_when_orphaned(coordinator: int, poll: float = PARENT_POLL_SECONDS) -> None:
    """Block until this process's parent is no longer ``coordinator``, then end the process.

    A worker whose coordinator died (by any signal, SIGKILL included, which no handler in the
    coordinator can catch) is re-parented, so ``os.getppid()`` changes; the worker then exits at
    once with `os._exit`, abandoning its job (the coordinator that would store the result is
    gone; a resumed sweep runs the job again). Runs in a daemon thread of every worker.
    """
    while os.getppid() == coordinator:
        time.sleep(poll)
    os._exit(70)  # EX_SOFTWARE: no cleanup, no atexit handlers, no waiting for the job


def watch_coordinator(coordinator: int, poll: float = PARENT_POLL_SECONDS) -> threading.Thread:
    """Start the orphan watchdog of `_exit_when_orphaned` in a daemon thread."""
    if os.getppid() != coordinator:  # the coordinator died before this worker got here
        os._exit(70)
    thread = threading.Thread(
        target=_exit_when_orphaned, args=(coordinator, poll), name="rlct-orphan-watchdog", daemon=True
    )
    thread.start()
    return thread


def _init_process_worker(threads: int, coordinator: int) -> None:
    watch_coordinator(coordinator)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


class ProcessExecutor(Executor):
    """A spawn-started `ProcessPoolExecutor`; each worker uses cores // N torch threads and
    ends itself within `PARENT_POLL_SECONDS` of its coordinator's death (`watch_coordinator`)."""

    def __init__(self, workers: int | None = None) -> None:
        count = workers if workers is not None else usable_cores()
        self.spec = ExecutorSpec("process", count)
        self.torch_threads = threads_per_worker(count)
        self._pool = cf.ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_process_worker,
            initargs=(self.torch_threads, os.getpid()),
        )

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        return self._pool.submit(fn, *args, **kwargs)

    def as_completed(self, futures: Iterable[cf.Future[Any]]) -> Iterator[cf.Future[Any]]:
        return cf.as_completed(list(futures))

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=True)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ValueError(DASK_MISSING) from None
    return distributed


class DaskExecutor(Executor):
    """A Dask distributed client: to a scheduler at ``address``, or on a new LocalCluster."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        distributed = _import_distributed()
        self._cluster = None
        if address is None:
            count = workers if workers is not None else usable_cores()
            self.spec = ExecutorSpec("dask-local", count)
            self.torch_threads = threads_per_worker(count)
            self._cluster = distributed.LocalCluster(
                n_workers=count,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            self._client = distributed.Client(self._cluster)
        else:
            self.spec = ExecutorSpec("dask", None, address)
            self.torch_threads = None
            self._client = distributed.Client(f"tcp://{address}", timeout="30s")
        self._as_completed = distributed.as_completed

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return self._client.submit(fn, *args, pure=False, **kwargs)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return iter(self._as_completed(list(futures)))

    def close(self, cancel: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(spec: str | ExecutorSpec) -> Executor:
    """An executor from a spec string (see the module docstring) or a parsed `ExecutorSpec`."""
    parsed = parse_executor(spec) if isinstance(spec, str) else spec
    if parsed.kind == "serial":
        return SerialExecutor()
    if parsed.kind == "process":
        return ProcessExecutor(parsed.workers)
    if parsed.kind == "dask-local":
        return DaskExecutor(None, parsed.workers)
    if parsed.kind == "dask":
        return DaskExecutor(parsed.address)
    raise ValueError(f"executor: unknown kind {parsed.kind!r}")
