// Mammography hanging: which image of the study goes in which cell of the 2x2 layout (R-CC,
// L-CC / R-MLO, L-MLO by default, the project's `hanging` setting otherwise). Laterality and
// view come from each instance's header (ImageLaterality, ViewPosition), the series'
// laterality filling in.
import { getAll } from "../api";
import { fetchSeriesMetadata, registerImage, tagNumber, tagString, type DicomJson } from "../viewer/dicomweb";
import { ensureCornerstone } from "../viewer/setup";
import type { HangingCell, SeriesDetail, WorkspaceData } from "./types";

const DEFAULT_HANGING: [string, string][] = [
  ["R", "CC"],
  ["L", "CC"],
  ["R", "MLO"],
  ["L", "MLO"],
];

interface Candidate {
  laterality: string;
  view: string;
  sop: string;
  imageId: string;
  ownSeries: boolean;
}

function viewOf(meta: DicomJson): string {
  const view = tagString(meta, "00185101").trim().toUpperCase();
  if (view) return view;
  // ViewCodeSequence (0054,0220) meanings: "cranio-caudal", "medio-lateral oblique".
  const code = (meta["00540220"]?.Value?.[0] ?? {}) as DicomJson;
  const meaning = tagString(code, "00080104").toLowerCase();
  if (meaning.startsWith("cranio-caudal")) return "CC";
  if (meaning.startsWith("medio-lateral oblique")) return "MLO";
  return "";
}

/**
 * The 2x2 hanging of the task's mammography study, or null when the project's layout for the
 * modality is not a hanging, the task's own image has no place in it, or fewer than two cells
 * would show an image.
 */
export async function loadHanging(data: WorkspaceData, signal?: AbortSignal): Promise<HangingCell[] | null> {
  const { projectId, series, frames, task } = data;
  if (series.modality !== "MG" || (data.display?.layout ?? "mammo_2x2") !== "mammo_2x2") return null;
  const hanging = data.display?.hanging?.length ? data.display.hanging : DEFAULT_HANGING;
  const activeSop = task.image?.sop_instance_uid ?? frames.frames[0]?.sop_instance_uid;
  await ensureCornerstone(); // image ids are registered after start-up (it purges them)
  const study = await getAll<SeriesDetail>(`projects/${projectId}/series/`, { study: task.study.id, modality: "MG" }, signal);
  if (!study.some((s) => s.id === series.id)) study.push(series);
  const candidates: Candidate[] = [];
  for (const item of study) {
    if (item.modality !== "MG") continue;
    const instances = await fetchSeriesMetadata(projectId, item.study_instance_uid, item.series_instance_uid, signal);
    for (const meta of instances) {
      const sop = tagString(meta, "00080018");
      if (!sop || tagNumber(meta, "00280010") == null) continue; // no Rows: not an image
      const laterality = (tagString(meta, "00200062") || tagString(meta, "00200060") || item.laterality || "").trim().toUpperCase();
      candidates.push({
        laterality,
        view: viewOf(meta),
        sop,
        imageId: registerImage(projectId, item.study_instance_uid, item.series_instance_uid, meta, sop, 1),
        ownSeries: item.id === series.id,
      });
    }
  }
  const active = candidates.find((c) => c.sop === activeSop);
  const cells: HangingCell[] = hanging.map(([laterality, view]) => {
    const want = (c: Candidate) => c.laterality === laterality.toUpperCase() && c.view === view.toUpperCase();
    const pick =
      active && want(active) ? active : (candidates.find((c) => want(c) && c.ownSeries) ?? candidates.find(want));
    return { laterality, view, imageId: pick?.imageId ?? null, active: pick != null && pick === active };
  });
  if (!cells.some((c) => c.active) || cells.filter((c) => c.imageId).length < 2) return null;
  return cells;
}
