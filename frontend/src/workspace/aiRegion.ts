// The "AI region" tool: click inside a structure (or drag a box around it) and the server's
// region segmentation (POST tasks/{id}/segment-region/) is painted into the active mask label
// as one stroke on the shown slice. Nothing else is special about it: the stroke marks the
// slice dirty, the mask autosave stores it, and brush and eraser edit it like any other.
//
// While the tool is on, left-button presses on the viewport are taken before Cornerstone sees
// them (capture phase on the viewport's parent); the right button still windows and the middle button still pans.
import { useEffect, useRef, useState, type RefObject } from "react";
import { api } from "../api";
import type { Label } from "../types";
import { canvasToIJ } from "../viewer/coords";
import type { StackViewer } from "../viewer/StackViewer";
import { inflate, unpackSlice } from "./maskWire";
import type { MaskLayers } from "./masks";
import type { FindingStore } from "./store";

/** A press that moves less than this (CSS pixels) is a click, else a box. */
const CLICK_SLOP_PX = 4;

export interface RegionResponse {
  stack: number;
  k: number;
  shape: [number, number];
  encoding: string;
  bitorder: string;
  /** base64 of zlib(packbits(rows x columns)), "" when the region is empty. */
  chunk: string;
  pixels: number;
  area_mm2: number;
  bbox: [number, number, number, number] | null;
}

export interface AiRegionState {
  busy: boolean;
  error: unknown;
  last: RegionResponse | null;
  /** The box being dragged, in viewport CSS pixels (for the outline). */
  dragBox: { left: number; top: number; width: number; height: number } | null;
}

interface Options {
  enabled: boolean;
  elementRef: RefObject<HTMLDivElement | null>;
  viewerRef: RefObject<StackViewer | null>;
  masksRef: RefObject<MaskLayers | null>;
  store: FindingStore;
  projectId: number;
  taskId: number;
  stackId: number;
  label: Label | undefined;
}

/** The mask label the tool paints: `current` when it is a mask, else the schema's first. */
export function maskLabelFor(labels: Label[], current: Label | undefined): Label | undefined {
  return current?.kind === "mask" ? current : labels.find((l) => l.kind === "mask");
}

/** Decode a region chunk to one 0/1 value per pixel. */
export async function decodeRegion(region: RegionResponse): Promise<Uint8Array> {
  const count = region.shape[0] * region.shape[1];
  if (!region.chunk) return new Uint8Array(count);
  const packed = Uint8Array.from(atob(region.chunk), (c) => c.charCodeAt(0));
  return unpackSlice(await inflate(packed), count);
}

/** Paint `bits` into the label's mask layer on slice k (added to what is there). */
export function paintRegion(viewer: StackViewer, masks: MaskLayers, label: Label, k: number, bits: Uint8Array): void {
  const layer = masks.layerFor(label);
  const imageId = layer.labelmapIds[k];
  const current = viewer.labelmapSlice(imageId);
  const merged = new Uint8Array(bits.length);
  for (let n = 0; n < bits.length; n++) merged[n] = current[n] || bits[n] ? 1 : 0;
  // Not "quietly": the change event marks the slice dirty and starts the autosave.
  viewer.setLabelmapSlice(layer.segmentationId, imageId, merged);
}

function ij(viewer: StackViewer, canvas: HTMLCanvasElement, event: MouseEvent): [number, number] {
  const rect = canvas.getBoundingClientRect();
  const [i, j] = canvasToIJ(viewer.viewport, viewer.currentImageId, [event.clientX - rect.left, event.clientY - rect.top]);
  return [Math.round(i), Math.round(j)];
}

/** Run the tool while `enabled`; returns what the viewport shows (busy, errors, drag box). */
export function useAiRegion(options: Options): AiRegionState {
  const [state, setState] = useState<AiRegionState>({ busy: false, error: null, last: null, dragBox: null });
  const current = useRef(options);
  current.current = options;
  const { enabled, elementRef } = options;

  useEffect(() => {
    const element = elementRef.current;
    if (!enabled || !element) return;
    let start: { x: number; y: number; event: MouseEvent } | null = null;

    const segment = async (body: Record<string, unknown>, k: number) => {
      const { viewerRef, masksRef, store, projectId, taskId, label } = current.current;
      setState((s) => ({ ...s, busy: true, error: null }));
      try {
        const region = await api.post<RegionResponse>(`projects/${projectId}/tasks/${taskId}/segment-region/`, body);
        const bits = await decodeRegion(region);
        // Let a save in flight (e.g. the one creating this label's mask finding) finish
        // first, so this stroke's save names the version that save produced.
        await store.settle();
        const viewer = viewerRef.current;
        const masks = masksRef.current;
        if (viewer && masks && label) paintRegion(viewer, masks, label, k, bits);
        setState((s) => ({ ...s, busy: false, last: region }));
      } catch (error) {
        setState((s) => ({ ...s, busy: false, error }));
      }
    };

    const onDown = (event: MouseEvent) => {
      if (event.button !== 0 || !element.contains(event.target as Node)) return;
      event.stopImmediatePropagation();
      event.preventDefault();
      start = { x: event.clientX, y: event.clientY, event };
      window.addEventListener("mousemove", onMove, true);
      window.addEventListener("mouseup", onUp, true);
    };
    const onMove = (event: MouseEvent) => {
      if (!start) return;
      event.stopImmediatePropagation();
      const rect = element.getBoundingClientRect();
      setState((s) => ({
        ...s,
        dragBox: {
          left: Math.min(start!.x, event.clientX) - rect.left,
          top: Math.min(start!.y, event.clientY) - rect.top,
          width: Math.abs(event.clientX - start!.x),
          height: Math.abs(event.clientY - start!.y),
        },
      }));
    };
    const onUp = (event: MouseEvent) => {
      window.removeEventListener("mousemove", onMove, true);
      window.removeEventListener("mouseup", onUp, true);
      const pressed = start;
      start = null;
      setState((s) => ({ ...s, dragBox: null }));
      const { viewerRef, stackId } = current.current;
      const viewer = viewerRef.current;
      const canvas = element.querySelector("canvas");
      if (!pressed || !viewer || !canvas) return;
      event.stopImmediatePropagation();
      const k = viewer.currentK;
      const a = ij(viewer, canvas, pressed.event);
      const moved = Math.hypot(event.clientX - pressed.x, event.clientY - pressed.y) > CLICK_SLOP_PX;
      const body = moved
        ? { stack: stackId, k, box: [...a, ...ij(viewer, canvas, event)] }
        : { stack: stackId, k, point: a };
      void segment(body, k);
    };
    // Capture on the viewport's parent: runs before any listener Cornerstone put on the
    // viewport element itself, whatever phase it chose.
    const host = element.parentElement ?? element;
    host.addEventListener("mousedown", onDown, true);
    return () => {
      host.removeEventListener("mousedown", onDown, true);
      window.removeEventListener("mousemove", onMove, true);
      window.removeEventListener("mouseup", onUp, true);
    };
  }, [enabled, elementRef]);

  return state;
}
