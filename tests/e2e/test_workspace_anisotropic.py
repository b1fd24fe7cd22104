"""Anisotropic pixels in the browser: a 64 x 96 CT whose rows are 0.5 mm apart and columns 0.8 mm.

A disc of 12 mm radius must show round (its canvas extents equal across and down), and lengths
drawn across and down are stored with the server's millimetres, which the findings list shows
and Cornerstone measures alike. With square pixels assumed the disc would show 1.6 times taller
than wide and the lengths would be off by the same factor.
"""

from typing import Any

import numpy as np
import pytest

from annotator.imaging.synthetic import make_ct_series
from annotator.labeling.models import Annotation, Assignment, LabelingTask
from annotator.labeling.workflow import assign_reader
from annotator.projects.models import Role
from annotator.projects.services import add_member, update_label_schema
from tests.e2e.browser import canvas_point, drag, log_in
from tests.factories import UserFactory, make_project
from tests.imaging.dicom_files import to_bytes
from tests.labeling.conftest import ingest_and_build

pytestmark = pytest.mark.e2e

ROWS, COLUMNS = 96, 64
ROW_MM, COLUMN_MM = 0.5, 0.8  # PixelSpacing: between rows (down), between columns (across)
RADIUS_MM = 12.0
CENTER = (48, 32)  # row, column

# Extents of the bright disc on the viewport's canvas (the soft-tissue window shows it white).
DISC_EXTENTS = """() => {
  const canvas = document.querySelector('[data-testid=viewport] canvas');
  const { width, height } = canvas;
  const { data } = canvas.getContext('2d').getImageData(0, 0, width, height);
  let left = width, right = -1, top = height, bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4] < 128) continue;
      left = Math.min(left, x); right = Math.max(right, x);
      top = Math.min(top, y); bottom = Math.max(bottom, y);
    }
  }
  return { width: right - left + 1, height: bottom - top + 1 };
}"""

CORNERSTONE_LENGTHS = """() => window.__workspace.annotations()
  .filter((a) => a.metadata.toolName === 'Length')
  .map((a) => Object.values(a.data.cachedStats)[0].length)"""


def _disc_series() -> list[tuple[str, bytes]]:
    """Three slices of a 400 HU disc in -1000 HU air, on a non-square, anisotropic grid."""
    rows, columns = np.mgrid[0:ROWS, 0:COLUMNS]
    inside = ((rows - CENTER[0]) * ROW_MM) ** 2 + ((columns - CENTER[1]) * COLUMN_MM) ** 2
    hu = np.where(inside <= RADIUS_MM**2, 400, -1000)
    stored = (hu + 1024).astype(np.int16)  # the series' RescaleIntercept is -1024
    files = []
    for ds in make_ct_series(slices=3, size=COLUMNS, spacing=(ROW_MM, COLUMN_MM), nodules=0):
        ds.set_pixel_data(stored, "MONOCHROME2", 16, generate_instance_uid=False)
        files.append((f"ct/{ds.SOPInstanceUID}.dcm", to_bytes(ds)))
    return files


def _setup() -> tuple[Any, Any, LabelingTask]:
    manager = UserFactory.create(username="manager")
    project = make_project(owner=manager, name="Anisotropic CT", auto_assign=False)
    schema = project.label_schemas.get()
    labels = [{"key": "diameter", "name": "Diameter", "kind": "length", "scope": "image"}]
    update_label_schema(
        project=project, actor=manager, base_revision=schema.revision, labels=labels
    )
    reader = UserFactory.create(username="reader")
    add_member(project=project, actor=manager, user=reader, role=Role.ANNOTATOR)
    [series] = ingest_and_build(project, _disc_series())
    task = LabelingTask.objects.get(series=series)
    assign_reader(task=task, actor=manager, reader=reader)
    return project, reader, task


def _mm(points: list[list[float]]) -> float:
    (i0, j0), (i1, j1) = points
    return float(np.hypot((i1 - i0) * COLUMN_MM, (j1 - j0) * ROW_MM))


def test_anisotropic_pixels_show_round_and_measure_in_millimetres(
    page: Any, live_server: Any, transactional_db: None
) -> None:
    from playwright.sync_api import expect

    project, reader, task = _setup()
    log_in(page, live_server, reader.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/tasks/{task.pk}")
    viewport = page.get_by_test_id("viewport")
    expect(viewport).to_have_attribute("data-stack-loaded", "true")
    expect(page.get_by_test_id("window-values")).to_have_text("W 400 / L 40")
    page.wait_for_timeout(200)  # let the window's render reach the canvas

    # The whole image: 51.2 mm across, 48 mm down, whatever the pixel counts.
    left, top = canvas_point(page, 0, 0)
    right, bottom = canvas_point(page, COLUMNS, ROWS)
    assert abs((right - left) / (bottom - top) - (COLUMNS * COLUMN_MM) / (ROWS * ROW_MM)) < 0.01
    # The disc: 30 columns by 48 rows of pixels, round on screen.
    disc = page.evaluate(DISC_EXTENTS)
    assert disc["height"] > 40, disc  # drawn large enough for the ratio to mean something
    assert abs(disc["width"] / disc["height"] - 1) < 0.05, disc

    # A length across (40 columns: 32 mm) and one down (60 rows: 30 mm).
    page.get_by_test_id("label-diameter").click()
    drag(page, canvas_point(page, 8, 84), canvas_point(page, 48, 84))
    expect(page.get_by_test_id("finding")).to_have_count(1)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    drag(page, canvas_point(page, 58, 12), canvas_point(page, 58, 72))
    expect(page.get_by_test_id("finding")).to_have_count(2)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")

    reading = Assignment.objects.get(task=task, reader=reader)
    across, down = Annotation.objects.filter(
        annotation_set=reading.annotation_set, label_key="diameter"
    ).order_by("pk")
    stored = [across.measurements["length_mm"], down.measurements["length_mm"]]
    # The server measured the stored voxel points with the series' own spacing.
    assert stored == pytest.approx([_mm(across.data["points"]), _mm(down.data["points"])], abs=0.01)
    assert stored == pytest.approx([32.0, 30.0], abs=0.8)  # where the mouse went, in mm
    # The findings list shows the stored figures; Cornerstone measured the same on screen.
    shown = page.get_by_test_id("finding-measurements").all_inner_texts()
    assert sorted(shown) == sorted(f"{mm:.1f} mm" for mm in stored)
    cornerstone = page.evaluate(CORNERSTONE_LENGTHS)
    assert sorted(cornerstone) == pytest.approx(sorted(stored), rel=0.005)
    print(  # noqa: T201 - figures are reported, not asserted
        f"\nanisotropic {COLUMNS}x{ROWS} at {COLUMN_MM}x{ROW_MM} mm: disc {disc['width']}x"
        f"{disc['height']} canvas px; lengths stored {stored} mm, Cornerstone {cornerstone} mm"
    )
