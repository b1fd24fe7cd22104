"""gunicorn settings for the web service (`gunicorn -c python:annotator.gunicorn_conf ...`).

One place for what deploy/compose.yaml, the Dockerfile and the benchmarks run, read from the
environment so that a deployment tunes it without editing files:

- GUNICORN_WORKERS: worker processes; default 2 x CPU + 1 (gunicorn's own advice), since a
  viewer's frame requests are short and partly I/O.
- GUNICORN_WORKER_CLASS: "sync" (default) or "gthread".
- GUNICORN_THREADS: threads per gthread worker (default 1).
- GUNICORN_KEEPALIVE: seconds an idle keep-alive connection stays open (gthread only; sync
  workers close every connection).
- GUNICORN_ACCESS_LOG: "-" (default) logs requests to stdout; empty turns the log off.
"""

import os
from collections.abc import Mapping


def default_workers() -> int:
    """Return 2 x usable CPUs + 1, the count gunicorn's documentation starts from."""
    return 2 * len(os.sched_getaffinity(0)) + 1


def _settings(env: Mapping[str, str]) -> tuple[int, str, int, int]:
    workers = int(env.get("GUNICORN_WORKERS") or default_workers())
    worker_class = env.get("GUNICORN_WORKER_CLASS") or "sync"
    threads = int(env.get("GUNICORN_THREADS") or 1)
    keepalive = int(env.get("GUNICORN_KEEPALIVE") or 5)
    return workers, worker_class, threads, keepalive


def describe(env: Mapping[str, str]) -> str:
    """Return the worker layout these settings give under `env` (for benchmark reports)."""
    workers, worker_class, threads, keepalive = _settings(env)
    extra = f" x {threads} threads, keep-alive {keepalive} s" if worker_class == "gthread" else ""
    return f"{workers} {worker_class} workers{extra}"


workers, worker_class, threads, keepalive = _settings(os.environ)
timeout = 120
# Import Django and every view once in the master (annotator/wsgi.py resolves the URLs), so
# each forked worker starts warm and shares those pages: no first request pays ~0.6 s.
preload_app = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
forwarded_allow_ips = "*"
