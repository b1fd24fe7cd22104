"""Whole-series load in the browser against the production server: a report, not a test.

Run with `.venv/bin/python tests/benchmarks/bench_browser_load.py` (needs /usr/bin/chromium,
the playwright Python package and a built frontend). It builds and ingests the 300-slice 512x512
synthetic CT on PostgreSQL (database annotator_bench_browser), starts gunicorn with the
configuration deploy/ uses (annotator/gunicorn_conf.py: worker class and count from the
environment, else from the CPU count), and opens the reader's task in headless Chromium with the
e2e flags, in a fresh browser context per round (nothing in the HTTP cache). Printed per round
and as medians, all from the page's performance timeline (ms since navigation start):

- first image: the viewport's first IMAGE_RENDERED;
- whole stack: every image of the series is in Cornerstone's cache (checked, not assumed);
- scrolling: frames per second while stepping over the whole stack three times.

References measured in the same run: the raw time to fetch all frames with 6 parallel Python
HTTP clients from the same server (what the network and server alone cost), and the same page
against a one-process server (gunicorn, 1 worker, 6 threads: what pytest's live server is).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_frames import _env, _run, _stack_load, _wait_for  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, FRONTEND_INDEX, BrowserErrors  # noqa: E402
from tests.e2e.timing import FPS, NETWORK  # noqa: E402

PORT = 8813
DB_NAME = "annotator_bench_browser"
PASSWORD = "bench-browser-load-1"
LOAD_MS = 120_000
# Cornerstone3D's documentation (progressive loading of a 174-slice CT volume, local network).
CORNERSTONE_FIRST_S = (1.1, 1.4)
CORNERSTONE_WHOLE_S = (1.5, 2.0)

# Child process with Django set up: a manager's project, a reader assigned to the series' task.
_SETUP = """
import json, sys
from pathlib import Path
from django.db import transaction
from annotator.accounts.models import User
from annotator.accounts.services import create_api_token
from annotator.imaging.ingest import Ingestor
from annotator.imaging.models import Instance
from annotator.imaging.tasks import build_series_volumes_task
from annotator.labeling.models import LabelingTask
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests.factories import make_project
manager = User.objects.create_user(username='manager', password=sys.argv[2])
reader = User.objects.create_user(username='reader', password=sys.argv[2])
p = make_project(owner=manager, name='Bench browser load', auto_assign=False)
add_member(project=p, actor=manager, user=reader, role=Role.ANNOTATOR)
with transaction.atomic():
    ingestor = Ingestor(project=p, actor=manager, source='upload')
    for f in sorted(Path(sys.argv[1]).iterdir()):
        with f.open('rb') as fp:
            ingestor.add(name=f.name, fp=fp, size=f.stat().st_size)
    report = ingestor.finish()
build_series_volumes_task([s['id'] for s in report.series])
task = LabelingTask.objects.get(project=p)
assign_reader(task=task, actor=manager, reader=reader)
rows = Instance.objects.select_related('series__study').order_by('stack_position', 'pk')
print(json.dumps({'project': p.pk, 'task': task.pk,
    'key': create_api_token(user=reader, name='bench').key,
    'instances': [[i.series.study.study_instance_uid, i.series.series_instance_uid,
                   i.sop_instance_uid] for i in rows]}))
"""

# Every image id of the stack is in Cornerstone's cache (a failed load would leave a hole).
CACHED = "() => window.__workspace.cachedImages()"


def _setup(env: dict[str, str], folder: Path) -> dict[str, Any]:
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    _run([sys.executable, "manage.py", "migrate", "-v0"], env)
    _run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env)
    script = "import django; django.setup()\n" + _SETUP
    out = _run([sys.executable, "-c", script, str(folder), PASSWORD], env)
    return dict(json.loads(out.strip().splitlines()[-1]))


@contextmanager
def _gunicorn(env: dict[str, str], extra_env: dict[str, str]) -> Iterator[str]:
    """Run gunicorn as deploy/ does (its config module), with `extra_env` overriding it."""
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "annotator.wsgi:application",
            "-c",
            "python:annotator.gunicorn_conf",
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**env, "GUNICORN_ACCESS_LOG": "", **extra_env},
    )
    try:
        _wait_for(f"http://127.0.0.1:{PORT}/healthz")
        yield f"http://127.0.0.1:{PORT}"
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this script's descendants: the server and the browser.

    The machine may be shared, so wall times vary with its load; CPU seconds per page load do
    not, and on an idle 2-core machine the wall time is at least their sum / 2.
    """
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        kind = "server" if "gunicorn" in cmdline else "browser" if "chrom" in cmdline else ""
        times[pid] = (kind, (int(fields[11]) + int(fields[12])) / tick)
    me, totals = os.getpid(), {"server": 0.0, "browser": 0.0}
    for pid, (kind, seconds) in times.items():
        ancestor = parents.get(pid, 0)
        while ancestor not in (0, 1, me):
            ancestor = parents.get(ancestor, 0)
        if ancestor == me and kind:
            totals[kind] += seconds
    return totals


def _open_task(browser: Any, base: str, setup: dict[str, Any], fps: bool) -> dict[str, Any]:
    """Log in in a fresh context, open the task, wait for the whole stack; return the figures."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    errors = BrowserErrors()
    errors.allow_response("/api/v1/auth/me/", 401)  # logged out: "who am I?" answers 401
    # Resource timing keeps 250 entries by default: room for every frame request.
    context.add_init_script("performance.setResourceTimingBufferSize(100000)")
    page = context.new_page()
    page.on("console", errors.on_console)
    page.on("pageerror", errors.on_page_error)
    try:
        page.goto(base + "/login")
        page.get_by_test_id("login-username").fill("reader")
        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url("**/projects")
        cpu_before = _cpu_seconds()
        page.goto(f"{base}/projects/{setup['project']}/tasks/{setup['task']}")
        viewport = page.get_by_test_id("viewport")
        expect(viewport).to_have_attribute("data-rendered", "true", timeout=LOAD_MS)
        cpu_first = _cpu_seconds()
        expect(viewport).to_have_attribute("data-stack-loaded", "true", timeout=LOAD_MS)
        cpu_after = _cpu_seconds()
        marks = page.evaluate("() => window.__workspace.marks")
        cached = page.evaluate(CACHED)
        network = page.evaluate(NETWORK)
        speed = page.evaluate(FPS) if fps else None
    finally:
        context.close()
    if errors.problems:
        raise SystemExit("The browser reported errors:\n" + "\n".join(errors.problems[:10]))
    count = len(setup["instances"])
    if cached != count:
        raise SystemExit(f"only {cached} of {count} images are in Cornerstone's cache")
    return {
        "first": marks["firstImage"] / 1000,
        "whole": marks["stackLoaded"] / 1000,
        "fps": speed["fps"] if speed else float("nan"),
        "requests": network["frames"],
        "fetched": network["lastFrame"] / 1000,
        "server_cpu": cpu_after["server"] - cpu_before["server"],
        "browser_cpu": cpu_after["browser"] - cpu_before["browser"],
        "browser_cpu_first": cpu_first["browser"] - cpu_before["browser"],
    }


def _browser_rounds(
    browser: Any, base: str, setup: dict[str, Any], rounds: int, label: str
) -> list[dict[str, Any]]:
    _open_task(browser, base, setup, fps=False)  # warm every worker (imports, connections)
    results = []
    for n in range(rounds):
        result = _open_task(browser, base, setup, fps=n == 0)
        print(
            f"  {label} round {n + 1}: first image {result['first']:.2f} s, whole stack "
            f"{result['whole']:.2f} s, {result['requests']} pixel requests done by "
            f"{result['fetched']:.2f} s; CPU server {result['server_cpu']:.2f} s, browser "
            f"{result['browser_cpu']:.2f} s ({result['browser_cpu_first']:.2f} s to first image)"
            + (f", scrolling {result['fps']:.0f} fps" if n == 0 else ""),
            flush=True,
        )
        results.append(result)
    return results


def _median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-reference-page", action="store_true", help="skip the one-process server's page"
    )
    args = parser.parse_args()
    if not CHROMIUM.exists() or not FRONTEND_INDEX.is_file():
        raise SystemExit(f"needs {CHROMIUM} and a built frontend ({FRONTEND_INDEX})")
    from playwright.sync_api import sync_playwright

    from annotator.imaging.synthetic import make_ct_series, write_datasets

    work = Path(tempfile.mkdtemp(prefix="annotator-bench-browser-"))
    env = _env(work / "var")
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    try:
        t0 = time.perf_counter()
        write_datasets(make_ct_series(slices=args.slices, size=args.size), work / "ct")
        setup = _setup(env, work / "ct")
        print(f"setup (synthesise, migrate, ingest, build): {time.perf_counter() - t0:.1f} s")
        count = len(setup["instances"])
        from annotator.gunicorn_conf import describe

        layout = describe(env)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                with _gunicorn(env, {}) as base:
                    urls = [
                        f"{base}/api/v1/projects/{setup['project']}/dicomweb/studies/{st}"
                        f"/series/{se}/instances/{sop}/frames/1"
                        for st, se, sop in setup["instances"]
                    ]
                    _stack_load(urls[:30], setup["key"])
                    raw = statistics.median(
                        _stack_load(urls, setup["key"])[0] for _ in range(args.rounds)
                    )
                    production = _browser_rounds(browser, base, setup, args.rounds, layout)
                single: list[dict[str, Any]] = []
                if not args.no_reference_page:
                    one = {"GUNICORN_WORKERS": "1", "GUNICORN_WORKER_CLASS": "gthread"}
                    with _gunicorn(env, {**one, "GUNICORN_THREADS": "6"}) as base:
                        single = _browser_rounds(browser, base, setup, args.rounds, "1 process")
            finally:
                browser.close()
        _report(count, args, layout, production, single, raw)
    finally:
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=False
        )
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def _report(
    count: int,
    args: argparse.Namespace,
    layout: str,
    production: list[dict[str, Any]],
    single: list[dict[str, Any]],
    raw: float,
) -> None:
    first, whole = _median(production, "first"), _median(production, "whole")
    print(
        f"\n{count} slices of {args.size}x{args.size} CT, headless Chromium on loopback, "
        f"median of {args.rounds} rounds; targets: first image < 1 s, whole stack < 2 s\n"
        f"  gunicorn {layout}: first image {first:.2f} s, whole stack {whole:.2f} s, "
        f"scrolling {production[0]['fps']:.0f} fps; CPU per load: server "
        f"{_median(production, 'server_cpu'):.2f} s, "
        f"browser {_median(production, 'browser_cpu'):.2f} s\n"
        f"  reference, 6 Python clients fetching every frame from the same server: {raw:.2f} s "
        f"(browser whole stack / raw fetch = {whole / raw:.2f})"
    )
    if single:
        s_first, s_whole = _median(single, "first"), _median(single, "whole")
        print(
            f"  reference, one-process server (1 worker, 6 threads): first image "
            f"{s_first:.2f} s, whole stack {s_whole:.2f} s, scrolling {single[0]['fps']:.0f} fps, "
            f"CPU server {_median(single, 'server_cpu'):.2f} s, browser "
            f"{_median(single, 'browser_cpu'):.2f} s "
            f"(production / one process: first {first / s_first:.2f}, whole {whole / s_whole:.2f})"
        )
    best, worst = (s / 174 * 1000 for s in CORNERSTONE_WHOLE_S)
    print(
        f"  Cornerstone3D's documentation, 174 slices on a local network: first image "
        f"{CORNERSTONE_FIRST_S[0]}-{CORNERSTONE_FIRST_S[1]} s, whole volume "
        f"{CORNERSTONE_WHOLE_S[0]}-{CORNERSTONE_WHOLE_S[1]} s ({best:.1f}-{worst:.1f} ms per "
        f"slice; here {whole / count * 1000:.1f} ms per slice)"
    )


if __name__ == "__main__":
    main()
