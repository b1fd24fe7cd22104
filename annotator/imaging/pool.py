"""Prepare files in worker processes when a batch is large (parsing, de-identifying and
encoding are CPU-bound and hold the GIL); small batches and daemonic workers stay serial."""

import logging
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from annotator.imaging.deid import DeidOptions
from annotator.imaging.dicom import RejectedFileError
from annotator.imaging.prepare import PreparedFile, prepare_file

logger = logging.getLogger(__name__)
Source = tuple[str, Callable[[], bytes]]

_pool: ProcessPoolExecutor | None = None
_unavailable = False


def _get_pool(workers: int) -> ProcessPoolExecutor | None:
    global _pool, _unavailable
    if _unavailable or workers < 2:
        return None
    if _pool is None:
        if multiprocessing.current_process().daemon:  # e.g. a Celery prefork child
            _unavailable = True
            return None
        # forkserver: children start from a clean process, never sharing our DB connections.
        _pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_ignore_interrupts,
        )
    return _pool


def _ignore_interrupts() -> None:
    """Leave Ctrl-C to the parent, which shuts the pool down (no tracebacks from children)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ready() -> bool:
    return True


def warm_pool(workers: int) -> None:
    """Start the pool's processes now (at worker start) rather than inside the first job."""
    pool = _get_pool(workers)
    if pool is not None:
        for future in [pool.submit(_ready) for _ in range(workers)]:
            future.result()


def _read(read: Callable[[], bytes]) -> bytes | PreparedFile:
    try:
        return read()
    except RejectedFileError as error:
        return PreparedFile(rejection=(error.code, error.message))


def prepare_many(
    sources: Iterable[Source],
    *,
    secret: bytes,
    options: DeidOptions | None,
    workers: int,
    in_flight: int = 16,
) -> Iterator[tuple[str, PreparedFile]]:
    """Yield (name, prepared) in input order, preparing up to `in_flight` files at once in
    `workers` processes (memory stays bounded by `in_flight` files)."""
    pool = _get_pool(workers)
    pending: deque[tuple[str, Future[PreparedFile] | PreparedFile]] = deque()
    for name, read in sources:
        raw = _read(read)
        if isinstance(raw, PreparedFile):
            pending.append((name, raw))
        elif pool is None:
            pending.append((name, prepare_file(raw, secret=secret, options=options)))
        else:
            pending.append((name, pool.submit(prepare_file, raw, secret=secret, options=options)))
        while len(pending) >= in_flight or (pool is None and pending):
            yield _result(*pending.popleft())
    while pending:
        yield _result(*pending.popleft())


def _result(name: str, value: Future[PreparedFile] | PreparedFile) -> tuple[str, PreparedFile]:
    return name, value.result() if isinstance(value, Future) else value
