// Images through the project's own DICOMweb (WADO-RS): series metadata is registered with the
// dicom-image-loader's wadors metadata manager, and every frame gets a `wadors:` image id.
import { wadors } from "@cornerstonejs/dicom-image-loader";
import { API_BASE, ApiError } from "../api";
import { ensureCornerstone } from "./setup";

export interface StackFrame {
  k: number;
  sop_instance_uid: string;
  frame: number;
}

type DicomJson = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>;

/** The DICOMweb root of one project (same origin: the session cookie authenticates). */
export function dicomwebRoot(projectId: number | string): string {
  return `${API_BASE}projects/${projectId}/dicomweb`;
}

type DicomAttribute = DicomJson[string];
export type { DicomJson, DicomAttribute };

// One metadata request per series and page: the stack, the cine rate and the mammography
// hanging all read it.
const seriesMetadata = new Map<string, Promise<DicomJson[]>>();
const metaByImageId = new Map<string, DicomJson>();

/** The series' DICOM JSON metadata (one object per instance), fetched once per page. */
export function fetchSeriesMetadata(projectId: number | string, studyUid: string, seriesUid: string, signal?: AbortSignal): Promise<DicomJson[]> {
  const url = `${dicomwebRoot(projectId)}/studies/${studyUid}/series/${seriesUid}/metadata`;
  let pending = seriesMetadata.get(url);
  if (!pending) {
    pending = (async () => {
      // Not tied to one caller's signal: the answer is shared.
      const response = await fetch(url, { headers: { Accept: "application/dicom+json" }, credentials: "same-origin" });
      if (!response.ok) throw new ApiError(response.status, null, `Series metadata failed (HTTP ${response.status}).`);
      return (await response.json()) as DicomJson[];
    })();
    pending.catch(() => seriesMetadata.delete(url));
    seriesMetadata.set(url, pending);
  }
  if (!signal) return pending;
  return new Promise((resolve, reject) => {
    const abort = () => reject(new DOMException("Aborted", "AbortError"));
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    pending.then(resolve, reject);
  });
}

/** A DICOM JSON attribute's first value as a string ("" when absent). */
export function tagString(meta: DicomJson | undefined, tag: string): string {
  const value = meta?.[tag]?.Value?.[0];
  return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

/** A DICOM JSON attribute's first value as a number (null when absent or not a number). */
export function tagNumber(meta: DicomJson | undefined, tag: string): number | null {
  const text = tagString(meta, tag);
  const value = text === "" ? NaN : Number(text);
  return Number.isFinite(value) ? value : null;
}

/** The DICOM JSON of the instance behind an image id made by this module. */
export function imageMetadata(imageId: string): DicomJson | undefined {
  return metaByImageId.get(imageId);
}

/** The wadors image id of one frame (1-based) and its registration with the loader. */
export function registerImage(projectId: number | string, studyUid: string, seriesUid: string, meta: DicomJson, sopUid: string, frame: number): string {
  const imageId = `wadors:${dicomwebRoot(projectId)}/studies/${studyUid}/series/${seriesUid}/instances/${sopUid}/frames/${frame}`;
  // The loader's metadata type is the DICOM JSON model; the cast only names it.
  wadors.metaDataManager.add(imageId, meta as unknown as Parameters<typeof wadors.metaDataManager.add>[1]);
  metaByImageId.set(imageId, meta);
  return imageId;
}

/**
 * Fetch the series metadata and return image ids in stack order k (the order of the frames
 * endpoint, never instance number).
 */
export async function loadStackImageIds(
  projectId: number | string,
  studyUid: string,
  seriesUid: string,
  frames: StackFrame[],
  signal?: AbortSignal,
): Promise<string[]> {
  await ensureCornerstone(); // start-up purges the metadata manager: register after it
  const instances = await fetchSeriesMetadata(projectId, studyUid, seriesUid, signal);
  const bySop = new Map<string, DicomJson>();
  for (const item of instances) {
    const sop = item["00080018"]?.Value?.[0];
    if (typeof sop === "string") bySop.set(sop, item);
  }
  const ids: string[] = [];
  for (const frame of [...frames].sort((a, b) => a.k - b.k)) {
    const meta = bySop.get(frame.sop_instance_uid);
    if (!meta) throw new Error(`The series metadata lacks instance ${frame.sop_instance_uid}.`);
    ids.push(registerImage(projectId, studyUid, seriesUid, meta, frame.sop_instance_uid, frame.frame));
  }
  return ids;
}
