"""gunicorn settings for the web service (`gunicorn -c python:annotator.gunicorn_conf ...`).

One place for what deploy/compose.yaml, the Dockerfile and the benchmarks run, read from the
environment so that a deployment tunes it without editing files:

- GUNICORN_WORKER_CLASS: "gthread" (default) or "sync".
- GUNICORN_WORKERS: worker processes; default one per usable CPU (gthread) or 2 x CPUs + 1
  (sync, gunicorn's own advice).
- GUNICORN_THREADS: threads per gthread worker (default 4).
- GUNICORN_KEEPALIVE: seconds an idle keep-alive connection stays open (gthread only; sync
  workers close every connection).
- GUNICORN_ACCESS_LOG: "-" (default) logs requests to stdout; empty turns the log off.

Why threads by default: the pixel-layout and metadata caches are per process, so a few warm
processes serve a viewer better than many cold ones, and keep-alive saves a connection per
request. Measured with tests/benchmarks/bench_browser_load.py on 2 cores: a 300-slice CT task
opened with 2 gthread workers x 4 threads showed its first image in 0.77-0.86 s and the whole
stack in 2.5-2.7 s, against 0.76-1.60 s and 2.6-3.4 s with 5 sync workers (cold workers read
every file header again); per-frame throughput was the same (bench_frames.py: 205 vs 202/s).
"""

import os
from collections.abc import Mapping


def default_workers(worker_class: str) -> int:
    """Return one worker per usable CPU for gthread, 2 x CPUs + 1 for sync workers."""
    cpus = len(os.sched_getaffinity(0))
    return cpus if worker_class == "gthread" else 2 * cpus + 1


def _settings(env: Mapping[str, str]) -> tuple[int, str, int, int]:
    worker_class = env.get("GUNICORN_WORKER_CLASS") or "gthread"
    workers = int(env.get("GUNICORN_WORKERS") or default_workers(worker_class))
    threads = int(env.get("GUNICORN_THREADS") or (4 if worker_class == "gthread" else 1))
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
