// Review (?review=1): every reader's set as a toggleable overlay (one colour per reader),
// Accept / Reject-with-comment per submitted reading, "Edit this reading" (a reviewer corrects a
// submitted reading before accepting it) and adjudication: start the reference from one reading
// or a merge of all; the workspace then edits the reference until "Finalize" closes the task.
import { useRef, useState, type RefObject } from "react";
import type { Types } from "@cornerstonejs/core";
import { annotation as csAnnotation } from "@cornerstonejs/tools";
import { api } from "../api";
import { ErrorAlert } from "../components/ui";
import type { StackViewer } from "../viewer/StackViewer";
import type { Label } from "../types";
import { formatMeasurements, fromFinding } from "./drawings";
import { MaskLayers } from "./masks";
import { FindingStore } from "./store";
import type { AnnotationSet, Assignment, Finding } from "./types";

/** A reading's answer or measurement in a few words. */
function describe(finding: Finding, label: Label | undefined): string {
  const data = finding.data as { value?: string; values?: string[]; text?: string };
  const option = (v: string) => label?.options.find((o) => o.value === v)?.label ?? v;
  if (typeof data.value === "string") return option(data.value);
  if (Array.isArray(data.values)) return data.values.map(option).join(", ");
  if (typeof data.text === "string") return data.text;
  return formatMeasurements(finding.measurements);
}
import type { WorkspaceData } from "./Workspace";

const READER_COLORS = ["#4cc2ff", "#f5b73b", "#ff6b6b", "#4fd18b", "#c08cff", "#ff8fd1"];

const HANDED_IN = ["submitted", "accepted"];

interface ReviewPanelProps {
  data: WorkspaceData;
  viewerRef: RefObject<StackViewer | null>;
  /** The set the workspace edits (the reference, or a reading under correction), if any. */
  editSet: AnnotationSet | null;
  /** Edit another set (null: the reference when there is one); saves pending edits first. */
  switchSet(setId: number | null): Promise<void>;
  flushEdits(): Promise<void>;
}

function setName(set: AnnotationSet): string {
  if (set.reader) return set.reader.username;
  return set.kind === "model" ? "the model" : set.kind === "import" ? "the import" : set.kind;
}

export function ReviewPanel({ data, viewerRef, editSet, switchSet, flushEdits }: ReviewPanelProps) {
  const labels = new Map(data.labels.map((l) => [l.key, l]));
  const [shown, setShown] = useState<Record<number, boolean>>({});
  const [assignments, setAssignments] = useState<Assignment[]>(data.task.assignments);
  const [comments, setComments] = useState<Record<number, string>>({});
  const [error, setError] = useState<unknown>(null);
  const sets = data.sets.filter((s) => s.annotations.length > 0 || s.assignment);
  const reference = data.sets.find((s) => s.kind === "reference") ?? null;
  const [starting, setStarting] = useState(false);
  const closed = data.task.status === "done" || data.task.status === "skipped";
  const handedIn = assignments.filter((a) => HANDED_IN.includes(a.status));
  const required = Math.max(assignments.length, 1);
  // Sources a reference may start from: handed-in readings, the model's or an import's set.
  const sources = data.sets.filter((s) =>
    s.kind === "reader" ? handedIn.some((a) => a.id === s.assignment) : s.kind === "model" || s.kind === "import",
  );

  const startReference = async (fromSet: number | null) => {
    setError(null);
    setStarting(true);
    try {
      await flushEdits();
      await api.post<AnnotationSet>(`projects/${data.projectId}/tasks/${data.taskId}/reference/`, fromSet == null ? {} : { from_set: fromSet });
      await switchSet(null); // the workspace reopens on the new reference
    } catch (err) {
      setError(err);
      setStarting(false);
    }
  };

  const overlays = useRef(new Map<number, MaskLayers>());

  const toggle = (setId: number, colour: string) => {
    const viewer = viewerRef.current;
    if (!viewer) return;
    const set = data.sets.find((s) => s.id === setId);
    if (!set) return;
    const on = !shown[setId];
    // Masks: one read-only layer set per reading, in the reader's colour.
    const existing = overlays.current.get(setId);
    if (existing) {
      for (const layer of existing.layers) existing.setVisible(layer, on);
    } else if (on) {
      const masks = set.annotations.filter((a) => !a.deleted && labels.get(a.label_key)?.kind === "mask");
      if (masks.length) {
        const stack = data.series.stacks.find((s) => s.index === data.stackIndex) ?? data.series.stacks[0];
        const layers = new MaskLayers(
          viewer,
          new FindingStore(data.projectId, setId),
          data.projectId,
          setId,
          [stack.size[2], stack.size[1], stack.size[0]],
          true,
          colour,
        );
        overlays.current.set(setId, layers);
        layers.load(masks, labels).then(
          () => viewer.render(),
          (err: unknown) => setError(err),
        );
      }
    }
    const camera = viewer.viewport.getCamera() as { viewPlaneNormal: Types.Point3; viewUp: Types.Point3 };
    for (const finding of set.annotations) {
      const label = labels.get(finding.label_key);
      const uid = `review-${setId}-${finding.id}`;
      if (!label || finding.deleted) continue;
      if (!on) {
        csAnnotation.state.removeAnnotation(uid);
        continue;
      }
      const drawn = fromFinding(finding, label, viewer.imageIds, camera, uid);
      if (!drawn) continue;
      csAnnotation.state.addAnnotation(drawn, viewer.element);
      csAnnotation.locking.setAnnotationLocked(uid, true);
      csAnnotation.config.style.setAnnotationStyles(uid, { color: colour, colorHighlighted: colour, colorLocked: colour });
    }
    viewer.render();
    setShown((s) => ({ ...s, [setId]: on }));
  };

  const review = async (assignment: Assignment, decision: "accept" | "reject") => {
    setError(null);
    const correcting = editSet != null && editSet.assignment === assignment.id;
    try {
      if (correcting) await flushEdits(); // the corrections go in before the decision
      const updated = await api.post<Assignment>(`projects/${data.projectId}/assignments/${assignment.id}/review/`, {
        decision,
        comment: comments[assignment.id] ?? "",
      });
      setAssignments((all) => all.map((a) => (a.id === updated.id ? updated : a)));
      if (correcting) await switchSet(null); // no longer editable: reopen read-only
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="ws-review" data-testid="review-panel">
      <div className="ws-adjudication" data-testid="adjudication">
        <h3>Reference</h3>
        <div className="muted" data-testid="handed-in">
          {handedIn.length} of {required} readings handed in
        </div>
        {reference ? (
          <div data-testid="reference-state">
            {reference.final ? "Final" : "Open"}
            {editSet?.id === reference.id ? "" : ` · ${reference.annotations.filter((a) => !a.deleted).length} findings`} · from{" "}
            {reference.based_on ? setName(data.sets.find((s) => s.id === reference.based_on) ?? reference) : "a merge"}
            {editSet && editSet.id !== reference.id && (
              <div>
                <button type="button" className="btn-small" onClick={() => void switchSet(null)} data-testid="reference-edit">
                  Back to the reference
                </button>
              </div>
            )}
          </div>
        ) : closed ? (
          <div className="muted">The task is {data.task.status}.</div>
        ) : (
          <div className="ws-adjudication-start">
            <button
              type="button"
              className="btn-small"
              disabled={starting || handedIn.length === 0}
              onClick={() => void startReference(null)}
              data-testid="reference-merge"
              title="Majority vote for answers and masks; drawings pooled for you to prune"
            >
              Start reference from a merge
            </button>
            {sources.map((set) => (
              <button
                key={set.id}
                type="button"
                className="btn-small"
                disabled={starting}
                onClick={() => void startReference(set.id)}
                data-testid="reference-from"
              >
                Start reference from {setName(set)}
              </button>
            ))}
          </div>
        )}
      </div>
      <h3>Readings</h3>
      <ErrorAlert error={error} testId="review-error" />
      <ul>
        {sets.map((set, n) => {
          const colour = READER_COLORS[n % READER_COLORS.length];
          const assignment = assignments.find((a) => a.id === set.assignment);
          const editing = editSet?.id === set.id;
          return (
            <li key={set.id} data-testid="review-set" className={editing ? "ws-review-editing" : undefined}>
              <label className="checkbox" title={editing ? "Being edited: shown as the editable drawings" : undefined}>
                <input
                  type="checkbox"
                  checked={Boolean(shown[set.id])}
                  disabled={editing}
                  onChange={() => toggle(set.id, colour)}
                  data-testid="review-toggle"
                />
                <span className="ws-swatch" style={{ background: colour }} />
                {set.reader?.username ?? set.kind}
                {editing ? " · editing" : ` · ${set.annotations.filter((a) => !a.deleted).length} findings`}
              </label>
              {editing && <div className="muted">Being edited: its findings are listed under Findings.</div>}
              <ul className="ws-review-findings" data-testid="review-findings">
                {(editing ? [] : set.annotations)
                  .filter((a) => !a.deleted)
                  .map((a) => (
                    <li key={a.id}>
                      {labels.get(a.label_key)?.name ?? a.label_key}
                      {a.slice_index != null && <span className="muted"> #{a.slice_index + 1}</span>}
                      <span className="muted mono"> {describe(a, labels.get(a.label_key))}</span>
                    </li>
                  ))}
              </ul>
              {assignment && (
                <div className="ws-review-actions">
                  <span className="badge badge-neutral" data-testid="review-status">
                    {assignment.status}
                  </span>
                  {assignment.status === "submitted" && (
                    <>
                      <button
                        type="button"
                        className={`btn-small${editing ? " active" : ""}`}
                        aria-pressed={editing}
                        onClick={() => void switchSet(editing ? null : set.id)}
                        data-testid="review-edit"
                        title="Correct this reading before accepting it (your edits are saved in it)"
                      >
                        {editing ? "Stop editing" : "Edit this reading"}
                      </button>
                      <textarea
                        rows={2}
                        placeholder="Comment (required to reject)"
                        value={comments[assignment.id] ?? ""}
                        onChange={(e) => setComments((c) => ({ ...c, [assignment.id]: e.target.value }))}
                        data-testid="review-comment-text"
                      />
                      <button type="button" className="btn-primary btn-small" onClick={() => review(assignment, "accept")} data-testid="review-accept">
                        Accept
                      </button>
                      <button
                        type="button"
                        className="btn-danger btn-small"
                        disabled={!(comments[assignment.id] ?? "").trim()}
                        onClick={() => review(assignment, "reject")}
                        data-testid="review-reject"
                      >
                        Reject
                      </button>
                    </>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
