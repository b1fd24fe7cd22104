// Viewer start-up and loading: the stack viewport, the reader's stored findings and masks, the
// drawing events that feed the save queue, the whole-stack load, and the test hooks.
import { useEffect, useRef, useState, type RefObject } from "react";
import { cache, type Types } from "@cornerstonejs/core";
import { annotation as csAnnotation, Enums as ToolEnums, segmentation } from "@cornerstonejs/tools";
import type { Label } from "../types";
import { canvasToIJ, ijToCanvas } from "../viewer/coords";
import { loadSeriesInOneRequest } from "../viewer/bulkLoad";
import { dicomwebRoot, loadStackImageIds } from "../viewer/dicomweb";
import { StackViewer, type Voi } from "../viewer/StackViewer";
import { ANSWER_KINDS, answerKey, fromFinding, parseColor, toFinding, toolForKind, type CsAnnotation } from "./drawings";
import { MaskLayers } from "./masks";
import type { FindingStore } from "./store";
import type { AnnotationSet, Finding, WorkspaceData, WorkspaceMarks } from "./types";

export type Phase = "loading" | "ready" | "error";

interface StartupArgs {
  data: WorkspaceData;
  elementRef: RefObject<HTMLDivElement | null>;
  store: FindingStore;
  mySet: AnnotationSet | null;
  labelsByKey: Map<string, Label>;
  shape: [number, number, number];
  /** Read at event time: the reading can become read-only (submitted) while the viewer lives. */
  editableRef: RefObject<boolean>;
  activeLabelRef: RefObject<string | null>;
  setSelected(key: string | null): void;
}

export interface ViewerState {
  viewerRef: RefObject<StackViewer | null>;
  masksRef: RefObject<MaskLayers | null>;
  phase: Phase;
  loadError: unknown;
  count: number;
  loaded: number;
  k: number;
  voi: Voi | null;
  maskTick: number;
}

export function useViewerStartup({ data, elementRef, store, mySet, labelsByKey, shape, editableRef, activeLabelRef, setSelected }: StartupArgs): ViewerState {
  const { projectId, frames } = data;
  const viewerRef = useRef<StackViewer | null>(null);
  const masksRef = useRef<MaskLayers | null>(null);
  const [phase, setPhase] = useState<Phase>("loading");
  const [loadError, setLoadError] = useState<unknown>(null);
  const [count, setCount] = useState(frames.frames.length);
  const [loaded, setLoaded] = useState(0);
  const [k, setK] = useState(0);
  const [voi, setVoi] = useState<Voi | null>(null);
  const [maskTick, setMaskTick] = useState(0);

  useEffect(() => {
    const element = elementRef.current;
    if (!element) return;
    const marks: WorkspaceMarks = { mounted: performance.now() };
    const viewer = new StackViewer(element);
    viewerRef.current = viewer;
    let cancelled = false;
    const controller = new AbortController();

    const styleAnnotation = (uid: string, label: Label, model: boolean) => {
      const color = parseColor(label.color).css;
      csAnnotation.config.style.setAnnotationStyles(uid, {
        color,
        colorHighlighted: color,
        colorLocked: color,
        colorSelected: "rgb(255, 255, 255)",
        ...(model ? { lineDash: "4,4" } : {}),
      });
    };

    (async () => {
      const ids = await loadStackImageIds(projectId, frames.study_instance_uid, frames.series_instance_uid, frames.frames, controller.signal);
      if (cancelled) return;
      setCount(ids.length);
      viewer.onSlice = setK;
      viewer.onVoi = setVoi;
      viewer.onFirstRender = () => {
        marks.firstImage = performance.now();
        performance.mark("workspace-first-image");
        element.dataset.rendered = "true";
      };
      // The whole stack in one bulk data request, alongside the shown slice's own request and
      // while findings and masks load (awaited last; a cancelled page drops it quietly).
      const seriesUrl = `${dicomwebRoot(projectId)}/studies/${frames.study_instance_uid}/series/${frames.series_instance_uid}`;
      const stackLoaded = loadSeriesInOneRequest(seriesUrl, ids, setLoaded, controller.signal);
      stackLoaded.catch(() => undefined);
      await viewer.open(ids, Math.min(Math.max(data.startSlice, 0), ids.length - 1));
      if (cancelled) return;
      const initial = data.presets.find((p) => p.name.toLowerCase() === data.initialWindow.toLowerCase());
      if (initial) viewer.setWindow(initial.center, initial.width);
      else setVoi(viewer.getVoi());
      if (data.display?.invert) viewer.setInvert(!viewer.inverted);
      viewer.setBrushSize(4);
      if (!editableRef.current) viewer.setReadOnly(true);
      setPhase("ready");

      // Stored findings of my reading (model pre-annotations included: source "model").
      const camera = viewer.viewport.getCamera() as { viewPlaneNormal: Types.Point3; viewUp: Types.Point3 };
      const masks = new MaskLayers(viewer, store, projectId, mySet?.id ?? 0, shape, !editableRef.current);
      masks.onChange = () => setMaskTick((t) => t + 1);
      masksRef.current = masks;
      const maskFindings: Finding[] = [];
      for (const finding of mySet?.annotations ?? []) {
        if (finding.deleted) continue;
        const label = labelsByKey.get(finding.label_key);
        if (!label) continue;
        if (label.kind === "mask") {
          maskFindings.push(finding);
        } else if (ANSWER_KINDS.includes(label.kind)) {
          store.adopt(answerKey(label, finding.slice_index), finding);
        } else {
          const uid = `finding-${finding.id}`;
          const drawn = fromFinding(finding, label, ids, camera, uid);
          if (!drawn) continue;
          csAnnotation.state.addAnnotation(drawn, element);
          if (!editableRef.current) csAnnotation.locking.setAnnotationLocked(uid, true);
          styleAnnotation(uid, label, finding.source === "model");
          store.adopt(uid, finding);
        }
      }
      await masks.load(maskFindings, labelsByKey);
      viewer.render();

      // Drawing events → saves.
      viewer.on(ToolEnums.Events.ANNOTATION_COMPLETED, (event) => {
        const drawn = (event as CustomEvent<{ annotation: CsAnnotation }>).detail.annotation;
        const uid = drawn.annotationUID;
        if (!uid || store.get(uid)) return;
        const label = labelsByKey.get(activeLabelRef.current ?? "");
        const payload = label && editableRef.current ? toFinding(drawn, label, ids) : null;
        if (!label || !payload || toolForKind(label.kind) !== drawn.metadata?.toolName) {
          csAnnotation.state.removeAnnotation(uid);
          viewer.render();
          return;
        }
        styleAnnotation(uid, label, false);
        store.put(uid, label.key, { ...payload, attributes: {} }, true);
        setSelected(uid);
      });
      const passive = new Set<string>([
        ToolEnums.ChangeTypes.StatsUpdated,
        ToolEnums.ChangeTypes.InitialSetup,
        ToolEnums.ChangeTypes.LabelChange,
        ToolEnums.ChangeTypes.MetadataReferenceModified,
      ]);
      viewer.on(ToolEnums.Events.ANNOTATION_MODIFIED, (event) => {
        const detail = (event as CustomEvent<{ annotation: CsAnnotation; changeType?: string }>).detail;
        // Statistics and set-up passes are not edits: a stored drawing must not be re-saved
        // (that would turn a model pre-annotation into a human one) just because it was shown.
        if (detail.changeType && passive.has(detail.changeType)) return;
        const drawn = detail.annotation;
        const uid = drawn.annotationUID;
        const entry = uid ? store.get(uid) : undefined;
        const label = entry ? labelsByKey.get(entry.labelKey) : undefined;
        if (!uid || !entry || !label || !editableRef.current) return;
        const payload = toFinding(drawn, label, ids);
        if (payload) store.put(uid, label.key, payload);
      });
      viewer.on(ToolEnums.Events.ANNOTATION_REMOVED, (event) => {
        const uid = (event as CustomEvent<{ annotation: CsAnnotation }>).detail.annotation.annotationUID;
        if (uid && store.get(uid) && editableRef.current) store.remove(uid);
      });

      await stackLoaded;
      marks.stackLoaded = performance.now();
      performance.mark("workspace-stack-loaded");
      element.dataset.stackLoaded = "true";
    })().catch((err: unknown) => {
      if (cancelled) return;
      setLoadError(err);
      setPhase("error");
    });

    // Hooks for tests and debugging: the viewport transform and the timing marks.
    (window as unknown as Record<string, unknown>).__workspace = {
      marks,
      viewer,
      store,
      masks: () => masksRef.current,
      toCanvas: (i: number, j: number, slice?: number) =>
        ijToCanvas(viewer.viewport, viewer.imageIds[slice ?? viewer.currentK], [i, j]),
      toIJ: (x: number, y: number) => canvasToIJ(viewer.viewport, viewer.currentImageId, [x, y]),
      annotations: () => csAnnotation.state.getAllAnnotations(),
      /** How many images of the stack are decoded in Cornerstone's cache. */
      cachedImages: () => viewer.imageIds.filter((id) => cache.getImage(id)).length,
      /** Painted voxels per labelmap segmentation (the reader's masks and review overlays). */
      segmentationVoxels: () =>
        Object.fromEntries(
          segmentation.state.getSegmentations().map((seg) => {
            let voxels = 0;
            for (const id of seg.representationData.Labelmap?.imageIds ?? []) {
              const image = cache.getImage(id);
              const values = image?.voxelManager?.getScalarData() as ArrayLike<number> | undefined;
              for (let n = 0; values && n < values.length; n++) if (values[n]) voxels += 1;
            }
            return [seg.segmentationId, voxels];
          }),
        ),
    };

    return () => {
      cancelled = true;
      controller.abort();
      viewer.destroy();
      csAnnotation.state.removeAllAnnotations();
      viewerRef.current = null;
      masksRef.current = null;
    };
    // The viewer is built once per task page; data does not change while it lives.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return { viewerRef, masksRef, phase, loadError, count, loaded, k, voi, maskTick };
}
