// Mask findings as Cornerstone labelmaps: one segmentation per (mask annotation, segment), so
// overlapping labels stay separate. A brush stroke marks the slice it touched; a save sends
// only those slices (PATCH annotations/{id}/mask/ in the wire format, If-Match the version).
import { api, API_BASE, ApiError, csrfToken } from "../api";
import type { Label } from "../types";
import { type StackViewer } from "../viewer/StackViewer";
import { parseColor } from "./drawings";
import { decodeMask, encodeMask, MASK_MEDIA_TYPE } from "./maskWire";
import type { FindingStore } from "./store";
import type { Finding } from "./types";

export interface MaskLayer {
  segmentationId: string;
  labelKey: string;
  segment: number;
  /** Store key of the mask annotation ("mask:<label>" until it exists, then kept). */
  entryKey: string;
  labelmapIds: string[];
  dirty: Set<number>;
  visible: boolean;
  locked: boolean;
  color: string;
  source: string;
}

const SAVE_DELAY_MS = 600;

/** Binary request with the session cookie, CSRF header and If-Match (api.ts speaks JSON only). */
async function sendMask(method: "GET" | "PATCH", url: string, body?: Uint8Array, version?: number): Promise<Response> {
  const headers: Record<string, string> = { Accept: MASK_MEDIA_TYPE };
  if (method !== "GET") {
    headers["X-CSRFToken"] = (await csrfToken()) ?? "";
    headers["Content-Type"] = MASK_MEDIA_TYPE;
  }
  if (version != null) headers["If-Match"] = `"${version}"`;
  const response = await fetch(url, { method, headers, body: body as BodyInit | undefined, credentials: "same-origin" });
  if (!response.ok) {
    let parsed: Record<string, unknown> | null = null;
    try {
      parsed = (await response.json()) as Record<string, unknown>;
    } catch {
      parsed = null;
    }
    throw new ApiError(response.status, parsed, `Mask request failed (HTTP ${response.status}).`);
  }
  return response;
}

export class MaskLayers {
  readonly layers: MaskLayer[] = [];
  private timer: number | null = null;
  private counter = 0;
  onChange: () => void = () => {};

  constructor(
    private readonly viewer: StackViewer,
    private readonly store: FindingStore,
    private readonly projectId: number,
    private readonly setId: number,
    private readonly shape: [number, number, number],
    private readonly readOnly: boolean,
    /** Paint every layer in this colour (a reviewer's per-reader overlays). */
    private readonly colour?: string,
  ) {
    viewer.onLabelmapModified((segmentationId) => this.modified(segmentationId));
  }

  private addLayer(label: Label, segment: number, entryKey: string, source: string): MaskLayer {
    this.counter += 1;
    const segmentationId = `mask-${label.key}-${segment}-${this.counter}`;
    const color = parseColor(this.colour ?? label.color);
    const labelmapIds = this.viewer.addLabelmap(segmentationId, label.name, [color.rgba[0], color.rgba[1], color.rgba[2], 150]);
    const layer: MaskLayer = {
      segmentationId,
      labelKey: label.key,
      segment,
      entryKey,
      labelmapIds,
      dirty: new Set(),
      visible: true,
      locked: this.readOnly,
      color: this.colour ?? label.color,
      source,
    };
    if (this.readOnly) this.viewer.setLabelmapLocked(segmentationId, true);
    this.layers.push(layer);
    return layer;
  }

  /** Show stored mask findings (their bits come from GET annotations/{id}/mask/). */
  async load(findings: Finding[], labels: Map<string, Label>): Promise<void> {
    for (const finding of findings) {
      const entryKey = `mask:${finding.id}`;
      this.store.adopt(entryKey, finding);
      const segments = ((finding.data.segments as { number: number; label: string }[]) ?? []).slice();
      const bySegment = new Map<number, MaskLayer>();
      for (const seg of segments) {
        const label = labels.get(seg.label) ?? labels.get(finding.label_key);
        if (!label) continue;
        bySegment.set(seg.number, this.addLayer(label, seg.number, entryKey, finding.source));
      }
      const response = await sendMask("GET", `${API_BASE}projects/${this.projectId}/annotations/${finding.id}/mask/`);
      const decoded = await decodeMask(await response.arrayBuffer());
      for (const slice of decoded.slices) {
        const layer = bySegment.get(slice.segment);
        const bits = slice.bits;
        if (layer && bits) this.quietly(() => this.viewer.setLabelmapSlice(layer.segmentationId, layer.labelmapIds[slice.k], bits));
      }
    }
    this.onChange();
  }

  /** The layer the brush paints for `label` (created, with its annotation on first paint). */
  layerFor(label: Label): MaskLayer {
    const existing = this.layers.find((l) => l.labelKey === label.key);
    if (existing) return existing;
    const layer = this.addLayer(label, 1, `mask:new:${label.key}`, "human");
    this.onChange();
    return layer;
  }

  activate(label: Label): void {
    this.viewer.setActiveLabelmap(this.layerFor(label).segmentationId);
  }

  setVisible(layer: MaskLayer, visible: boolean): void {
    layer.visible = visible;
    this.viewer.setLabelmapVisible(layer.segmentationId, visible);
    this.onChange();
  }

  setLocked(layer: MaskLayer, locked: boolean): void {
    layer.locked = locked;
    this.viewer.setLabelmapLocked(layer.segmentationId, locked);
    this.onChange();
  }

  private modified(segmentationId: string): void {
    if (this.readOnly || this.loading) return;
    const layer = this.layers.find((l) => l.segmentationId === segmentationId);
    if (!layer) return;
    layer.dirty.add(this.viewer.currentK);
    if (this.timer) window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      this.timer = null;
      void this.saveAll();
    }, SAVE_DELAY_MS);
    // The store shows "Saving…" while the debounce runs.
    void this.store.track(() => new Promise<void>((resolve) => window.setTimeout(resolve, SAVE_DELAY_MS)));
  }

  private loading = false;

  /** Send every dirty slice of every layer (one PATCH per mask annotation). */
  async saveAll(): Promise<void> {
    const byEntry = new Map<string, MaskLayer[]>();
    for (const layer of this.layers) {
      if (layer.dirty.size) byEntry.set(layer.entryKey, [...(byEntry.get(layer.entryKey) ?? []), layer]);
    }
    await Promise.all(
      [...byEntry.entries()].map(([entryKey, layers]) =>
        this.store.enqueue(entryKey, () => this.store.track(() => this.saveEntry(layers))),
      ),
    );
  }

  private async saveEntry(layers: MaskLayer[]): Promise<void> {
    let key = layers[0].entryKey;
    let entry = this.store.get(key);
    const taken = new Map<MaskLayer, number[]>();
    if (entry?.conflict) return;
    try {
      if (!entry?.finding) {
        // First paint of this label: create the mask finding, then send its bits.
        const response = await api.post<Finding>(`projects/${this.projectId}/annotation-sets/${this.setId}/annotations/`, {
          label_key: layers[0].labelKey,
          data: { segments: layers.map((l) => ({ number: l.segment, label: l.labelKey })) },
        });
        key = `mask:${response.id}`;
        for (const layer of layers) layer.entryKey = key;
        this.store.adopt(key, response);
        entry = this.store.get(key);
      }
      const finding = entry!.finding!;
      for (const layer of layers) {
        taken.set(layer, [...layer.dirty].sort((a, b) => a - b));
        layer.dirty.clear();
      }
      const slices = layers.flatMap((layer) =>
        (taken.get(layer) ?? []).map((k) => ({ segment: layer.segment, k, bits: this.viewer.labelmapSlice(layer.labelmapIds[k]) })),
      );
      if (!slices.length) return;
      const body = await encodeMask(this.shape, slices);
      const response = await sendMask(
        "PATCH",
        `${API_BASE}projects/${this.projectId}/annotations/${finding.id}/mask/`,
        body,
        finding.version,
      );
      const saved = (await response.json()) as { id: number; version: number; measurements: Finding["measurements"] };
      this.store.updateFinding(key, { version: saved.version, measurements: saved.measurements });
      this.store.markError(key, null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        const current = err.body?.current as { version?: number } | undefined;
        if (current?.version != null) this.store.updateFinding(key, { version: current.version });
        this.store.markConflict(key);
      } else {
        this.store.markError(key, err instanceof Error ? err.message : String(err));
      }
      // Keep the unsent slices dirty: "keep mine" or a retry sends them again.
      for (const [layer, ks] of taken) for (const k of ks) layer.dirty.add(k);
    }
    this.onChange();
  }

  /** Run `work` without marking slices dirty (loading stored bits). */
  quietly<T>(work: () => T): T {
    this.loading = true;
    try {
      return work();
    } finally {
      this.loading = false;
    }
  }
}
