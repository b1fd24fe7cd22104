// The labeling workspace for one task: a Cornerstone3D stack viewport, the label list with
// its tools, answer forms, the findings and segment lists, comments, autosave and submit.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { Link } from "react-router";
import { cache, imageLoader, type Types } from "@cornerstonejs/core";
import { annotation as csAnnotation, Enums as ToolEnums, segmentation } from "@cornerstonejs/tools";
import { api } from "../api";
import { ErrorAlert, Badge } from "../components/ui";
import type { Label } from "../types";
import { canvasToIJ, ijToCanvas } from "../viewer/coords";
import { loadStackImageIds } from "../viewer/dicomweb";
import { StackViewer, TOOL, type Voi } from "../viewer/StackViewer";
import { AnswerForm } from "./AnswerForm";
import { Comments } from "./Comments";
import { ANSWER_KINDS, findingSlice, fromFinding, parseColor, toFinding, toolForKind, type CsAnnotation } from "./drawings";
import { FindingsPanel } from "./FindingsPanel";
import { HelpOverlay } from "./HelpOverlay";
import { SegmentList } from "./SegmentList";
import { KIND_NAMES, NAV_TOOLS, SHORTCUTS, TOOL_KEYS } from "./shortcuts";
import { ViewToolbar } from "./ViewToolbar";
import { MaskLayers } from "./masks";
import { ReviewPanel } from "./ReviewPanel";
import { FindingStore, type Entry } from "./store";
import type { AnnotationSet, Assignment, Finding, SeriesDetail, StackFrames, Task, WindowPreset } from "./types";

export interface WorkspaceData {
  projectId: number;
  taskId: number;
  task: Task;
  labels: Label[];
  series: SeriesDetail;
  frames: StackFrames;
  sets: AnnotationSet[];
  presets: WindowPreset[];
  initialWindow: string;
  meId: number;
  review: boolean;
}

/** Timing marks (performance.now() ms) read by the end-to-end test. */
export interface WorkspaceMarks {
  mounted: number;
  firstImage?: number;
  stackLoaded?: number;
}

const EDITABLE_STATUSES = ["assigned", "in_progress", "returned"];


function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  const tag = el.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
}

export function Workspace({ data }: { data: WorkspaceData }) {
  const { projectId, taskId, task, labels, series, frames } = data;
  const labelsByKey = useMemo(() => new Map(labels.map((l) => [l.key, l])), [labels]);
  const [assignment, setAssignment] = useState<Assignment | null>(task.my_assignment);
  const mySet = data.sets.find((s) => s.id === assignment?.annotation_set) ?? null;
  const editable = Boolean(assignment && mySet && EDITABLE_STATUSES.includes(assignment.status) && !data.review);
  const stack = series.stacks.find((s) => s.index === 0) ?? series.stacks[0];
  const shape: [number, number, number] = [stack.size[2], stack.size[1], stack.size[0]];

  const elementRef = useRef<HTMLDivElement>(null);
  const viewerRef = useRef<StackViewer | null>(null);
  const masksRef = useRef<MaskLayers | null>(null);
  const [store] = useState(() => new FindingStore(projectId, mySet?.id ?? 0));
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot);

  const [phase, setPhase] = useState<"loading" | "ready" | "error">("loading");
  const [loadError, setLoadError] = useState<unknown>(null);
  const [count, setCount] = useState(frames.frames.length);
  const [loaded, setLoaded] = useState(0);
  const [k, setK] = useState(0);
  const [voi, setVoi] = useState<Voi | null>(null);
  const [inverted, setInverted] = useState(false);
  const [activeLabel, setActiveLabel] = useState<string | null>(null);
  const [navTool, setNavTool] = useState<string>(TOOL.windowLevel);
  const [eraser, setEraser] = useState(false);
  const [brushSize, setBrushSize] = useState(4);
  const [help, setHelp] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [maskTick, setMaskTick] = useState(0);
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [submitting, setSubmitting] = useState(false);
  const [sideTab, setSideTab] = useState<"labels" | "comments">("labels");

  const activeLabelRef = useRef<string | null>(null);
  activeLabelRef.current = activeLabel;
  const editableRef = useRef(editable);
  editableRef.current = editable;

  // ---- viewer start-up ----
  useEffect(() => {
    const element = elementRef.current;
    if (!element) return;
    const marks: WorkspaceMarks = { mounted: performance.now() };
    const viewer = new StackViewer(element);
    viewerRef.current = viewer;
    let cancelled = false;
    const controller = new AbortController();

    const uidLabels = new Map<string, string>();
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
      await viewer.open(ids, 0);
      if (cancelled) return;
      const initial = data.presets.find((p) => p.name.toLowerCase() === data.initialWindow.toLowerCase());
      if (initial) viewer.setWindow(initial.center, initial.width);
      else setVoi(viewer.getVoi());
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
          uidLabels.set(uid, label.key);
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
        uidLabels.set(uid, label.key);
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

      // Prefetch the whole stack (the viewport loads the shown slice first).
      let done = 0;
      await Promise.all(
        imageLoader.loadAndCacheImages(ids).map((p) =>
          p.then(
            () => setLoaded(++done),
            () => setLoaded(++done),
          ),
        ),
      );
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

  // ---- heartbeat every 60 s while the page is visible and the reading open ----
  useEffect(() => {
    if (!editable || !assignment) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") {
        api.post(`projects/${projectId}/assignments/${assignment.id}/heartbeat/`).catch(() => undefined);
      }
    }, 60_000);
    return () => window.clearInterval(id);
  }, [editable, assignment, projectId]);

  // ---- never drop unsaved work silently ----
  useEffect(() => {
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      if (store.hasUnsaved) {
        event.preventDefault();
      }
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => window.removeEventListener("beforeunload", onBeforeUnload);
  }, [store]);

  // ---- tools ----
  const chooseLabel = useCallback(
    (key: string | null, erase = false) => {
      const viewer = viewerRef.current;
      if (!viewer || phase !== "ready") return;
      const label = key ? labelsByKey.get(key) : undefined;
      const tool = label ? toolForKind(label.kind) : null;
      if (!label || !tool) {
        setActiveLabel(key);
        return;
      }
      if (!editable) return;
      setActiveLabel(key);
      if (label.kind === "mask") {
        masksRef.current?.activate(label);
        viewer.setPrimaryTool(erase ? TOOL.eraser : TOOL.brush);
        setEraser(erase);
      } else {
        viewer.setPrimaryTool(tool);
        setEraser(false);
      }
    },
    [labelsByKey, editable, phase],
  );

  const chooseNavTool = useCallback((tool: string) => {
    viewerRef.current?.setPrimaryTool(tool);
    setNavTool(tool);
    setActiveLabel(null);
    setEraser(false);
  }, []);

  const applyPreset = useCallback((preset: WindowPreset) => {
    viewerRef.current?.setWindow(preset.center, preset.width);
  }, []);

  const toggleInvert = useCallback(() => {
    const viewer = viewerRef.current;
    if (!viewer) return;
    viewer.setInvert(!viewer.inverted);
    setInverted(viewer.inverted);
  }, []);

  const reset = useCallback(() => {
    viewerRef.current?.reset();
    setInverted(false);
  }, []);

  const changeBrush = useCallback((size: number) => {
    const next = Math.max(1, Math.min(64, size));
    setBrushSize(next);
    viewerRef.current?.setBrushSize(next);
  }, []);

  const deleteSelected = useCallback(
    (key: string | null) => {
      if (!key || !editable) return;
      const entry = store.get(key);
      if (!entry) return;
      if (key.startsWith("mask:")) return; // masks are erased, not deleted
      csAnnotation.state.removeAnnotation(key);
      store.remove(key);
      viewerRef.current?.render();
      setSelected(null);
    },
    [editable, store],
  );

  const goToEntry = useCallback((entry: Entry) => {
    setSelected(entry.key);
    const slice = entry.finding ? findingSlice(entry.finding) : null;
    if (slice != null) void viewerRef.current?.scrollTo(slice);
  }, []);

  // ---- answers ----
  function answerKey(label: Label, slice: number | null): string {
    return label.scope === "image" ? `answer:${label.key}:${slice ?? 0}` : `answer:${label.key}`;
  }

  const onAnswer = (label: Label, answer: Record<string, unknown> | null, attributes: Record<string, unknown>) => {
    if (!editable) return;
    const key = answerKey(label, k);
    if (!answer) store.remove(key);
    else store.put(key, label.key, { data: answer, attributes, slice_index: label.scope === "image" ? k : null }, true);
  };

  // ---- submit ----
  const submit = async () => {
    if (!assignment) return;
    setSubmitting(true);
    setSubmitError(null);
    try {
      await masksRef.current?.saveAll();
      await store.settle();
      if (store.hasUnsaved) throw new Error("Some changes are not saved yet. Resolve the message above, then submit.");
      const updated = await api.post<Assignment>(`projects/${projectId}/assignments/${assignment.id}/submit/`, {});
      setAssignment(updated);
      viewerRef.current?.setReadOnly(true);
      for (const entry of store.all()) {
        if (!entry.key.startsWith("answer:") && !entry.key.startsWith("mask:")) csAnnotation.locking.setAnnotationLocked(entry.key, true);
      }
      for (const layer of masksRef.current?.layers ?? []) masksRef.current?.setLocked(layer, true);
    } catch (err) {
      setSubmitError(err);
    } finally {
      setSubmitting(false);
    }
  };

  // ---- keyboard ----
  const labelOrder = labels;
  const shortcuts = SHORTCUTS;

  const keyHandler = useRef<(event: KeyboardEvent) => void>(() => {});
  keyHandler.current = (event: KeyboardEvent) => {
    if (isTyping(event.target)) return;
    const key = event.key;
    if (key === "?" || (key === "Escape" && help)) {
      setHelp(key === "?" ? (h) => !h : false);
      event.preventDefault();
      return;
    }
    const viewer = viewerRef.current;
    if (!viewer || phase !== "ready") return;
    if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "s") {
      event.preventDefault();
      void masksRef.current?.saveAll();
      void store.settle();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.shiftKey && /^Digit[1-9]$/.test(event.code)) {
      const preset = allPresets[Number(event.code.slice(5)) - 1];
      if (preset) applyPreset(preset);
      event.preventDefault();
      return;
    }
    const lower = key.toLowerCase();
    let handled = true;
    switch (key) {
      case "ArrowUp":
      case "ArrowLeft":
        void viewer.scrollBy(-1);
        break;
      case "ArrowDown":
      case "ArrowRight":
        void viewer.scrollBy(1);
        break;
      case "PageUp":
        void viewer.scrollBy(-10);
        break;
      case "PageDown":
        void viewer.scrollBy(10);
        break;
      case "Home":
        void viewer.scrollTo(0);
        break;
      case "End":
        void viewer.scrollTo(count - 1);
        break;
      case "Escape":
        chooseNavTool(TOOL.windowLevel);
        break;
      case "+":
      case "=":
        viewer.zoomBy(1.25);
        break;
      case "-":
        viewer.zoomBy(0.8);
        break;
      case "[":
        changeBrush(brushSize - 2);
        break;
      case "]":
        changeBrush(brushSize + 2);
        break;
      case "Delete":
      case "Backspace":
        deleteSelected(csAnnotation.selection.getAnnotationsSelected()[0] ?? selected);
        break;
      default:
        handled = false;
    }
    if (!handled && !event.shiftKey) {
      handled = true;
      if (/^[1-9]$/.test(key)) {
        const label = labelOrder[Number(key) - 1];
        if (label) chooseLabel(label.key);
      } else if (lower === "w" || lower === "p" || lower === "z") {
        chooseNavTool(NAV_TOOLS.find((t) => t.key === lower)!.tool);
      } else if (lower === "i") {
        toggleInvert();
      } else if (lower === "r") {
        reset();
      } else if (lower === "e") {
        const current = activeLabel ? labelsByKey.get(activeLabel) : undefined;
        const mask = current?.kind === "mask" ? current : labels.find((l) => l.kind === "mask");
        if (mask) chooseLabel(mask.key, true);
      } else if (TOOL_KEYS[lower]) {
        const kind = TOOL_KEYS[lower];
        const current = activeLabel ? labelsByKey.get(activeLabel) : undefined;
        const label = current?.kind === kind ? current : labels.find((l) => l.kind === kind);
        if (label) chooseLabel(label.key);
      } else {
        handled = false;
      }
    }
    if (handled) event.preventDefault();
  };
  useEffect(() => {
    const listener = (event: KeyboardEvent) => keyHandler.current(event);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);

  // ---- derived view data ----
  const headerWindows = (series.display.windows ?? []).map((w, n) => ({
    ...w,
    name: `Hdr ${w.name ? w.name.replace(/_/g, " ").toLowerCase() : n + 1}`,
  }));
  const allPresets: WindowPreset[] = [...data.presets, ...headerWindows];
  const drawingLabels = labels.filter((l) => !ANSWER_KINDS.includes(l.kind));
  const answerLabels = labels.filter((l) => ANSWER_KINDS.includes(l.kind));
  const findingEntries = snapshot.entries.filter((e) => !e.key.startsWith("answer:"));
  const layers = masksRef.current?.layers ?? [];
  void maskTick;
  const status = snapshot.status;
  const statusText =
    status === "saving" ? "Saving…" : status === "saved" ? "Saved" : status === "error" ? "Error" : status === "conflict" ? "Changed elsewhere" : "No changes";
  const reviewing = data.review;

  return (
    <div className="ws" data-testid="workspace">
      <header className="ws-header">
        <Link to={`/projects/${projectId}`} className="ws-back" data-testid="workspace-back">
          ← Project
        </Link>
        <div className="ws-title" data-testid="workspace-title">
          <strong>Task {task.id}</strong> · {series.modality} · {series.description || task.study.description}
        </div>
        {assignment && (
          <Badge kind={assignment.status === "returned" ? "danger" : "neutral"} testId="assignment-status">
            {assignment.status.replace("_", " ")}
          </Badge>
        )}
        {!editable && <Badge kind="warning" testId="read-only">read-only</Badge>}
        <span className={`ws-save ws-save-${status}`} data-testid="save-status" title={snapshot.message}>
          {statusText}
        </span>
        <button type="button" className="btn-ghost" onClick={() => setHelp(true)} data-testid="help-button" title="Keyboard shortcuts (?)">
          ?
        </button>
        {editable && (
          <button type="button" className="btn-primary" onClick={submit} disabled={submitting || phase !== "ready"} data-testid="submit">
            {submitting ? "Submitting…" : "Submit"}
          </button>
        )}
      </header>

      {status === "conflict" && (
        <div className="alert alert-warning ws-banner" data-testid="conflict">
          Someone changed this reading elsewhere (another tab or a reviewer). Your local change is kept.
          <div className="alert-actions">
            <button type="button" onClick={() => window.location.reload()} data-testid="conflict-reload">
              Reload (discard my unsaved change)
            </button>
            <button
              type="button"
              onClick={() => {
                store.overwriteConflicts();
                void masksRef.current?.saveAll();
              }}
              data-testid="conflict-keep"
            >
              Keep mine (save over it)
            </button>
          </div>
        </div>
      )}
      {status === "error" && (
        <div className="alert alert-error ws-banner" data-testid="save-error">
          Saving failed: {snapshot.message}
          <div className="alert-actions">
            <button
              type="button"
              onClick={() => {
                store.retry();
                void masksRef.current?.saveAll();
              }}
              data-testid="save-retry"
            >
              Retry
            </button>
          </div>
        </div>
      )}
      {submitError != null && (
        <div className="ws-banner" data-testid="submit-error">
          <ErrorAlert error={submitError} showFieldErrors />
        </div>
      )}
      {assignment?.status === "returned" && assignment.review_comment && (
        <div className="alert alert-warning ws-banner" data-testid="review-comment">
          Returned by the reviewer: {assignment.review_comment}
        </div>
      )}

      <div className="ws-body">
        <ViewToolbar
          activeLabel={activeLabel}
          navTool={navTool}
          inverted={inverted}
          voi={voi}
          presets={allPresets}
          chooseNavTool={chooseNavTool}
          zoomBy={(factor) => viewerRef.current?.zoomBy(factor)}
          toggleInvert={toggleInvert}
          reset={reset}
          applyPreset={applyPreset}
        />

        <main className="ws-main">
          <div className="ws-viewport-wrap">
            <div
              ref={elementRef}
              className="ws-viewport"
              data-testid="viewport"
              onContextMenu={(e) => e.preventDefault()}
            />
            <div className="ws-overlay ws-overlay-tl">
              <div data-testid="slice-number">
                {count ? `${k + 1} / ${count}` : ""}
              </div>
              {loaded < count && phase === "ready" && <div className="muted" data-testid="stack-progress">Loading {loaded}/{count}</div>}
            </div>
            <div className="ws-overlay ws-overlay-tr" data-testid="window-values">
              {voi ? `W ${Math.round(voi.width)} / L ${Math.round(voi.center)}` : ""}
              {inverted ? " · inverted" : ""}
            </div>
            <div className="ws-overlay ws-overlay-bl muted">
              {activeLabel ? `${labelsByKey.get(activeLabel)?.name ?? ""}${eraser ? " (eraser)" : ""}` : NAV_TOOLS.find((t) => t.tool === navTool)?.name}
            </div>
            {phase === "loading" && <div className="ws-overlay ws-center muted">Loading images…</div>}
            {phase === "error" && (
              <div className="ws-overlay ws-center" data-testid="load-error">
                <ErrorAlert error={loadError} />
              </div>
            )}
          </div>
          {count > 1 && (
            <input
              type="range"
              className="ws-slider"
              min={0}
              max={count - 1}
              value={k}
              onChange={(e) => void viewerRef.current?.scrollTo(Number(e.target.value))}
              aria-label="Slice"
              data-testid="slice-slider"
            />
          )}
        </main>

        <aside className="ws-side">
          <div className="ws-tabs">
            <button type="button" className={sideTab === "labels" ? "active" : ""} onClick={() => setSideTab("labels")} data-testid="side-labels">
              Labels
            </button>
            <button type="button" className={sideTab === "comments" ? "active" : ""} onClick={() => setSideTab("comments")} data-testid="side-comments">
              Comments
            </button>
          </div>
          {sideTab === "comments" ? (
            <Comments projectId={projectId} taskId={taskId} />
          ) : (
            <>
              {reviewing && <ReviewPanel data={data} viewerRef={viewerRef} />}
              {(!reviewing || mySet) && (
                <>
                  <section>
                    <h3>Draw</h3>
                    <ul className="ws-labels" data-testid="label-list">
                      {drawingLabels.map((label) => {
                        const n = labelOrder.indexOf(label) + 1;
                        return (
                          <li key={label.key}>
                            <button
                              type="button"
                              className={activeLabel === label.key ? "active" : ""}
                              disabled={!editable || phase !== "ready"}
                              onClick={() => chooseLabel(label.key)}
                              data-testid={`label-${label.key}`}
                              title={label.description || label.name}
                            >
                              <span className="ws-swatch" style={{ background: label.color }} />
                              <span className="ws-label-name">{label.name}</span>
                              <span className="muted">
                                {KIND_NAMES[label.kind] ?? label.kind}
                                {label.scope === "series" && label.kind !== "mask" ? " 3D" : ""}
                              </span>
                              {n <= 9 && <kbd>{n}</kbd>}
                            </button>
                          </li>
                        );
                      })}
                    </ul>
                    {activeLabel && labelsByKey.get(activeLabel)?.kind === "mask" && (
                      <div className="ws-brush" data-testid="brush-options">
                        <button type="button" className={!eraser ? "active" : ""} onClick={() => chooseLabel(activeLabel)} data-testid="brush">
                          Brush
                        </button>
                        <button type="button" className={eraser ? "active" : ""} onClick={() => chooseLabel(activeLabel, true)} data-testid="eraser">
                          Eraser
                        </button>
                        <label className="field-inline">
                          Size
                          <input type="range" min={1} max={64} value={brushSize} onChange={(e) => changeBrush(Number(e.target.value))} data-testid="brush-size" />
                          <span className="mono">{brushSize}</span>
                        </label>
                      </div>
                    )}
                  </section>

                  {layers.length > 0 && <SegmentList layers={layers} labelsByKey={labelsByKey} editable={editable} masks={masksRef.current} />}

                  {answerLabels.length > 0 && (
                    <section>
                      <h3>Answers</h3>
                      {answerLabels.map((label) => {
                        const entry = snapshot.entries.find((e) => e.key === answerKey(label, k));
                        const current = entry?.pending?.data ?? entry?.finding?.data ?? null;
                        const attributes = entry?.pending?.attributes ?? entry?.finding?.attributes ?? {};
                        return (
                          <AnswerForm
                            key={`${label.key}:${label.scope === "image" ? k : ""}:${entry?.finding?.id ?? "new"}`}
                            label={label}
                            data={current}
                            attributes={attributes}
                            readOnly={!editable}
                            source={entry?.finding?.source}
                            sliceNote={label.scope === "image" ? `(slice ${k + 1})` : undefined}
                            onAnswer={(answer, attrs) => onAnswer(label, answer, attrs)}
                          />
                        );
                      })}
                    </section>
                  )}

                  <FindingsPanel
                    entries={findingEntries}
                    labelsByKey={labelsByKey}
                    selected={selected}
                    editable={editable}
                    goToEntry={goToEntry}
                    deleteSelected={deleteSelected}
                    setAttributes={(key, values) => store.putAttributes(key, values)}
                  />
                </>
              )}
            </>
          )}
        </aside>
      </div>
      {help && <HelpOverlay shortcuts={shortcuts} onClose={() => setHelp(false)} />}
    </div>
  );
}
