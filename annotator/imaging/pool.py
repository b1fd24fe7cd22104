"""Prepare files in worker processes when a batch is large (parsing, de-identifying and
encoding are CPU-bound and hold the GIL); small batches and daemonic workers stay serial.

With a spool folder, a pool process reads its file itself (a `Reader` names it, it does not
carry it) and writes the prepared bytes to the spool, so a 512 KB slice crosses no pipe: only
its header and digest come back. Measured on 2 cores, the pipes cost more than the second
process gained.
"""

import dataclasses
import logging
import multiprocessing
import signal
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

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
    """Prepare a tiny de-identified image once, so a process has imported and loaded all it
    needs (pydicom's dictionaries and handlers, the profile tables) before real work."""
    from annotator.imaging.warmup import tiny_dicom

    prepared = prepare_file(
        tiny_dicom(), secret=b"warm-up-secret-0123456789", options=DeidOptions()
    )
    return prepared.rejection is None


def warm_pool(workers: int) -> None:
    """Start the pool's processes now (at worker start) rather than inside the first job."""
    pool = _get_pool(workers)
    if pool is not None:
        for future in [pool.submit(_ready) for _ in range(workers)]:
            future.result()
    _ready()  # the parent reads headers too (serial path, small batches)


def _read(read: Callable[[], bytes]) -> bytes | PreparedFile:
    try:
        return read()
    except RejectedFileError as error:
        return PreparedFile(rejection=(error.code, error.message))


def _prepare_spooled(
    read: Callable[[], bytes], *, secret: bytes, options: DeidOptions | None, spool: str
) -> PreparedFile:
    """Read, prepare and spool one file inside a pool process; return it without its bytes."""
    raw = _read(read)
    if isinstance(raw, PreparedFile):
        return raw
    prepared = prepare_file(raw, secret=secret, options=options)
    if not prepared.data:
        return prepared
    path = Path(spool) / uuid.uuid4().hex
    path.write_bytes(prepared.data)
    return dataclasses.replace(prepared, data=b"", spooled=str(path), size=len(prepared.data))


def prepare_many(
    sources: Iterable[Source],
    *,
    secret: bytes,
    options: DeidOptions | None,
    workers: int,
    in_flight: int = 16,
    spool: Path | None = None,
) -> Iterator[tuple[str, PreparedFile]]:
    """Yield (name, prepared) in input order, preparing up to `in_flight` files at once in
    `workers` processes (memory stays bounded by `in_flight` files).

    With `spool` (a folder on the storage's file system) and a pool, each `read` must be
    picklable: the pool process reads the file and leaves the prepared bytes in the spool
    (`PreparedFile.spooled`); the caller moves or deletes every spooled file.
    """
    pool = _get_pool(workers)
    pending: deque[tuple[str, Future[PreparedFile] | PreparedFile]] = deque()
    for name, read in sources:
        if pool is not None and spool is not None:
            pending.append(
                (
                    name,
                    pool.submit(
                        _prepare_spooled, read, secret=secret, options=options, spool=str(spool)
                    ),
                )
            )
            while len(pending) >= in_flight:
                yield _result(*pending.popleft())
            continue
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
