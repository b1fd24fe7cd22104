// The labeling workspace for one task: layout and tool state. Start-up and loading live in
// useViewerStartup.ts, keys in useWorkspaceKeys.ts, saving in useSaving.ts (+ store.ts), the
// side column in SidePanel.tsx, cine in CineControls.tsx, the mammography 2x2 in HangingView.tsx.
import { useCallback, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { Link } from "react-router";
import { annotation as csAnnotation } from "@cornerstonejs/tools";
import { api } from "../api";
import { ErrorAlert, Badge } from "../components/ui";
import { TOOL } from "../viewer/StackViewer";
import { maskLabelFor, useAiRegion } from "./aiRegion";
import { AiRegionOverlay, aiRegionStatus } from "./AiRegionOverlay";
import { CineControls, useCine } from "./CineControls";
import { findingSlice, toolForKind } from "./drawings";
import { HangingView } from "./HangingView";
import { HelpOverlay } from "./HelpOverlay";
import { SaveBanners } from "./SaveBanners";
import { CINE_SHORTCUTS, NAV_TOOLS, SHORTCUTS } from "./shortcuts";
import { SidePanel } from "./SidePanel";
import { FindingStore, type Entry } from "./store";
import type { AnnotationSet, Assignment, WindowPreset, WorkspaceData } from "./types";
import { useSaving } from "./useSaving";
import { useViewerStartup } from "./useViewerStartup";
import { useWorkspaceKeys } from "./useWorkspaceKeys";
import { ViewToolbar } from "./ViewToolbar";

export type { WorkspaceData, WorkspaceMarks } from "./types";
export { loadHanging } from "./hanging";

const EDITABLE_STATUSES = ["assigned", "in_progress", "returned"];
const DEFAULT_FRAME_RATE = 30;

/** Review mode: the set the reviewer edits (a reading chosen for correction, else the reference). */
function reviewEditSet(data: WorkspaceData): AnnotationSet | null {
  if (!data.review) return null;
  return data.sets.find((s) => s.id === data.editSetId) ?? data.sets.find((s) => s.kind === "reference") ?? null;
}

/** Whether a reviewer may edit `set`: an open reference, or a reading waiting for review. */
function reviewerCanEdit(set: AnnotationSet | null, data: WorkspaceData): boolean {
  if (!set) return false;
  if (set.kind === "reference") return !set.final && data.task.status !== "done";
  const reading = data.task.assignments.find((a) => a.id === set.assignment);
  return set.kind === "reader" && reading?.status === "submitted";
}

export function Workspace({ data, onEditSet }: { data: WorkspaceData; onEditSet?(setId: number | null): void }) {
  const { projectId, task, labels, series } = data;
  const labelsByKey = useMemo(() => new Map(labels.map((l) => [l.key, l])), [labels]);
  const [assignment, setAssignment] = useState<Assignment | null>(task.my_assignment);
  const editSet = reviewEditSet(data);
  const mySet = data.review ? editSet : (data.sets.find((s) => s.id === assignment?.annotation_set) ?? null);
  const editable = data.review
    ? reviewerCanEdit(editSet, data)
    : Boolean(assignment && mySet && EDITABLE_STATUSES.includes(assignment.status));
  const stack = series.stacks.find((s) => s.index === data.stackIndex) ?? series.stacks[0];
  const shape: [number, number, number] = [stack.size[2], stack.size[1], stack.size[0]];

  const elementRef = useRef<HTMLDivElement>(null);
  const [store] = useState(() => new FindingStore(projectId, mySet?.id ?? 0));
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot);

  const [inverted, setInverted] = useState(false);
  const [activeLabel, setActiveLabel] = useState<string | null>(null);
  const [navTool, setNavTool] = useState<string>(TOOL.windowLevel);
  const [eraser, setEraser] = useState(false);
  const [aiRegion, setAiRegion] = useState(false);
  const [brushSize, setBrushSize] = useState(4);
  const [help, setHelp] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);

  const activeLabelRef = useRef<string | null>(null);
  activeLabelRef.current = activeLabel;
  const editableRef = useRef(editable);
  editableRef.current = editable;

  const { viewerRef, masksRef, phase, loadError, count, loaded, k, voi, maskTick } = useViewerStartup({
    data,
    elementRef,
    store,
    mySet,
    labelsByKey,
    shape,
    editableRef,
    activeLabelRef,
    setSelected,
  });
  const ready = phase === "ready";
  const { submit, submitting, submitError, saveAll } = useSaving({
    projectId,
    assignment: data.review ? null : assignment,
    setAssignment,
    editable,
    store,
    viewerRef,
    masksRef,
  });

  // ---- review: switching the edited set, finalizing the reference ----
  const [finalizing, setFinalizing] = useState(false);
  const [adjudicationError, setAdjudicationError] = useState<unknown>(null);
  /** Put every pending edit on the server (before switching sets, accepting or finalizing). */
  const flushEdits = useCallback(async () => {
    await masksRef.current?.saveAll();
    await store.settle();
    if (store.hasUnsaved) throw new Error("Some changes are not saved yet. Resolve the message above first.");
  }, [masksRef, store]);
  const switchSet = useCallback(
    async (setId: number | null) => {
      setAdjudicationError(null);
      try {
        await flushEdits();
      } catch (err) {
        setAdjudicationError(err);
        return;
      }
      onEditSet?.(setId);
    },
    [flushEdits, onEditSet],
  );
  const finalize = async () => {
    setFinalizing(true);
    setAdjudicationError(null);
    try {
      await flushEdits();
      await api.post(`projects/${projectId}/tasks/${task.id}/reference/finalize/`, {});
      onEditSet?.(null); // reload: the reference is final (read-only) and the task done
    } catch (err) {
      setAdjudicationError(err);
      setFinalizing(false);
    }
  };
  const cine = useCine({
    viewerRef,
    ready,
    enabled: stack.role === "cine" && count > 1,
    frameTimeMs: stack.frame_time_ms,
    fallbackRate: data.display?.default_frame_rate ?? DEFAULT_FRAME_RATE,
  });

  // ---- tools ----
  const chooseLabel = useCallback(
    (key: string | null, erase = false) => {
      const viewer = viewerRef.current;
      if (!viewer || !ready) return;
      const label = key ? labelsByKey.get(key) : undefined;
      const tool = label ? toolForKind(label.kind) : null;
      if (!label || !tool) {
        setActiveLabel(key);
        return;
      }
      if (!editable) return;
      setActiveLabel(key);
      setAiRegion(false);
      if (label.kind === "mask") {
        masksRef.current?.activate(label);
        viewer.setPrimaryTool(erase ? TOOL.eraser : TOOL.brush);
        setEraser(erase);
      } else {
        viewer.setPrimaryTool(tool);
        setEraser(false);
      }
    },
    [labelsByKey, editable, ready, viewerRef, masksRef],
  );

  const chooseNavTool = useCallback(
    (tool: string) => {
      viewerRef.current?.setPrimaryTool(tool);
      setNavTool(tool);
      setActiveLabel(null);
      setEraser(false);
      setAiRegion(false);
    },
    [viewerRef],
  );

  /** The AI region tool on a mask label (the active one, else the first mask label). */
  const chooseAiRegion = useCallback(
    (key?: string | null) => {
      const mask = maskLabelFor(labels, labelsByKey.get(key ?? activeLabel ?? ""));
      const viewer = viewerRef.current;
      if (!mask || !viewer || !ready || !editable) return;
      chooseLabel(mask.key);
      viewer.setPrimaryTool(TOOL.windowLevel); // no brush cursor; left presses go to the tool
      setAiRegion(true);
    },
    [labelsByKey, activeLabel, labels, viewerRef, ready, editable, chooseLabel],
  );
  const ai = useAiRegion({
    enabled: aiRegion && editable && ready,
    elementRef,
    viewerRef,
    masksRef,
    store,
    projectId,
    taskId: task.id,
    stackId: stack.id,
    label: activeLabel ? labelsByKey.get(activeLabel) : undefined,
  });

  const applyPreset = useCallback((preset: WindowPreset) => viewerRef.current?.setWindow(preset.center, preset.width), [viewerRef]);

  const toggleInvert = useCallback(() => {
    const viewer = viewerRef.current;
    if (!viewer) return;
    viewer.setInvert(!viewer.inverted);
    // Relative to the natural display: MONOCHROME1 images start inverted by Cornerstone.
    setInverted((v) => !v);
  }, [viewerRef]);

  const reset = useCallback(() => {
    viewerRef.current?.reset();
    setInverted(false);
  }, [viewerRef]);

  const changeBrush = useCallback(
    (size: number) => {
      const next = Math.max(1, Math.min(64, size));
      setBrushSize(next);
      viewerRef.current?.setBrushSize(next);
    },
    [viewerRef],
  );

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
    [editable, store, viewerRef],
  );

  const goToEntry = useCallback(
    (entry: Entry) => {
      setSelected(entry.key);
      const slice = entry.finding ? findingSlice(entry.finding) : null;
      if (slice != null) void viewerRef.current?.scrollTo(slice);
    },
    [viewerRef],
  );

  // ---- derived view data ----
  const headerWindows = (series.display.windows ?? []).map((w, n) => ({
    ...w,
    name: `Hdr ${w.name ? w.name.replace(/_/g, " ").toLowerCase() : n + 1}`,
  }));
  const allPresets: WindowPreset[] = [...data.presets, ...headerWindows];
  const shortcuts = cine.enabled ? [...SHORTCUTS, ...CINE_SHORTCUTS] : SHORTCUTS;
  void maskTick; // mask layers changed: re-render the segment list

  useWorkspaceKeys({
    viewerRef,
    masksRef,
    store,
    ready,
    help,
    setHelp,
    count,
    labels,
    labelsByKey,
    activeLabel,
    selected,
    brushSize,
    presets: allPresets,
    applyPreset,
    chooseLabel,
    chooseNavTool,
    toggleInvert,
    reset,
    changeBrush,
    deleteSelected,
    toggleCine: cine.enabled ? cine.toggle : undefined,
    chooseAiRegion,
  });

  const status = snapshot.status;
  const statusText =
    status === "saving" ? "Saving…" : status === "saved" ? "Saved" : status === "error" ? "Error" : status === "conflict" ? "Changed elsewhere" : "No changes";

  const viewport = (
    <>
      <div ref={elementRef} className="ws-viewport" data-testid="viewport" onContextMenu={(e) => e.preventDefault()} />
      <div className="ws-overlay ws-overlay-tl">
        <div data-testid="slice-number">{count ? `${k + 1} / ${count}` : ""}</div>
        {loaded < count && ready && (
          <div className="muted" data-testid="stack-progress">
            Loading {loaded}/{count}
          </div>
        )}
      </div>
      <div className="ws-overlay ws-overlay-tr" data-testid="window-values">
        {voi ? `W ${Math.round(voi.width)} / L ${Math.round(voi.center)}` : ""}
        {inverted ? " · inverted" : ""}
      </div>
      <div className="ws-overlay ws-overlay-bl muted">
        {activeLabel ? `${labelsByKey.get(activeLabel)?.name ?? ""}${eraser ? " (eraser)" : aiRegion ? " (AI region)" : ""}` : NAV_TOOLS.find((t) => t.tool === navTool)?.name}
        <span data-testid="ai-region-status">{aiRegionStatus(aiRegion, ai)}</span>
      </div>
      <AiRegionOverlay on={aiRegion} state={ai} />
      {phase === "loading" && <div className="ws-overlay ws-center muted">Loading images…</div>}
      {phase === "error" && (
        <div className="ws-overlay ws-center" data-testid="load-error">
          <ErrorAlert error={loadError} />
        </div>
      )}
    </>
  );

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
        {editSet && (
          <Badge kind={editSet.final ? "succeeded" : "inuse"} testId="editing-set">
            {editSet.kind === "reference"
              ? editSet.final
                ? "final reference"
                : "editing the reference"
              : `correcting ${editSet.reader?.username ?? "a reading"}`}
          </Badge>
        )}
        {!editable && (
          <Badge kind="warning" testId="read-only">
            read-only
          </Badge>
        )}
        <span className={`ws-save ws-save-${status}`} data-testid="save-status" title={snapshot.message}>
          {statusText}
        </span>
        <button type="button" className="btn-ghost" onClick={() => setHelp(true)} data-testid="help-button" title="Keyboard shortcuts (?)">
          ?
        </button>
        {editable && editSet?.kind === "reference" && (
          <button type="button" className="btn-primary" onClick={finalize} disabled={finalizing || !ready} data-testid="finalize" title="Close the adjudication: the reference becomes final and the task done">
            {finalizing ? "Finalizing…" : "Finalize"}
          </button>
        )}
        {editable && !data.review && (
          <button type="button" className="btn-primary" onClick={submit} disabled={submitting || !ready} data-testid="submit">
            {submitting ? "Submitting…" : "Submit"}
          </button>
        )}
      </header>

      <SaveBanners snapshot={snapshot} store={store} saveAll={saveAll} submitError={submitError} assignment={assignment} />
      {adjudicationError != null && (
        <div className="ws-banner" data-testid="adjudication-error">
          <ErrorAlert error={adjudicationError} />
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
          {data.hanging ? (
            <HangingView cells={data.hanging} invert={Boolean(data.display?.invert)} active={viewport} />
          ) : (
            <div className="ws-viewport-wrap">{viewport}</div>
          )}
          {count > 1 && (
            <div className="ws-slider-row">
              {cine.enabled && <CineControls cine={cine} />}
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
            </div>
          )}
        </main>

        <SidePanel
          data={data}
          mySet={mySet}
          labelsByKey={labelsByKey}
          editable={editable}
          ready={ready}
          k={k}
          snapshot={snapshot}
          store={store}
          viewerRef={viewerRef}
          masks={masksRef.current}
          activeLabel={activeLabel}
          eraser={eraser}
          aiRegion={aiRegion}
          chooseAiRegion={chooseAiRegion}
          brushSize={brushSize}
          selected={selected}
          chooseLabel={chooseLabel}
          changeBrush={changeBrush}
          goToEntry={goToEntry}
          deleteSelected={deleteSelected}
          editSet={editSet}
          switchSet={switchSet}
          flushEdits={flushEdits}
        />
      </div>
      {help && <HelpOverlay shortcuts={shortcuts} onClose={() => setHelp(false)} />}
    </div>
  );
}
