"""Time slice rendering + encoding on a 300x512x512 CT phantom memmap; a report, not a test.

Run: `.venv/bin/python tests/benchmarks/bench_render.py [--renders N]` from the repository root.
The HTTP target (250 slices/s, 8 clients, 2 cores) leaves ~2-4 ms of CPU per render + encode.
"""

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPACING = (0.7, 0.7, 2.5)  # column, row, slice (mm), a typical chest CT


def _report(line: str) -> None:
    print(line, flush=True)


def _time_renders(volume, plane, fmt, renders, max_size=None, window=None):
    """Render + encode `renders` slices cycling through the plane; return per-render stats."""
    from annotator.imaging.render import Plane, Window, encode, render_slice

    window = window or Window(40, 400)
    axis = {Plane.AXIAL: 0, Plane.CORONAL: 1, Plane.SAGITTAL: 2}[plane]
    count = volume.shape[axis]
    indices = [(count // 4 + 7 * n) % count for n in range(renders)]  # a scroll, not one slice
    for index in indices[:10]:  # warm the page cache and the window's lookup table
        encode(render_slice(volume, plane, index, window, spacing=SPACING), fmt)
    render_s = encode_s = 0.0
    size = 0
    cpu = time.process_time()
    for index in indices:
        start = time.perf_counter()
        image = render_slice(volume, plane, index, window, spacing=SPACING, max_size=max_size)
        middle = time.perf_counter()
        size += len(encode(image, fmt))
        encode_s += time.perf_counter() - middle
        render_s += middle - start
    cpu = time.process_time() - cpu
    return {
        "shape": "x".join(map(str, image.shape)),
        "render_ms": render_s / renders * 1000,
        "encode_ms": encode_s / renders * 1000,
        "cpu_ms": cpu / renders * 1000,
        "kib": size / renders / 1024,
    }


def _throughput(volume, fmt, renders, clients):
    """Return rendered slices/s with `clients` threads sharing the process (GIL included)."""
    from annotator.imaging.render import Plane, Window, encode, render_slice

    window = Window(40, 400)

    def one(n: int) -> int:
        index = (75 + 7 * n) % volume.shape[0]
        return len(encode(render_slice(volume, Plane.AXIAL, index, window, spacing=SPACING), fmt))

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(clients * 4)))
        start = time.perf_counter()
        list(pool.map(one, range(renders)))
    return renders / (time.perf_counter() - start)


def main() -> None:
    """Build the phantom memmaps, then print a table of ms per render by plane and format."""
    from annotator.imaging.render import Plane, Window, thumbnail
    from annotator.imaging.synthetic.ct import make_ct_phantom

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=200)
    renders = parser.parse_args().renders
    with tempfile.TemporaryDirectory() as tmp:
        phantom = make_ct_phantom(slices=300, size=512, spacing=(0.7, 0.7), slice_spacing=2.5)
        np.save(Path(tmp) / "int16.npy", phantom.hu)
        np.save(Path(tmp) / "float32.npy", phantom.hu.astype(np.float32))
        del phantom
        volumes = {
            dtype: np.load(Path(tmp) / f"{dtype}.npy", mmap_mode="r")
            for dtype in ("int16", "float32")
        }
        _report(f"{renders} renders per row, 300x512x512 CT phantom memmap, spacing {SPACING}")
        _report(
            f"{'volume':8} {'plane':9} {'max':>4} {'fmt':5} {'output':>12} "
            f"{'render ms':>9} {'encode ms':>9} {'total ms':>8} {'CPU ms':>7} {'KiB':>6}"
        )
        cases = [
            ("int16", Plane.AXIAL, None),
            ("int16", Plane.CORONAL, None),
            ("int16", Plane.CORONAL, 512),
            ("int16", Plane.SAGITTAL, None),
            ("int16", Plane.SAGITTAL, 512),
            ("float32", Plane.AXIAL, None),
        ]
        for dtype, plane, max_size in cases:
            for fmt in ("png", "jpeg"):
                r = _time_renders(volumes[dtype], plane, fmt, renders, max_size)
                _report(
                    f"{dtype:8} {plane.value:9} {max_size or '-':>4} {fmt:5} {r['shape']:>12} "
                    f"{r['render_ms']:9.2f} {r['encode_ms']:9.2f} "
                    f"{r['render_ms'] + r['encode_ms']:8.2f} {r['cpu_ms']:7.2f} {r['kib']:6.1f}"
                )
        lung = _time_renders(
            volumes["int16"], Plane.AXIAL, "png", renders, None, Window(-600, 1500)
        )
        _report(f"axial png, lung window: {lung['render_ms'] + lung['encode_ms']:.2f} ms")
        start = time.perf_counter()
        for _ in range(50):
            thumbnail(volumes["int16"], spacing=SPACING, window=Window(40, 400))
        _report(f"thumbnail 128 px JPEG: {(time.perf_counter() - start) / 50 * 1000:.2f} ms")
        for fmt in ("png", "jpeg"):
            rate = _throughput(volumes["int16"], fmt, renders * 2, clients=8)
            _report(f"8 threads, axial {fmt}: {rate:.0f} slices/s in one process")
        del volumes


if __name__ == "__main__":
    main()
