"""Timing figures of the workspace page, as page scripts (printed by tests and benchmarks,
never asserted). Free of Django imports, so benchmarks outside pytest can use them."""

# The pixel requests of the page (single frames and whole-series bulk data): count, span and
# median duration, from resource timing.
NETWORK = """() => {
  const entries = performance.getEntriesByType('resource');
  const meta = entries.find((e) => e.name.endsWith('/metadata'));
  const frames = entries.filter(
    (e) => e.name.includes('/frames/') || /[/]series[/][0-9.]+$/.test(e.name),
  );
  const durations = frames.map((e) => e.duration).sort((a, b) => a - b);
  return {
    metadata: meta ? meta.duration : -1,
    frames: frames.length,
    firstFrame: Math.min(...frames.map((e) => e.startTime)),
    lastFrame: Math.max(...frames.map((e) => e.responseEnd)),
    median: durations[Math.floor(durations.length / 2)] || 0,
  };
}"""

# Frames per second while stepping over the whole stack three times, one slice per frame.
FPS = """async () => {
  const ws = window.__workspace;
  const n = ws.viewer.imageIds.length;
  await ws.viewer.scrollTo(0);
  let frames = 0;
  let running = true;
  const count = () => { frames += 1; if (running) requestAnimationFrame(count); };
  requestAnimationFrame(count);
  const start = performance.now();
  for (let pass = 0; pass < 3; pass++) {
    for (let k = 0; k < n; k++) {
      await ws.viewer.scrollTo(pass % 2 ? n - 1 - k : k);
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
  }
  running = false;
  const seconds = (performance.now() - start) / 1000;
  return { fps: frames / seconds, slices: 3 * n, seconds };
}"""
