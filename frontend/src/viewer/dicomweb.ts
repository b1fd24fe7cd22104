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
  const root = dicomwebRoot(projectId);
  const seriesUrl = `${root}/studies/${studyUid}/series/${seriesUid}`;
  const response = await fetch(`${seriesUrl}/metadata`, {
    headers: { Accept: "application/dicom+json" },
    credentials: "same-origin",
    signal,
  });
  if (!response.ok) throw new ApiError(response.status, null, `Series metadata failed (HTTP ${response.status}).`);
  const instances = (await response.json()) as DicomJson[];
  const bySop = new Map<string, DicomJson>();
  for (const item of instances) {
    const sop = item["00080018"]?.Value?.[0];
    if (typeof sop === "string") bySop.set(sop, item);
  }
  const ids: string[] = [];
  for (const frame of [...frames].sort((a, b) => a.k - b.k)) {
    const meta = bySop.get(frame.sop_instance_uid);
    if (!meta) throw new Error(`The series metadata lacks instance ${frame.sop_instance_uid}.`);
    const imageId = `wadors:${seriesUrl}/instances/${frame.sop_instance_uid}/frames/${frame.frame}`;
    // The loader's metadata type is the DICOM JSON model; the cast only names it.
    wadors.metaDataManager.add(imageId, meta as unknown as Parameters<typeof wadors.metaDataManager.add>[1]);
    ids.push(imageId);
  }
  return ids;
}
