"""A DICOM listener on a free port for tests, and dcmtk command lines against it."""

import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from annotator.imaging.dimse import DicomListener
from annotator.imaging.ingest import get_imaging_settings
from annotator.projects.models import Project


@contextmanager
def running_listener(
    allowed_calling: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[tuple[DicomListener, int]]:
    """Start a listener on 127.0.0.1 and a free port; stop it afterwards."""
    listener = DicomListener(
        host="127.0.0.1", port=0, ae_title="ANNOTATOR", allowed_calling=allowed_calling
    )
    _, port = listener.start()
    try:
        yield listener, port
    finally:
        listener.stop()


def set_ae_title(project: Project, title: str) -> None:
    """Give the project a called AE title (what the imaging settings API does)."""
    settings = get_imaging_settings(project=project)
    settings.ae_title = title
    settings.save(update_fields=["ae_title"])


def dcmtk(tool: str, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a dcmtk tool verbosely; return its result (text)."""
    return subprocess.run(
        [tool, "-v", *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until `condition()` holds (the listener finishes an association after release)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def write_files(folder: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write (name, bytes) pairs under `folder`; return the paths."""
    paths = []
    for index, (_, data) in enumerate(files):
        path = folder / f"{index:04d}.dcm"
        path.write_bytes(data)
        paths.append(path)
    return paths
