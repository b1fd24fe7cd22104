"""Frame serving benchmark: a viewer loading a CT stack over WADO-RS frames.

Run with `.venv/bin/python tests/benchmarks/bench_frames.py`. It starts its own gunicorn (3 sync
workers, as deploy/ runs it) on PostgreSQL (database annotator_bench_frames), ingests and builds
a 300-slice 512x512 synthetic CT, prints a table and asserts nothing but the frame bytes.

1. Stack load: 6 clients (a thread pool of requests.Session, as a browser opens 6 connections
   per host) fetch every frame of the series once, as Cornerstone asks for them
   (`multipart/related; type="application/octet-stream"; transfer-syntax=*`). Repeated a few
   times; frames/s, wall time of the stack, p50/p99 latency per request.
2. Sustained: wrk (if installed) with 6 connections cycling the same URLs, which leaves more of
   the 2 cores to the server than the Python clients do.
Reference: reading the same 300 files' pixel data with plain pydicom in one process.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PORT = 8812
DB_NAME = "annotator_bench_frames"
CLIENTS = 6
ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def _env(var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "annotator.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/12",
        "VAR_DIR": str(var_dir),
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return result.stdout


# Runs in a child process with Django set up: user, project, token; ingest the files in-process
# (the upload path is bench_imaging's business) and build the volumes as the worker would.
_SETUP = """
import json, sys
from pathlib import Path
from django.db import transaction
from annotator.accounts.models import User
from annotator.accounts.services import create_api_token
from annotator.imaging.ingest import Ingestor
from annotator.imaging.models import Instance
from annotator.imaging.tasks import build_series_volumes_task
from tests.factories import make_project
u = User.objects.create_user(username='bench', password='x')
p = make_project(owner=u, name='Bench frames')
key = create_api_token(user=u, name='bench').key
with transaction.atomic():
    ingestor = Ingestor(project=p, actor=u, source='upload')
    for f in sorted(Path(sys.argv[1]).iterdir()):
        with f.open('rb') as fp:
            ingestor.add(name=f.name, fp=fp, size=f.stat().st_size)
    report = ingestor.finish()
build_series_volumes_task([s['id'] for s in report.series])
rows = Instance.objects.select_related('series__study').order_by('stack_position', 'pk')
print(json.dumps({'project': p.pk, 'key': key, 'instances': [
    [i.series.study.study_instance_uid, i.series.series_instance_uid, i.sop_instance_uid,
     i.file.path] for i in rows]}))
"""


def _setup(env: dict[str, str], folder: Path) -> dict[str, object]:
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    _run([sys.executable, "manage.py", "migrate", "-v0"], env)
    out = _run([sys.executable, "-c", "import django; django.setup()\n" + _SETUP, str(folder)], env)
    return dict(json.loads(out.strip().splitlines()[-1]))


def _frame_of(body: bytes, content_type: str) -> bytes:
    """Return the single part of a multipart/related frame response."""
    boundary = content_type.split("boundary=")[1].split(";")[0].strip('"')
    head, _, rest = body.partition(b"\r\n\r\n")
    if not head.startswith(b"--" + boundary.encode()):
        raise SystemExit("the frame response is not multipart/related")
    return rest[: rest.rindex(b"\r\n--" + boundary.encode() + b"--")]


def _stack_load(urls: list[str], key: str) -> tuple[float, list[float], int]:
    """Fetch every URL once with CLIENTS threads; return wall time, latencies, bytes."""
    import threading

    import requests

    local = threading.local()

    def fetch(url: str) -> tuple[float, int]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers.update({"Authorization": f"Token {key}", "Accept": ACCEPT})
        start = time.perf_counter()
        response = session.get(url, timeout=30)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.text[:200]}")
        return elapsed, len(response.content)

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(fetch, urls))
    wall = time.perf_counter() - start
    return wall, [r[0] for r in results], sum(r[1] for r in results)


def _wrk(urls: list[str], key: str, seconds: int) -> tuple[float, float, float] | None:
    """Return (requests/s, p50 ms, p99 ms) of wrk cycling the URLs, or None without wrk."""
    if shutil.which("wrk") is None:
        return None
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    paths = ",\n".join(f'  "{u.split(str(PORT), 1)[1]}"' for u in urls)
    script.write_text(
        f'wrk.headers["Authorization"] = "Token {key}"\n'
        f"wrk.headers[\"Accept\"] = '{ACCEPT}'\n"
        f"local paths = {{\n{paths}\n}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n % #paths + 1\n"
        '  return wrk.format("GET", paths[n])\n'
        "end\n"
    )
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "--latency", "-s", str(script), urls[0]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        raise SystemExit(f"wrk saw {m.group(1)} errors")

    def ms(label: str) -> float:
        found = re.search(rf"{label}%\s+([\d.]+)(\w+)", output)
        if not found:
            return float("nan")
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return float(rate.group(1)) if rate else float("nan"), ms("50"), ms("99")


def _wait_for(url: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=10)
            return
        except requests.RequestException:  # not listening yet, or still importing
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration; 0 skips it")
    args = parser.parse_args()

    import pydicom

    from annotator.imaging.synthetic import make_ct_series, write_datasets

    work = Path(tempfile.mkdtemp(prefix="annotator-bench-frames-"))
    env = _env(work / "var")
    try:
        t0 = time.perf_counter()
        write_datasets(make_ct_series(slices=args.slices, size=args.size), work / "ct")
        setup = _setup(env, work / "ct")
        print(f"setup (synthesise, migrate, ingest, build): {time.perf_counter() - t0:.1f} s")
        stored = [Path(str(row[3])) for row in setup["instances"]]  # type: ignore[attr-defined]

        # Reference: the same (stored) files read with plain pydicom, pixels included.
        start = time.perf_counter()
        expected = [pydicom.dcmread(f).PixelData for f in stored]
        pydicom_s = time.perf_counter() - start

        layout = os.environ.get("BENCH_GUNICORN", "-w 3 -k sync").split()  # as deploy/ runs it
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "annotator.wsgi:application",
                "-b",
                f"127.0.0.1:{PORT}",
                *layout,
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{PORT}/api/v1/projects/{setup['project']}/dicomweb"
            urls = [
                f"{base}/studies/{st}/series/{se}/instances/{sop}/frames/1"
                for st, se, sop, _ in setup["instances"]  # type: ignore[attr-defined]
            ]
            key = str(setup["key"])
            _wait_for(f"http://127.0.0.1:{PORT}/healthz")
            _check_bytes(urls, key, expected)
            _stack_load(urls[:30], key)  # warm every worker (imports, connections)
            loads = [_stack_load(urls, key) for _ in range(args.rounds)]
            sustained = _wrk(urls, key, args.seconds) if args.seconds else None
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=30)
        _report(args, layout, loads, sustained, pydicom_s, len(stored))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_bytes(urls: list[str], key: str, expected: list[bytes]) -> None:
    """Every served frame must be exactly the stored pixel data (single-frame files)."""
    import requests

    with requests.Session() as session:
        session.headers.update({"Authorization": f"Token {key}", "Accept": ACCEPT})
        step = max(1, len(urls) // 10)
        for url, pixels in zip(urls[::step], expected[::step], strict=True):
            response = session.get(url, timeout=30)
            response.raise_for_status()
            if _frame_of(response.content, response.headers["Content-Type"]) != pixels:
                raise SystemExit(f"{url}: the frame differs from pydicom's PixelData")


def _report(
    args: argparse.Namespace,
    layout: list[str],
    loads: list[tuple[float, list[float], int]],
    sustained: tuple[float, float, float] | None,
    pydicom_s: float,
    count: int,
) -> None:
    walls = sorted(w for w, _, _ in loads)
    latencies = sorted(t for _, lat, _ in loads for t in lat)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    megabytes = loads[0][2] / 1e6
    rows = [
        (
            f"stack load, {CLIENTS} requests.Session threads (median of {len(loads)})",
            f"{count / statistics.median(walls):.0f}",
            f"{statistics.median(walls):.2f} (best {walls[0]:.2f})",
            f"{p50:.1f}",
            f"{p99:.1f}",
        )
    ]
    if sustained is not None:
        rate, w50, w99 = sustained
        rows.append(
            (
                f"sustained, wrk {CLIENTS} connections, {args.seconds} s",
                f"{rate:.0f}",
                f"{count / rate:.2f}",
                f"{w50:.1f}",
                f"{w99:.1f}",
            )
        )
    rows.append(
        (
            "reference: plain pydicom dcmread().PixelData, 1 process",
            f"{count / pydicom_s:.0f}",
            f"{pydicom_s:.2f}",
            f"{pydicom_s / count * 1000:.1f}",
            "",
        )
    )
    header = ("", "frames/s", f"s per {count} frames", "p50 ms", "p99 ms")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print(
        f"\ngunicorn {' '.join(layout)}; {count} frames of {args.size}x{args.size}, "
        f"{megabytes:.0f} MB per stack; target: stack < 2 s"
    )
    for row in [header, *rows]:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )


if __name__ == "__main__":
    main()
