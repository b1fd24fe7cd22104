"""The command line of a local Celery worker (used by run_stack and the test suite)."""

import sys
from collections.abc import Sequence

from annotator.jobs.names import QUEUES


def worker_argv(*, queues: Sequence[str] = QUEUES, name: str | None = None) -> list[str]:
    """Return argv for one worker process on `queues`: solo pool, one task at a time.

    Deployments run their own commands (deploy/compose.yaml); this is the single-box form.
    """
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "annotator",
        "worker",
        "-Q",
        ",".join(queues),
        "--pool=solo",
        "--concurrency=1",
        "--prefetch-multiplier=1",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "info",
    ]
    return [*argv, "-n", name] if name else argv
