// Cornerstone annotations ⇄ API findings for the drawing label kinds. Geometry goes through
// viewer/coords.ts only; image-scope findings carry slice_index k, series-scope boxes and
// points are 3D [i, j, k].
import { metaData, type Types } from "@cornerstonejs/core";
import type { Types as ToolTypes } from "@cornerstonejs/tools";
import type { Label, LabelKind } from "../types";
import { ijToWorld, worldToIJ } from "../viewer/coords";
import { TOOL } from "../viewer/StackViewer";
import type { Finding } from "./types";

export type CsAnnotation = ToolTypes.Annotation;

/** The viewer tool that draws a label of this kind (null: answered in the side panel). */
export function toolForKind(kind: LabelKind): string | null {
  switch (kind) {
    case "bounding_box":
      return TOOL.box;
    case "length":
      return TOOL.length;
    case "point":
      return TOOL.point;
    case "bidirectional":
      return TOOL.bidirectional;
    case "polygon":
      return TOOL.polygon;
    case "polyline":
      return TOOL.polyline;
    case "mask":
      return TOOL.brush;
    default:
      return null;
  }
}

export const ANSWER_KINDS: readonly LabelKind[] = ["classification_single", "classification_multi", "ordinal", "free_text"];

export interface FindingPayload {
  data: Record<string, unknown>;
  slice_index: number | null;
}

function points(annotation: CsAnnotation): Types.Point3[] {
  return (annotation.data.handles?.points ?? []) as Types.Point3[];
}

/** Turn a finished Cornerstone drawing into the API's data for `label`, or null if unusable. */
export function toFinding(annotation: CsAnnotation, label: Label, imageIds: string[]): FindingPayload | null {
  const imageId = annotation.metadata?.referencedImageId;
  if (!imageId) return null;
  const k = imageIds.indexOf(imageId);
  if (k < 0) return null;
  const ij = (p: Types.Point3) => worldToIJ(imageId, p);
  const series = label.scope === "series";
  const withK = (p: number[]) => (series ? [...p, k] : p);
  const sliceIndex = series ? null : k;
  const pts = points(annotation);
  switch (label.kind) {
    case "length": {
      if (pts.length < 2) return null;
      return { data: { points: [ij(pts[0]), ij(pts[1])] }, slice_index: sliceIndex };
    }
    case "bounding_box": {
      if (pts.length < 4) return null;
      const all = pts.map(ij);
      const min = [Math.min(...all.map((p) => p[0])), Math.min(...all.map((p) => p[1]))];
      const max = [Math.max(...all.map((p) => p[0])), Math.max(...all.map((p) => p[1]))];
      return { data: { min: withK(min), max: withK(max) }, slice_index: sliceIndex };
    }
    case "point": {
      if (pts.length < 1) return null;
      return { data: { point: withK(ij(pts[0])) }, slice_index: sliceIndex };
    }
    case "bidirectional": {
      if (pts.length < 4) return null;
      return {
        data: { long_axis: [ij(pts[0]), ij(pts[1])], short_axis: [ij(pts[2]), ij(pts[3])] },
        slice_index: sliceIndex,
      };
    }
    case "polygon":
    case "polyline": {
      const contour = (annotation.data as { contour?: { polyline: Types.Point3[] } }).contour;
      const line = contour?.polyline ?? [];
      const need = label.kind === "polygon" ? 3 : 2;
      if (line.length < need) return null;
      return { data: { points: line.map(ij) }, slice_index: sliceIndex };
    }
    default:
      return null;
  }
}

/** The image a stored finding is drawn on (its slice, or k of a 3D point/box). */
export function findingSlice(finding: Finding): number | null {
  if (finding.slice_index != null) return finding.slice_index;
  const d = finding.data as { min?: number[]; point?: number[] };
  if (d.min && d.min.length === 3) return Math.round(d.min[2]);
  if (d.point && d.point.length === 3) return Math.round(d.point[2]);
  return null;
}

/** Build a Cornerstone annotation showing a stored finding on the stack viewport. */
export function fromFinding(
  finding: Finding,
  label: Label,
  imageIds: string[],
  camera: { viewPlaneNormal: Types.Point3; viewUp: Types.Point3 },
  annotationUID: string,
): CsAnnotation | null {
  const k = findingSlice(finding);
  const tool = toolForKind(label.kind);
  if (k == null || !tool || tool === TOOL.brush) return null;
  const imageId = imageIds[k];
  if (!imageId) return null;
  const world = (p: readonly number[]) => ijToWorld(imageId, p);
  const d = finding.data as Record<string, number[][] & number[]>;
  let handles: Types.Point3[] = [];
  let contour: { polyline: Types.Point3[]; closed: boolean } | undefined;
  switch (label.kind) {
    case "length":
      handles = d.points.map(world);
      break;
    case "bounding_box": {
      const [i0, j0] = d.min as number[];
      const [i1, j1] = d.max as number[];
      // RectangleROI's handle order: top-left, top-right, bottom-left, bottom-right.
      handles = [world([i0, j0]), world([i1, j0]), world([i0, j1]), world([i1, j1])];
      break;
    }
    case "point":
      handles = [world(d.point as number[])];
      break;
    case "bidirectional":
      handles = [...(d.long_axis as number[][]).map(world), ...(d.short_axis as number[][]).map(world)];
      break;
    case "polygon":
    case "polyline":
      contour = { polyline: (d.points as number[][]).map(world), closed: label.kind === "polygon" };
      break;
    default:
      return null;
  }
  const plane = metaData.get("imagePlaneModule", imageId) as { frameOfReferenceUID?: string } | undefined;
  const annotation = {
    annotationUID,
    highlighted: false,
    invalidated: true,
    isLocked: false,
    isVisible: true,
    metadata: {
      toolName: tool,
      viewPlaneNormal: [...camera.viewPlaneNormal] as Types.Point3,
      viewUp: [...camera.viewUp] as Types.Point3,
      FrameOfReferenceUID: plane?.frameOfReferenceUID ?? "",
      referencedImageId: imageId,
    },
    data: {
      label: label.name,
      handles: {
        points: handles,
        activeHandleIndex: null,
        textBox: {
          hasMoved: false,
          worldPosition: [0, 0, 0] as Types.Point3,
          worldBoundingBox: {
            topLeft: [0, 0, 0] as Types.Point3,
            topRight: [0, 0, 0] as Types.Point3,
            bottomLeft: [0, 0, 0] as Types.Point3,
            bottomRight: [0, 0, 0] as Types.Point3,
          },
        },
      },
      cachedStats: {},
      ...(contour ? { contour, polyline: contour.polyline } : {}),
    },
  };
  return annotation as unknown as CsAnnotation;
}

/** "#rrggbb" → "rgb(r, g, b)" and RGBA 0-255. */
export function parseColor(hex: string): { css: string; rgba: [number, number, number, number] } {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  const value = m ? parseInt(m[1], 16) : 0x4cc2ff;
  const rgba: [number, number, number, number] = [(value >> 16) & 255, (value >> 8) & 255, value & 255, 255];
  return { css: `rgb(${rgba[0]}, ${rgba[1]}, ${rgba[2]})`, rgba };
}

/** Millimetre figures of a finding for the findings list. */
export function formatMeasurements(m: Record<string, unknown> | undefined): string {
  if (!m) return "";
  const parts: string[] = [];
  const num = (key: string) => (typeof m[key] === "number" ? (m[key] as number) : null);
  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
  if (num("length_mm") != null) parts.push(`${fmt(num("length_mm")!)} mm`);
  if (num("long_axis_mm") != null) parts.push(`${fmt(num("long_axis_mm")!)} × ${fmt(num("short_axis_mm") ?? 0)} mm`);
  if (num("width_mm") != null) parts.push(`${fmt(num("width_mm")!)} × ${fmt(num("height_mm") ?? 0)} mm`);
  if (num("area_mm2") != null) parts.push(`${fmt(num("area_mm2")!)} mm²`);
  if (num("depth_mm") != null) parts.push(`depth ${fmt(num("depth_mm")!)} mm`);
  if (num("perimeter_mm") != null) parts.push(`perimeter ${fmt(num("perimeter_mm")!)} mm`);
  if (num("volume_ml") != null) parts.push(`${num("volume_ml")!.toFixed(2)} ml`);
  const segments = m.segments as Record<string, { voxels?: number; volume_ml?: number }> | undefined;
  if (segments) {
    for (const [n, s] of Object.entries(segments)) {
      parts.push(`#${n}: ${s.voxels ?? 0} voxels${s.volume_ml != null ? `, ${s.volume_ml.toFixed(2)} ml` : ""}`);
    }
  }
  return parts.join(" · ");
}

/** The save-queue key of an answer: image-scope answers are kept per slice. */
export function answerKey(label: Label, slice: number | null): string {
  return label.scope === "image" ? `answer:${label.key}:${slice ?? 0}` : `answer:${label.key}`;
}
