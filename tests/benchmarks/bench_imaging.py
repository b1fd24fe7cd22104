"""Imaging speed benchmark: ingest through the API, and rendered slices under load.

Run with `make bench` (or `.venv/bin/python tests/benchmarks/bench_imaging.py`). It starts its
own gunicorn and Celery worker on PostgreSQL (database annotator_bench) and Redis (db 11),
prints figures and the ratios against references measured in the same run, and asserts
nothing: the suite never fails on timing.

1. Ingest: a 300-slice 512x512 uncompressed CT (about 150 MB) is POSTed to
   /api/v1/projects/{id}/uploads/ and ingested by the worker (validation, de-identification,
   storage, database rows). Reference: reading the same files with plain pydicom.
2. Render: wrk with 8 connections for 60 s against the render endpoint (axial slices, the
   soft-tissue window, PNG), sampling the gunicorn workers' memory every 5 s.
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PORT = 8811
DB_NAME = "annotator_bench"


def _env(var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "annotator.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/11",
        "VAR_DIR": str(var_dir),
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def _run(args: list[str], env: dict[str, str], **kwargs: object) -> str:
    result = subprocess.run(
        args, cwd=ROOT, env=env, check=True, capture_output=True, text=True, **kwargs
    )  # type: ignore[call-overload]
    return str(result.stdout)


def _setup(env: dict[str, str]) -> tuple[int, str]:
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    _run([sys.executable, "manage.py", "migrate", "-v0"], env)
    script = (
        "from annotator.accounts.models import User\n"
        "from annotator.accounts.services import create_api_token\n"
        "from tests.factories import make_project\n"
        "u = User.objects.create_user(username='bench', password='x')\n"
        "p = make_project(owner=u, name='Bench CT')\n"
        "print(p.pk, create_api_token(user=u, name='bench').key)\n"
    )
    project_id, key = _run(
        [sys.executable, "-c", "import django; django.setup()\n" + script], env
    ).split()
    return int(project_id), key


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def bench_ingest(
    files: list[Path], project_id: int, key: str, archive: Path | None = None
) -> tuple[float, Any]:
    """Upload the files (multipart, or one zip body) and wait for the ingest job."""
    import requests

    headers = {"Authorization": f"Token {key}"}
    url = f"http://127.0.0.1:{PORT}/api/v1/projects/{project_id}/uploads/"
    start = time.perf_counter()
    if archive is not None:
        with archive.open("rb") as body:
            response = requests.post(
                f"{url}?filename=study.zip",
                data=body,
                timeout=600,
                headers={**headers, "Content-Type": "application/zip"},
            )
    else:
        handles = [open(f, "rb") for f in files]  # noqa: SIM115 - closed below
        try:
            response = requests.post(
                url,
                headers=headers,
                timeout=600,
                files=[
                    ("files", (f.name, h, "application/dicom"))
                    for f, h in zip(files, handles, strict=True)
                ],
            )
        finally:
            for handle in handles:
                handle.close()
    response.raise_for_status()
    uploaded = time.perf_counter() - start
    job_url = f"http://127.0.0.1:{PORT}/api/v1/jobs/{response.json()['id']}/"
    deadline = time.monotonic() + 900
    while True:
        job = requests.get(job_url, headers=headers, timeout=30).json()
        if job["state"] in ("succeeded", "failed"):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"ingest did not finish in 900 s: {job}")
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if job["state"] != "succeeded" or job["result"]["accepted"] != len(files):
        raise SystemExit(f"ingest failed: {job}")
    from datetime import datetime

    run_s = (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
    ).total_seconds()
    print(
        f"  upload request {uploaded:.2f} s, ingest job {run_s:.2f} s "
        f"({len(files) / run_s:.0f} instances/s in the worker)"
    )
    return elapsed, job["result"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()

    import pydicom

    from annotator.imaging.synthetic import make_ct_series, write_datasets

    work = Path(tempfile.mkdtemp(prefix="annotator-bench-"))
    env = _env(work / "var")
    os.environ.update(env)
    import django

    django.setup()
    from annotator.jobs.worker import worker_argv

    try:
        files = write_datasets(make_ct_series(slices=args.slices, size=args.size), work / "ct")
        megabytes = sum(f.stat().st_size for f in files) / 1e6
        start = time.perf_counter()
        for f in files:
            pydicom.dcmread(f).PixelData  # noqa: B018 - the reference: a plain full read
        pydicom_s = time.perf_counter() - start

        project_id, key = _setup(env)
        # BENCH_GUNICORN overrides the server layout, e.g. "-w 2 -k gthread --threads 4".
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
        print(f"gunicorn {' '.join(layout)}")
        worker_log = (work / "worker.log").open("wb")
        worker = subprocess.Popen(
            worker_argv(queues=["default"]),
            cwd=ROOT,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
        time.sleep(4)
        try:
            archive = work / "study.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:
                for f in files:
                    bundle.write(f, f"study/{f.name}")
            zip_s, report = bench_ingest(files, project_id, key, archive)
            print(
                f"Ingest, one zip body: {len(files)} instances ({megabytes:.0f} MB) in "
                f"{zip_s:.2f} s through the API = {len(files) / zip_s:.0f} instances/s "
                "(target >= 150)"
            )
            print(
                f"  plain pydicom read of the same files: {pydicom_s:.2f} s = "
                f"{len(files) / pydicom_s:.0f} instances/s; ingest takes "
                f"{zip_s / pydicom_s:.1f}x the time of a plain read"
            )
            _run(
                [
                    sys.executable,
                    "-c",
                    "import django; django.setup()\n"
                    "from annotator.imaging.models import Instance\n"
                    "Instance.objects.all().delete()",
                ],
                env,
            )
            ingest_s, _ = bench_ingest(files, project_id, key)
            print(
                f"Ingest, multipart folder: {len(files)} instances in {ingest_s:.2f} s "
                f"through the API = {len(files) / ingest_s:.0f} instances/s"
            )
            series_id = report["series"][0]["id"]
            render_url = (
                f"http://127.0.0.1:{PORT}/api/v1/projects/{project_id}/series/{series_id}/render/"
            )
            import requests

            series_url = f"http://127.0.0.1:{PORT}/api/v1/projects/{project_id}/series/{series_id}/"
            deadline = time.monotonic() + 300
            # Both uploads queue a volume build: wait until the last one is done and idle.
            while (
                requests.get(
                    series_url, headers={"Authorization": f"Token {key}"}, timeout=30
                ).json()["status"]
                != "ready"
                or requests.get(
                    f"{render_url}?index=0", headers={"Authorization": f"Token {key}"}, timeout=30
                ).status_code
                != 200
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("volume was not built in 300 s")
                time.sleep(0.5)
            time.sleep(3)
            bench_render(render_url, key, args.slices, args.seconds, _children(web.pid))
        except BaseException:
            print((work / "worker.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            for process in (web, worker):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            worker_log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_render(url: str, key: str, slices: int, seconds: int, pids: list[int]) -> None:
    """Drive the render endpoint with wrk (8 connections) and watch memory."""
    if shutil.which("wrk") is None:
        print("Render: wrk is not installed (apt-get install wrk); skipped")
        return
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        f'wrk.headers["Authorization"] = "Token {key}"\n'
        "local n = 0\n"
        "request = function()\n"
        f"  n = (n + 1) % {slices}\n"
        '  return wrk.format("GET", wrk.path .. "?index=" .. n .. "&window=Soft%20tissue")\n'
        "end\n"
    )
    memory = [_rss_mb(pids)]
    process = subprocess.Popen(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(script), url],
        stdout=subprocess.PIPE,
        text=True,
    )
    while process.poll() is None:
        time.sleep(5)
        memory.append(_rss_mb(pids))
    output = process.stdout.read() if process.stdout else ""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p99_ms = (
        float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
        if p99
        else float("nan")
    )
    print(
        f"Render: {float(rate.group(1)) if rate else float('nan'):.0f} slices/s with 8 "
        f"connections for {seconds} s (target >= 250), p99 {p99_ms:.1f} ms (target < 50), "
        f"errors {non_2xx.group(1) if non_2xx else 0}"
    )
    print(
        f"  gunicorn memory (MB) every 5 s: {' '.join(f'{m:.0f}' for m in memory)} "
        f"(start {memory[0]:.0f}, end {memory[-1]:.0f}, "
        f"growth {memory[-1] - memory[min(2, len(memory) - 1)]:+.0f} after warm-up)"
    )


if __name__ == "__main__":
    main()
